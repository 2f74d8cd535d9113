"""Export of simulated logs in the ASSISTments 2009 layout, personal data included.

Logs come from an exploring logging policy (a curriculum heuristic, epsilon-uniform), with the
propensity of each choice, in the ASSISTments 2009 skill-builder column layout. Like real exports,
some rows carry personal data: e-mail addresses as user ids, names and phone numbers typed into
``answer_text`` (made with Faker). Only the raw zone may ever hold these files.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quizops.simulation.logging_policy import LoggingPolicy
from quizops.simulation.world import World, new_cohort, practise

logger = logging.getLogger(__name__)

#: The ASSISTments 2009 skill-builder columns, in the order of the public export, plus the
#: logging policy's propensity (which real exports lack; ingest treats it as optional).
ASSISTMENTS_COLUMNS: list[str] = [
    "order_id", "assignment_id", "user_id", "assistment_id", "problem_id", "original",
    "correct", "attempt_count", "ms_first_response", "tutor_mode", "answer_type", "sequence_id",
    "student_class_id", "position", "type", "base_sequence_id", "skill_id", "skill_name",
    "teacher_id", "school_id", "hint_count", "hint_total", "overlap_time", "template_id",
    "answer_id", "answer_text", "first_action", "bottom_hint", "opportunity",
    "opportunity_original", "propensity",
]  # fmt: skip


def simulate_logs(world: World, n_interactions: int = 50_000, steps_per_student: int = 50,
                  seed: int = 0, pii_rate: float = 0.05, start_order_id: int = 20_000_000,
                  ) -> pd.DataFrame:  # fmt: skip
    """Simulates logged interactions in the ASSISTments 2009 skill-builder layout.

    Args:
        world: The course.
        n_interactions: About how many rows (rounded up to whole students).
        steps_per_student: Items each student answers.
        seed: Seed of students, choices and answers.
        pii_rate: Share of students whose export carries personal data (an e-mail as user id,
            names and phone numbers typed into answers).
        start_order_id: First order id.

    Returns:
        The log, one row per first attempt, in order_id order.
    """
    from faker import Faker

    rng = np.random.default_rng(seed)
    n_students = max(1, -(-n_interactions // steps_per_student))
    cohort = new_cohort(world, n_students, rng)
    logging_policy = LoggingPolicy(world)
    logging_policy.reset(n_students)
    items = np.empty((steps_per_student, n_students), dtype=np.int64)
    correct = np.empty_like(items)
    propensity = np.empty((steps_per_student, n_students))
    for step in range(steps_per_student):
        items[step], propensity[step] = logging_policy.choose(rng)
        correct[step] = practise(world, cohort, items[step], rng)
        logging_policy.observe(items[step], correct[step])

    fake = Faker(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES"])
    fake.seed_instance(seed)
    user_ids = rng.choice(np.arange(60_000, 99_999), size=n_students, replace=False).astype(str)
    leaky = rng.random(n_students) < pii_rate
    user_ids = np.array(
        [fake.unique.email() if leak else uid for uid, leak in zip(user_ids, leaky, strict=True)],
        dtype=object,
    )
    classes = rng.integers(10, 60, n_students)

    # Students work interleaved: order ids follow step-major order with students shuffled.
    student_order = np.concatenate([rng.permutation(n_students) for _ in range(steps_per_student)])
    step_order = np.repeat(np.arange(steps_per_student), n_students)
    total = len(step_order)
    it = items[step_order, student_order]
    ok = correct[step_order, student_order]
    skill = world.item_skill[it]
    answers = np.where(ok == 1, "correct", rng.integers(1, 200, total).astype(str)).astype(object)
    for row in np.flatnonzero(leaky[student_order] & (rng.random(total) < 0.15)):
        answers[row] = _leaky_answer(fake, rng)
    item_ids = np.array(world.item_ids)
    frame = pd.DataFrame(
        {
            "order_id": start_order_id + np.arange(total),
            "assignment_id": 30_000 + skill,
            "user_id": user_ids[student_order],
            "assistment_id": 40_000 + it,
            "problem_id": item_ids[it],
            "original": 1,
            "correct": ok,
            "attempt_count": np.where(ok == 1, 1, 1 + rng.integers(1, 4, total)),
            "ms_first_response": rng.lognormal(9.5, 0.8, total).astype(np.int64),
            "tutor_mode": "tutor",
            "answer_type": "algebra",
            "sequence_id": 5_000 + skill,
            "student_class_id": classes[student_order],
            "position": 1 + skill,
            "type": "MasterySection",
            "base_sequence_id": 5_000 + skill,
            "skill_id": np.array(world.skill_ids)[skill],
            "skill_name": np.array(world.skill_names)[skill],
            "teacher_id": 20_000 + classes[student_order] // 3,
            "school_id": 70 + classes[student_order] // 10,
            "hint_count": np.where(ok == 1, 0, rng.integers(0, 3, total)),
            "hint_total": 3,
            "overlap_time": rng.lognormal(9.6, 0.8, total).astype(np.int64),
            "template_id": 30_000 + it,
            "answer_id": rng.integers(100_000, 999_999, total),
            "answer_text": answers,
            "first_action": 0,
            "bottom_hint": "",
            "opportunity": step_order + 1,
            "opportunity_original": step_order + 1,
            "propensity": np.round(propensity[step_order, student_order], 6),
        },
        columns=ASSISTMENTS_COLUMNS,
    )
    logger.info(
        "simulated %d interactions of %d students on %d items", total, n_students, world.n_items
    )
    return frame


def _leaky_answer(fake: Any, rng: np.random.Generator) -> str:
    """Free text a student might type that carries personal data."""
    templates = [
        "my name is {name}",
        "{name} - can you call me at {phone}",
        "i dont know, email me {email}",
        "{answer} ({name})",
        "ask my mum {name} {phone}",
    ]
    template = templates[int(rng.integers(0, len(templates)))]
    return template.format(
        name=fake.name(),
        phone=fake.phone_number(),
        email=fake.email(),
        answer=int(rng.integers(1, 100)),
    )


def write_assistments_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Writes a simulated log as an ASSISTments-style CSV.

    Args:
        frame: Output of :func:`simulate_logs`.
        path: Destination file.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def canonical_from_simulated(frame: pd.DataFrame) -> pd.DataFrame:
    """Maps a simulated ASSISTments-layout log straight to canonical columns (tests, benches).

    A shortcut around ingest and the PII stage for simulated data only: ids are kept as they
    are (``order_id`` becomes ``interaction_id``, so the rows of a multi-skill answer share it).

    Args:
        frame: Output of :func:`simulate_logs` or the second course's log.

    Returns:
        Canonical rows.
    """
    propensity = (
        frame["propensity"].astype(float)
        if "propensity" in frame.columns
        else pd.Series(np.nan, index=frame.index)
    )
    return pd.DataFrame(
        {
            "interaction_id": frame["order_id"].astype(str),
            "student_id": frame["user_id"].astype(str),
            "item_id": frame["problem_id"].astype(str),
            "skill_id": frame["skill_id"].astype(str),
            "skill_name": frame["skill_name"].astype(str),
            "correct": frame["correct"].astype(np.int64),
            "timestamp": frame["order_id"].astype(np.int64),
            "attempt_count": frame["attempt_count"],
            "response_time_ms": frame["ms_first_response"].astype(float),
            "hint_count": frame["hint_count"],
            "answer_text": frame["answer_text"].astype(str),
            "propensity": propensity,
        }
    )
