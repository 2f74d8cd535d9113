"""Feast objects of the quizops feature repository: entities, sources and feature views.

Three entities: the pseudonymous student (``student_pseudonym``, the PII stage's HMAC pseudonym),
the item (``item_id``, the source's own id) and the fitted tracer (``tracer_version``, a content
hash). A state is keyed by student *and* tracer version: a state is only meaningful to the tracer
that computed it, and keeping each version's states apart lets a champion and a canary (or the
old and new policy during a rollout) each continue their own. Two feature views:

* ``student_state``: a student's knowledge state after each answer, as the shared feature code
  (:mod:`quizops.features`) computes it: the state vector (``state``, float64, exactly the
  tracer's numbers), counts, recency, the request ids of the last answers applied online
  (idempotency). Its batch source holds one row
  per answer (point-in-time training examples); a push source lets the predictor write the new
  state back.
* ``item_params``: the item bank's fitted parameters: primary skill, attempts, difficulty and,
  per skill the item is tagged with, the tracer's guess, slip and teaching rate.

Feast is imported inside the functions: importing it costs about 3 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

#: Feast project name.
PROJECT = "quizops"
#: Entity names and join keys.
STUDENT_ENTITY = "student"
STUDENT_KEY = "student_pseudonym"
ITEM_ENTITY = "item"
ITEM_KEY = "item_id"
TRACER_ENTITY = "tracer"
TRACER_KEY = "tracer_version"
#: Feature view, push source and file names.
STUDENT_VIEW = "student_state"
STUDENT_PUSH = "student_state_push"
ITEM_VIEW = "item_params"
STUDENT_FILE = "student_state.parquet"
ITEM_FILE = "item_params.parquet"
#: Event timestamp column of both sources.
EVENT_TIMESTAMP = "event_timestamp"
#: Features of ``student_state`` (name -> Feast type name).
STUDENT_FEATURES: dict[str, str] = {
    "state": "Array(Float64)",
    "n_answers": "Int64",
    "n_correct": "Int64",
    "last_item_id": "String",
    "last_answer_ms": "Int64",
    "recent_request_ids": "Array(String)",
}
#: Features of ``item_params`` (name -> Feast type name).
ITEM_FEATURES: dict[str, str] = {
    "skill_index": "Int64",
    "attempts": "Int64",
    "difficulty": "Float64",
    "tag_skills": "Array(Int64)",
    "tag_guess": "Array(Float64)",
    "tag_slip": "Array(Float64)",
    "tag_teach": "Array(Float64)",
}


def _feast_type(name: str) -> Any:
    from feast.types import Array, Float64, Int64, String

    scalar = {"Float64": Float64, "Int64": Int64, "String": String}
    if name.startswith("Array(") and name.endswith(")"):
        return Array(scalar[name[6:-1]])
    return scalar[name]


@dataclass(frozen=True)
class FeatureDefinitions:
    """The Feast objects of the repository, built for one offline location.

    Attributes:
        student: Student entity.
        item: Item entity.
        tracer: Tracer-version entity.
        student_source: Batch source of student states (one row per answer).
        student_push: Push source the predictor writes new states to.
        student_view: Student state feature view.
        item_source: Batch source of item parameters.
        item_view: Item parameter feature view.
    """

    student: Any
    item: Any
    tracer: Any
    student_source: Any
    student_push: Any
    student_view: Any
    item_source: Any
    item_view: Any

    def objects(self) -> list[Any]:
        """Returns every object to ``FeatureStore.apply``."""
        return [
            self.student,
            self.item,
            self.tracer,
            self.student_source,
            self.student_push,
            self.student_view,
            self.item_source,
            self.item_view,
        ]


def offline_paths(offline_root: str) -> tuple[str, str]:
    """Returns the student-state and item-parameter file locations under an offline root.

    Args:
        offline_root: Local folder or ``gs://`` prefix.

    Returns:
        ``(student_state_path, item_params_path)``.
    """
    if "://" in offline_root:
        root = offline_root.rstrip("/")
        return f"{root}/{STUDENT_FILE}", f"{root}/{ITEM_FILE}"
    root_path = Path(offline_root).resolve()
    return str(root_path / STUDENT_FILE), str(root_path / ITEM_FILE)


def build_definitions(offline_root: str) -> FeatureDefinitions:
    """Builds the Feast objects with file sources under ``offline_root``.

    Args:
        offline_root: Folder (or ``gs://`` prefix) of the offline Parquet files.

    Returns:
        The definitions.
    """
    from feast import Entity, FeatureView, Field, FileSource, PushSource
    from feast.value_type import ValueType

    student_path, item_path = offline_paths(offline_root)
    student = Entity(
        name=STUDENT_ENTITY,
        join_keys=[STUDENT_KEY],
        value_type=ValueType.STRING,
        description="Pseudonymous student (HMAC-SHA256 pseudonym of the PII stage)",
    )
    tracer = Entity(
        name=TRACER_ENTITY,
        join_keys=[TRACER_KEY],
        value_type=ValueType.STRING,
        description="Fitted knowledge tracer (hash of its parameters, quizops.featurestore.state)",
    )
    item = Entity(
        name=ITEM_ENTITY,
        join_keys=[ITEM_KEY],
        value_type=ValueType.STRING,
        description="Item of the bank (the source's own id)",
    )
    student_source = FileSource(
        name="student_state_source", path=student_path, timestamp_field=EVENT_TIMESTAMP
    )
    student_push = PushSource(name=STUDENT_PUSH, batch_source=student_source)
    student_view = FeatureView(
        name=STUDENT_VIEW,
        entities=[student, tracer],
        ttl=timedelta(0),  # a knowledge state does not expire
        schema=[Field(name=n, dtype=_feast_type(t)) for n, t in STUDENT_FEATURES.items()],
        source=student_push,
        online=True,
        description="Knowledge state after each answer (quizops.features tracer)",
    )
    item_source = FileSource(
        name="item_params_source", path=item_path, timestamp_field=EVENT_TIMESTAMP
    )
    item_view = FeatureView(
        name=ITEM_VIEW,
        entities=[item, tracer],
        ttl=timedelta(0),
        schema=[Field(name=n, dtype=_feast_type(t)) for n, t in ITEM_FEATURES.items()],
        source=item_source,
        online=True,
        description="Fitted item-bank parameters of the training run",
    )
    return FeatureDefinitions(
        student, item, tracer, student_source, student_push, student_view, item_source, item_view
    )
