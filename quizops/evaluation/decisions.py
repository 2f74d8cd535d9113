"""Logged decisions for off-policy evaluation: actions, contexts, rewards and a student split.

A decision is one first attempt of one student at one item (the item the logging policy chose).
The context the behaviour and reward models see is what a tutor observes before the decision:
for each item group (the item's first skill), the student's current run of correct answers and
attempts so far, the position in the session and the previous answer.

The reward of a decision (``reward="learning"``, the default) is its learning credit
(:func:`quizops.features.credit.answer_credit`): the expected number of skills the answer
taught, given everything the student answered afterwards, under a knowledge tracer fitted to the
*training* students' rows only (its parameters are then fixed; held-out students are only
smoothed, never fitted on). Summed over a session it is the expected number of skills learnt,
the objective the policy is trained for; a policy is not paid for asking items a student gets
wrong. NaN when the student never answers on the item's skills again (such decisions give
context, not reward). ``reward="next_answer"`` keeps the older one-step gain (the student's
next answer in the same group minus this answer), which favours hard items by construction.

Students, not rows, are split into the training and held-out parts (by a keyed hash of the
pseudonymous id), so that evaluation never sees a student the models were fitted on.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError

logger = logging.getLogger(__name__)

#: Largest number of item groups the context spells out (the most frequent; the rest pool).
MAX_CONTEXT_GROUPS = 40
_STREAK_CAP = 5
_ATTEMPT_CAP = 10
_POSITION_CAP = 100

_REQUIRED = ("student_id", "item_id", "skill_id", "correct", "timestamp")


def held_out_students(student_ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Which students are held out from training (deterministic in the id and the seed).

    Args:
        student_ids: Pseudonymous student ids.
        fraction: Share of students to hold out, in (0, 1).
        seed: Split seed.

    Returns:
        Boolean mask, one entry per id.
    """
    unique, inverse = np.unique(np.asarray(student_ids, dtype=str), return_inverse=True)
    scores = np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}:{sid}".encode()).digest()[:8], "big") / 2**64
            for sid in unique
        ]
    )
    return (scores < fraction)[inverse]


@dataclass(frozen=True)
class DecisionLog:
    """The logged decisions of a canonical table, in student then time order.

    Attributes:
        frame: One row per decision: student_id, item_id, correct, position, reward,
            propensity (NaN when the log has none), action (item code), group (item group code),
            student (student code), held_out.
        items: Item ids; an action code indexes this list.
        item_group: Group code of each item.
        groups: Group (skill) ids; a group code indexes this list.
        context: Context features [decisions, features] (see :func:`context_features`).
        training_tracer: The knowledge tracer fitted on the training students' rows alone (the
            learning reward's; None for another reward): the evaluation's held-out twin of a
            policy plans with it (:func:`quizops.evaluation.stage.held_out_twin`).
    """

    frame: pd.DataFrame
    items: list[str]
    item_group: np.ndarray
    groups: list[str]
    context: np.ndarray
    training_tracer: Any = None

    @property
    def exact_propensity(self) -> np.ndarray:
        """Whether each decision carries its exact logged propensity (a number in (0, 1]).

        Simulated logs carry one on every row; a real export on none; a table whose served
        decisions were joined back on the rows those decisions produced.
        """
        p = self.frame["propensity"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return np.isfinite(p) & (p > 0) & (p <= 1)

    @property
    def has_propensities(self) -> bool:
        """Whether every decision carries its exact logged propensity."""
        exact = self.exact_propensity
        return bool(len(exact)) and bool(np.all(exact))

    @property
    def action(self) -> np.ndarray:
        """Item code of each decision."""
        return self.frame["action"].to_numpy()

    @property
    def held_out(self) -> np.ndarray:
        """Whether each decision belongs to a held-out student."""
        return self.frame["held_out"].to_numpy()


def context_features(
    student: np.ndarray, group: np.ndarray, correct: np.ndarray, n_groups: int
) -> np.ndarray:
    """What a tutor sees before each decision, from the decisions before it.

    Columns: per context group (up to :data:`MAX_CONTEXT_GROUPS`), the run of correct answers in
    a row (capped at 5) and the attempts so far (capped at 10); then the position in the session
    (capped at 100), the previous answer (-1 at the start) and the previous decision's group
    (-1 at the start).

    Args:
        student: Student code per decision (decisions sorted by student, then time).
        group: Item group code per decision (groups numbered by frequency, most frequent first).
        correct: Answer per decision (0/1).
        n_groups: Number of groups.

    Returns:
        Matrix [decisions, 2 * min(n_groups, MAX_CONTEXT_GROUPS) + 3].
    """
    n = len(student)
    k = min(n_groups, MAX_CONTEXT_GROUPS)
    key = pd.DataFrame({"s": student, "g": group, "c": correct})
    attempts_after = key.groupby(["s", "g"], sort=False).cumcount().to_numpy() + 1
    # Run of correct answers after each decision: corrects since the last wrong one in the key.
    key["w"] = (correct == 0).astype(np.int64)
    wrong_so_far = key.groupby(["s", "g"], sort=False)["w"].cumsum().to_numpy()
    key["w"] = wrong_so_far
    run_sum = key.groupby(["s", "g", "w"], sort=False)["c"].cumsum().to_numpy()
    streak_after = np.where(correct == 1, run_sum, 0)
    streak = np.full((n, k), np.nan)
    tried = np.full((n, k), np.nan)
    rows = np.flatnonzero(group < k)
    streak[rows, group[rows]] = np.minimum(streak_after[rows], _STREAK_CAP)
    tried[rows, group[rows]] = np.minimum(attempts_after[rows], _ATTEMPT_CAP)
    # State after each decision, carried forward within the student, then shifted to "before".
    carried = (
        pd.DataFrame(np.hstack([streak, tried]))
        .groupby(student, sort=False)
        .ffill()
        .groupby(student, sort=False)
        .shift(1)
        .fillna(0.0)
        .to_numpy()
    )
    first = np.r_[True, student[1:] != student[:-1]]
    position = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    previous_correct = np.where(first, -1, np.r_[0, correct[:-1]])
    previous_group = np.where(first, -1, np.r_[0, group[:-1]])
    return np.column_stack(
        [carried, np.minimum(position, _POSITION_CAP), previous_correct, previous_group]
    ).astype(np.float64)


#: Reward definitions :func:`build_decision_log` knows.
REWARDS = ("learning", "next_answer")


def _learning_reward(table: pd.DataFrame, frame: pd.DataFrame,
                     held: np.ndarray) -> tuple[np.ndarray, Any]:  # fmt: skip
    """Learning credit of each decision, and the tracer fitted on the training students' rows.

    A skill the training students' rows cannot trace (the feature stage traced it on every
    student: a small skill can lose its identifiability with a fifth of them held out) is left
    out of that tracer with a warning, as the feature stage leaves one out: its decisions get
    no credit, and the rest are evaluated.
    """
    from quizops.errors import ModelFitError
    from quizops.features.credit import answer_credit
    from quizops.features.fit import fit_tracer
    from quizops.features.tracer import interaction_keys

    train = table[~held]
    try:
        tracer = fit_tracer(train, untraceable="drop")
    except (ModelFitError, InputDataError) as exc:
        raise InputDataError(
            f"evaluation: no learning reward: the knowledge tracer does not fit the training "
            f"students' rows ({exc})"
        ) from exc
    credit = answer_credit(tracer, table)
    return credit.reindex(interaction_keys(frame).to_numpy()).to_numpy(dtype=float), tracer


def build_decision_log(
    table: pd.DataFrame, *, holdout_fraction: float, split_seed: int, reward: str = "learning"
) -> DecisionLog:
    """Turns a canonical table into decisions with contexts, rewards and a student split.

    An item tagged with several skills appears once per tag in the canonical table; it is one
    decision, and its group is the item's first skill (the same rule as the knowledge tracer).

    Args:
        table: Canonical, de-identified interactions.
        holdout_fraction: Share of students held out, in (0, 1).
        split_seed: Seed of the student split.
        reward: ``learning`` (learning credit) or ``next_answer`` (one-step gain).

    Returns:
        The decision log.

    Raises:
        InputDataError: A required column is missing, the table has no rows, the reward is
            unknown, or the tracer of the learning reward does not fit.
    """
    if reward not in REWARDS:
        raise InputDataError(f"evaluation: reward must be one of {list(REWARDS)}")
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise InputDataError(f"evaluation: canonical table lacks column(s) {missing}")
    if not 0.0 < holdout_fraction < 1.0:
        raise InputDataError("evaluation: holdout_fraction must be in (0, 1)")
    columns = list(_REQUIRED) + (["interaction_id"] if "interaction_id" in table.columns else [])
    frame = table[columns].copy()
    frame["propensity"] = (
        pd.to_numeric(table["propensity"], errors="coerce")
        if "propensity" in table.columns
        else np.nan
    )
    frame = frame.sort_values(["student_id", "timestamp"], kind="stable")
    if "interaction_id" in frame.columns:
        frame = frame.drop_duplicates("interaction_id", keep="first")
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise InputDataError("evaluation: canonical table has no rows")
    for column in ("student_id", "item_id", "skill_id"):
        frame[column] = frame[column].astype(str)
    item_first_group = frame.drop_duplicates("item_id").set_index("item_id")["skill_id"]
    frame["skill_id"] = frame["item_id"].map(item_first_group)
    groups = frame["skill_id"].value_counts(sort=True).index.astype(str).tolist()
    group_code = {g: i for i, g in enumerate(groups)}
    items = sorted(frame["item_id"].unique().tolist())
    item_code = {item: i for i, item in enumerate(items)}
    item_group = np.array([group_code[item_first_group[item]] for item in items], dtype=np.int64)
    frame["action"] = frame["item_id"].map(item_code).to_numpy(dtype=np.int64)
    frame["group"] = item_group[frame["action"].to_numpy()]
    frame["student"] = pd.factorize(frame["student_id"])[0]
    correct = frame["correct"].to_numpy(dtype=np.int64)
    frame["correct"] = correct
    student = frame["student"].to_numpy()
    first = np.r_[True, student[1:] != student[:-1]]
    frame["position"] = np.arange(len(frame)) - np.maximum.accumulate(
        np.where(first, np.arange(len(frame)), 0)
    )
    frame["held_out"] = held_out_students(
        frame["student_id"].to_numpy(), holdout_fraction, split_seed
    )
    training_tracer = None
    if reward == "learning":
        held_ids = frame.loc[frame["held_out"], "student_id"].unique()
        held = table["student_id"].astype(str).isin(held_ids).to_numpy()
        frame["reward"], training_tracer = _learning_reward(table, frame, held)
    else:
        groups_of = frame.groupby(["student", "group"], sort=False)["correct"]
        frame["reward"] = groups_of.shift(-1).to_numpy() - correct
    context = context_features(student, frame["group"].to_numpy(), correct, len(groups))
    logger.info(
        "decision log: %d decisions, %d students (%d held out), %d items, %d groups",
        len(frame),
        frame["student"].nunique(),
        frame.loc[frame["held_out"], "student"].nunique(),
        len(items),
        len(groups),
    )
    return DecisionLog(frame, items, item_group, groups, context, training_tracer)
