"""The feature set training and evaluation read: tracer, item bank and logged examples."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quizops.errors import InputDataError
from quizops.features.fit import (
    fit_tracer,
    named_prerequisites,
    sort_log,
    untraceable_skills,
    without_skills,
)
from quizops.features.tracer import KnowledgeTracer, first_rows_of_answers

logger = logging.getLogger(__name__)

#: Version of the feature spec written beside the feature set (and logged to MLflow).
FEATURE_SPEC_VERSION = "quizops.features/v2"
#: Columns of the (de-identified) interaction table kept with the features, for fitting
#: simulators in training and for the evaluation's off-policy estimates: ``propensity`` is the
#: logging propensity where the log has one (simulated logs; answers a served decision produced,
#: see :func:`quizops.ingest.serving_logs.attach_served_decisions`), NaN elsewhere (real
#: exports); the ``served_*`` columns name the policy version and variant that served the row.
INTERACTION_COLUMNS = [
    "student_id",
    "interaction_id",
    "item_id",
    "skill_id",
    "correct",
    "timestamp",
    "propensity",
    "served_policy_version",
    "served_variant",
]


@dataclass(frozen=True)
class FeatureSet:
    """What feature engineering hands to training.

    Attributes:
        tracer: The fitted knowledge tracer.
        items: Item bank: item_id, skill_index (primary skill), n_skills, attempts, difficulty
            (share of wrong answers), teach (the primary tag's fitted teaching rate).
        examples: One row per logged interaction with a later attempt at the same skill:
            student_id, item_id, the knowledge state before it (``m_<k>`` columns), correct,
            the reward, ``belief_gain`` and the logging propensity (NaN when the log has none).
            ``reward`` is the next same-skill answer minus this one (a one-step gain kept for
            legacy gain-model policies; the gate's off-policy reward is the learning credit of
            :mod:`quizops.features.credit`); ``belief_gain`` is the change of the tracer's
            expected number of known skills from before this answer to before the student's
            next one.
        interactions: The de-identified interaction rows the tracer was fitted on (the
            :data:`INTERACTION_COLUMNS` present), for fitting simulators; None when not kept.
    """

    tracer: KnowledgeTracer
    items: pd.DataFrame
    examples: pd.DataFrame
    interactions: pd.DataFrame | None = None


def state_columns(n_skills: int) -> list[str]:
    """Names of the knowledge-state columns.

    Args:
        n_skills: Number of skills.

    Returns:
        ``m_0 ... m_{n-1}``.
    """
    return [f"m_{k}" for k in range(n_skills)]


def feature_spec(tracer: KnowledgeTracer) -> dict[str, object]:
    """A description of the features (for MLflow and the predictor's checks).

    Args:
        tracer: The fitted tracer.

    Returns:
        JSON-ready spec.
    """
    return {
        "version": FEATURE_SPEC_VERSION,
        "state": state_columns(tracer.n_skills),
        "skills": tracer.skill_ids,
        "items": len(tracer.item_skill),
        "multi_skill_items": sum(1 for t in tracer.item_tags.values() if len(t) > 1),
        "prerequisites": {
            tracer.skill_ids[b]: [tracer.skill_ids[a] for a in p]
            for b, p in enumerate(tracer.prerequisites)
            if p
        },
        "update_rule": "every tagged skill: Bayes with the tag's guess/slip, then teaching "
        "scaled by prerequisite readiness; P(correct) = mean over tags",
    }


def engineer_features(df: pd.DataFrame, *, learn_prerequisites: bool = True) -> FeatureSet:
    """Fits the tracer and computes states, the item bank and examples from a canonical log.

    A skill whose answers cannot be traced (its fit is not finite or not identifiable) is
    left out, with a warning, as long as such skills hold at most
    :data:`~quizops.features.fit.MAX_UNTRACEABLE_SHARE` of the rows: its rows leave the
    examples, the item bank and the interactions every later stage reads, so that the
    simulators, the search and the evaluation see the course the tracer describes.

    Args:
        df: The canonical, de-identified log.
        learn_prerequisites: Estimate prerequisites from the logs.

    Returns:
        The features.

    Raises:
        InputDataError: The log is empty.
        ModelFitError: No skill, or too large a share of the rows, can be traced.
    """
    tracer = fit_tracer(df, learn_prerequisites=learn_prerequisites, untraceable="drop")
    logger.info(
        "features: the tracer is fitted on %d students; prerequisites %s",
        df["student_id"].nunique(),
        named_prerequisites(tracer.skill_ids, tracer.prerequisites),
    )
    df = sort_log(without_skills(df, untraceable_skills(df, tracer)))
    first = first_rows_of_answers(df)
    inter = df.loc[first].reset_index(drop=True)
    states = tracer.trace_log(inter)
    skills = inter["item_id"].astype(str).map(tracer.item_skill).to_numpy()
    next_same = (
        inter.assign(_skill=skills)
        .groupby(["student_id", "_skill"], sort=False)["correct"]
        .shift(-1)
        .to_numpy()
    )
    correct = inter["correct"].to_numpy()
    reward = next_same - correct
    expected = states.sum(axis=1)
    same_next = np.r_[inter["student_id"].to_numpy()[1:] == inter["student_id"].to_numpy()[:-1],
                      False]  # fmt: skip
    after = np.r_[expected[1:], np.nan]
    belief_gain = np.where(same_next, after - expected, np.nan)
    propensity = (
        inter["propensity"].to_numpy(dtype=float)
        if "propensity" in inter.columns
        else np.full(len(inter), np.nan)
    )
    examples = pd.DataFrame(states, columns=state_columns(tracer.n_skills))
    examples.insert(0, "item_id", inter["item_id"].astype(str).to_numpy())
    examples.insert(0, "student_id", inter["student_id"].to_numpy())
    examples["correct"] = correct
    examples["reward"] = reward
    examples["belief_gain"] = belief_gain
    examples["propensity"] = propensity
    # Answers before this one (the question's place; the predictor's history length).
    examples["position"] = inter.groupby("student_id", sort=False).cumcount().to_numpy()
    examples = examples[~np.isnan(reward)].reset_index(drop=True)

    a = tracer.arrays
    per_item = (
        pd.DataFrame({"item_id": inter["item_id"].astype(str), "correct": correct})
        .groupby("item_id", sort=True)
        .agg(attempts=("correct", "size"), difficulty=("correct", "mean"))
        .reset_index()
    )
    per_item["difficulty"] = 1.0 - per_item["difficulty"]
    rows = a.rows_of(per_item["item_id"].to_numpy())
    per_item["skill_index"] = per_item["item_id"].map(tracer.item_skill).astype(np.int64)
    per_item["n_skills"] = (a.skill[rows] >= 0).sum(axis=1)
    per_item["teach"] = a.teach[rows, 0]
    per_item = per_item[["item_id", "skill_index", "n_skills", "attempts", "difficulty", "teach"]]
    logger.info(
        "features: %d examples, %d items, %d skills", len(examples), len(per_item), tracer.n_skills
    )
    kept = [c for c in INTERACTION_COLUMNS if c in df.columns]
    return FeatureSet(tracer, per_item, examples, df[kept].reset_index(drop=True))


def save_features(features: FeatureSet, directory: str | os.PathLike[str]) -> None:
    """Writes a feature set: ``tracer.json``, ``items.parquet``, ``examples.parquet``, spec.

    Args:
        features: The features.
        directory: Destination folder (created).
    """
    from quizops.canonical import write_parquet_atomic

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(features.items, directory / "items.parquet")
    write_parquet_atomic(features.examples, directory / "examples.parquet")
    if features.interactions is not None:
        write_parquet_atomic(features.interactions, directory / "interactions.parquet")
    for name, content in (
        ("feature_spec.json", feature_spec(features.tracer)),
        ("tracer.json", features.tracer.to_dict()),
    ):
        tmp = directory / f".{name}.tmp"
        tmp.write_text(json.dumps(content, indent=1))
        tmp.replace(directory / name)


def load_features(directory: str | os.PathLike[str]) -> FeatureSet:
    """Reads a feature set written by :func:`save_features`.

    Args:
        directory: The folder.

    Returns:
        The features.

    Raises:
        InputDataError: A file is missing.
    """
    directory = Path(directory)
    for name in ("tracer.json", "items.parquet", "examples.parquet"):
        if not (directory / name).is_file():
            raise InputDataError(f"{directory}: feature set lacks {name}")
    tracer = KnowledgeTracer.from_dict(json.loads((directory / "tracer.json").read_text()))
    interactions_path = directory / "interactions.parquet"
    return FeatureSet(
        tracer,
        pd.read_parquet(directory / "items.parquet"),
        pd.read_parquet(directory / "examples.parquet"),
        pd.read_parquet(interactions_path) if interactions_path.is_file() else None,
    )
