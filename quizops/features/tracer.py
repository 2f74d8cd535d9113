"""The knowledge tracer: one state update rule for training (vectorized) and serving (scalar).

State: the probability that a student knows each skill. One answer to an item updates *every*
skill the item is tagged with, by this rule (the same offline and online):

1. Readiness of each tagged skill is computed first, from the state before the answer: the
   product of the probabilities that its prerequisites are known.
2. Each tagged skill is updated by Bayes' rule as if the answer were evidence about that skill
   alone, with that (item, skill) tag's guess and slip.
3. Then the item may teach it: ``p += (1 - p) * teach * (ready + gate * (1 - ready))``, where
   ``gate`` is the skill's fitted learning multiplier when prerequisites are missing.

P(correct) of an item is the mean over its tags of ``p * (1 - slip) + (1 - p) * guess`` (for a
one-skill item, plain BKT). An item that is not in the bank leaves the state unchanged online and
offline (it carries no fitted parameters); :meth:`KnowledgeTracer.state_after` in strict mode
raises instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError
from quizops.features.bkt import BKTParams


@dataclass
class KnowledgeTracer:
    """Per-skill knowledge tracing over a bank of items.

    Attributes:
        skill_ids: Skill ids, in feature order.
        params: Pooled BKT parameters per skill, in the same order (defaults for items without
            tag-level parameters).
        item_skill: Item id -> index of its primary (first) skill.
        item_tags: Item id -> list of ``[skill_index, guess, slip, teach]``, one per tagged
            skill; an item absent here uses its primary skill's pooled parameters.
        prerequisites: For each skill, the indices of the skills it requires (empty: none).
        gate: For each skill, the teaching multiplier when its prerequisites are missing.
        skill_order: Skill indices in course order as the logs show it (mean relative position
            of students' first attempt); empty: index order.
        left_out_items: Items of the log the tracer was fitted without, because each of their
            skills was left out as untraceable (:func:`~quizops.features.fit.fit_tracer`,
            ``untraceable="drop"``). Like any item outside the bank they leave the state
            unchanged; the predictor counts them apart from items that are merely new, since
            retraining does not bring them in.
    """

    skill_ids: list[str]
    params: list[BKTParams]
    item_skill: dict[str, int]
    item_tags: dict[str, list[list[float]]] = field(default_factory=dict)
    prerequisites: list[list[int]] = field(default_factory=list)
    gate: list[float] = field(default_factory=list)
    skill_order: list[int] = field(default_factory=list)
    left_out_items: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.prerequisites:
            self.prerequisites = [[] for _ in self.skill_ids]
        if not self.gate:
            self.gate = [1.0 for _ in self.skill_ids]
        if not self.skill_order:
            self.skill_order = list(range(len(self.skill_ids)))

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return len(self.skill_ids)

    def tags_of(self, item_id: str) -> list[tuple[int, float, float, float]] | None:
        """The ``(skill, guess, slip, teach)`` tags of an item, or None if it is unknown.

        Args:
            item_id: The item.

        Returns:
            Its tags.
        """
        tags = self.item_tags.get(item_id)
        if tags is not None:
            return [(int(t[0]), float(t[1]), float(t[2]), float(t[3])) for t in tags]
        skill = self.item_skill.get(item_id)
        if skill is None:
            return None
        p = self.params[skill]
        return [(skill, p.p_guess, p.p_slip, p.p_learn)]

    @cached_property
    def _scalar_tags(self) -> dict[str, list[tuple[int, float, float, float]]]:
        return {item: self.tags_of(item) or [] for item in self.item_skill}

    @cached_property
    def arrays(self) -> TagArrays:
        """The bank as padded arrays for vectorized work (built once)."""
        return TagArrays.build(self)

    def initial_state(self) -> np.ndarray:
        """Returns the knowledge state of a student with no history.

        Returns:
            Probability of knowing each skill.
        """
        return np.array([p.p_init for p in self.params])

    def update(self, state: np.ndarray, skill: int, correct: int) -> None:
        """Updates a state in place with one answer on one skill, with pooled parameters.

        Args:
            state: Probability of knowing each skill.
            skill: Index of the skill practised.
            correct: The answer, 0 or 1.
        """
        p = self.params[skill]
        values = list(map(float, state))
        self._apply_scalar(values, [(skill, p.p_guess, p.p_slip, p.p_learn)], int(correct))
        state[:] = values

    def _apply_scalar(self, state: list[float], tags: Sequence[tuple[int, float, float, float]],
                      correct: int) -> None:  # fmt: skip
        ready = []
        for skill, _, _, _ in tags:
            r = 1.0
            for p in self.prerequisites[skill]:
                r *= state[p]
            ready.append(r)
        for (skill, guess, slip, teach), r in zip(tags, ready, strict=True):
            known = state[skill]
            if correct:
                num = known * (1.0 - slip)
                post = num / (num + (1.0 - known) * guess)
            else:
                num = known * slip
                post = num / (num + (1.0 - known) * (1.0 - guess))
            rate = teach * (r + self.gate[skill] * (1.0 - r))
            state[skill] = post + (1.0 - post) * rate

    def apply_answer(self, state: np.ndarray, item_id: str, correct: int) -> bool:
        """Advances one student's state in place by one answer (the online rule).

        This is the step :meth:`state_after` repeats; a feature store that keeps each student's
        state applies answers one at a time with it and gets the same state.

        Args:
            state: Probability of knowing each skill (updated in place).
            item_id: The item answered.
            correct: The answer, 0 or 1.

        Returns:
            False when the item is unknown (state unchanged), else True.

        Raises:
            InputDataError: ``correct`` is not 0 or 1.
        """
        if correct not in (0, 1):
            raise InputDataError("answer: 'correct' must be 0 or 1")
        tags = self._scalar_tags.get(str(item_id))
        if tags is None:
            return False
        values = [float(v) for v in state]
        self._apply_scalar(values, tags, int(correct))
        state[:] = values
        return True

    def state_after(self, history: Sequence[tuple[str, int]], strict: bool = True) -> np.ndarray:
        """Computes the knowledge state after a history (the online path, one student).

        Args:
            history: ``(item_id, correct)`` pairs in time order.
            strict: Raise on an unknown item (else it leaves the state unchanged).

        Returns:
            Probability of knowing each skill before the next item.

        Raises:
            InputDataError: An answer is not 0/1, or (strict) an item is not in the bank.
        """
        state = [p.p_init for p in self.params]
        tags_by_item = self._scalar_tags
        for position, (item_id, correct) in enumerate(history):
            if correct not in (0, 1):
                raise InputDataError(f"history[{position}]: 'correct' must be 0 or 1")
            tags = tags_by_item.get(str(item_id))
            if tags is None:
                if strict:
                    raise InputDataError(f"history: unknown item_id '{item_id}'")
                continue
            self._apply_scalar(state, tags, int(correct))
        return np.array(state)

    def p_correct(self, states: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        """P(correct) of items for states (mean over each item's tags).

        Args:
            states: Matrix [n, skills].
            item_rows: Row of each item in :attr:`arrays` (``arrays.index``).

        Returns:
            Vector [n].
        """
        a = self.arrays
        skills = a.skill[item_rows]
        valid = skills >= 0
        known = np.take_along_axis(states, np.where(valid, skills, 0), axis=1)
        p = known * (1 - a.slip[item_rows]) + (1 - known) * a.guess[item_rows]
        return np.where(valid, p, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)

    def apply_batch(self, states: np.ndarray, item_rows: np.ndarray,
                    correct: np.ndarray) -> None:  # fmt: skip
        """Updates many students' states in place, one answer each (the offline path).

        Args:
            states: Matrix [n, skills] (updated in place).
            item_rows: Row of each student's item in :attr:`arrays`; -1 for an unknown item
                (state unchanged).
            correct: Answers (0/1).
        """
        a = self.arrays
        known_item = item_rows >= 0
        rows_all = np.flatnonzero(known_item)
        if rows_all.size == 0:
            return
        items = item_rows[rows_all]
        ok = correct[rows_all] == 1
        sub = states[rows_all]
        before = sub.copy()
        for j in range(a.skill.shape[1]):
            skill = a.skill[items, j]
            has = skill >= 0
            if not has.any():
                continue
            r_idx = np.flatnonzero(has)
            sk = skill[has]
            it = items[has]
            # Readiness from the state before this answer.
            req = a.requires[sk]  # [m, skills]
            ready = np.prod(np.where(req, before[r_idx], 1.0), axis=1)
            known = sub[r_idx, sk]
            guess, slip, teach = a.guess[it, j], a.slip[it, j], a.teach[it, j]
            right = ok[has]
            num = np.where(right, known * (1 - slip), known * slip)
            den = num + (1 - known) * np.where(right, guess, 1 - guess)
            post = num / den
            rate = teach * (ready + a.gate[sk] * (1 - ready))
            sub[r_idx, sk] = post + (1 - post) * rate
        states[rows_all] = sub

    def trace_log(self, df: pd.DataFrame) -> np.ndarray:
        """Knowledge state before each row of a canonical log (vectorized over students).

        Rows of one answer (an item with several skills is one row per skill, sharing student,
        timestamp and item) get the same state and update it once.

        Args:
            df: Canonical rows sorted by student, then timestamp.

        Returns:
            Matrix [rows, skills].
        """
        if df.empty:
            return np.empty((0, self.n_skills))
        first = first_rows_of_answers(df)
        group = np.cumsum(first) - 1  # interaction number of each row
        before = self.trace_interactions(
            _as_text(df["student_id"])[first],
            _as_text(df["item_id"])[first],
            df["correct"].to_numpy()[first],
        )
        return before if first.all() else before[group]

    def trace_interactions(
        self,
        students: np.ndarray,
        items: np.ndarray,
        correct: np.ndarray,
        *,
        rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """States before each interaction; interactions sorted by student then time.

        Args:
            students: Student id per interaction.
            items: Item id per interaction.
            correct: Answer per interaction.
            rows: The items' rows in :attr:`arrays` when the caller has them
                (``self.arrays.rows_of(items)``; -1 for an unknown item).

        Returns:
            Matrix [interactions, skills].
        """
        n = len(students)
        out = np.empty((n, self.n_skills))
        if n == 0:
            return out
        students = np.asarray(students, dtype=object)
        starts = np.flatnonzero(np.r_[True, students[1:] != students[:-1]])
        lengths = np.diff(np.r_[starts, n])
        position = np.arange(n) - np.repeat(starts, lengths)
        student_row = np.repeat(np.arange(len(starts)), lengths)
        if rows is None:
            rows = self.arrays.rows_of(items)
        states = np.tile(self.initial_state(), (len(starts), 1))
        order = np.argsort(position, kind="stable")
        bounds = np.searchsorted(position[order], np.arange(int(lengths.max()) + 1))
        ok = np.asarray(correct, dtype=np.int64)
        for t in range(int(lengths.max())):
            idx = order[bounds[t] : bounds[t + 1]]
            who = student_row[idx]
            sub = states[who]
            out[idx] = sub
            self.apply_batch(sub, rows[idx], ok[idx])
            states[who] = sub
        return out

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready form (new containers: changing it leaves the tracer as it was).

        ``left_out_items`` is written only when there are some, so that a tracer that left
        nothing out has the same form as before the field existed.
        """
        data: dict[str, Any] = {
            "skill_ids": list(self.skill_ids),
            "params": [asdict(p) for p in self.params],
            "item_skill": dict(self.item_skill),
            "item_tags": {
                item: [list(tag) for tag in tags] for item, tags in self.item_tags.items()
            },
            "prerequisites": [list(p) for p in self.prerequisites],
            "gate": list(self.gate),
            "skill_order": list(self.skill_order),
        }
        if self.left_out_items:
            data["left_out_items"] = list(self.left_out_items)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KnowledgeTracer:
        """Rebuilds a tracer from :meth:`to_dict` output.

        Args:
            data: The dict.

        Returns:
            The tracer.
        """
        return cls(
            skill_ids=list(data["skill_ids"]),
            params=[BKTParams(**p) for p in data["params"]],
            item_skill={str(k): int(v) for k, v in data["item_skill"].items()},
            item_tags={
                str(k): [[float(x) for x in t] for t in v]
                for k, v in data.get("item_tags", {}).items()
            },
            prerequisites=[[int(p) for p in ps] for ps in data.get("prerequisites", [])],
            gate=[float(g) for g in data.get("gate", [])],
            skill_order=[int(k) for k in data.get("skill_order", [])],
            left_out_items=[str(i) for i in data.get("left_out_items", [])],
        )


def interaction_keys(df: pd.DataFrame) -> pd.Series:
    """One key per answer: student, time and item.

    The rows of one answer to a multi-skill item (one per skill) share all three: ingest gives
    each row its own ``interaction_id`` (``<order_id>:<skill_id>`` for ASSISTments), and EdNet
    splits an answer's tags into rows at the same timestamp.

    Args:
        df: Canonical rows.

    Returns:
        A string key per row.
    """
    return (
        df["student_id"].astype(str)
        + "\x1f"
        + df["timestamp"].astype(str)
        + "\x1f"
        + df["item_id"].astype(str)
    )


def _as_text(column: pd.Series) -> np.ndarray:
    """A column's values as an object array of str (no conversion when already text)."""
    values = column.to_numpy()
    if values.dtype == object and (len(values) == 0 or isinstance(values[0], str)):
        return values
    return column.astype(str).to_numpy(dtype=object)


#: Columns that identify one answer (the rows of a multi-skill answer share them).
ANSWER_KEY = ["student_id", "timestamp", "item_id"]


def first_rows_of_answers(df: pd.DataFrame) -> np.ndarray:
    """Marks the first row of each answer (see :func:`interaction_keys`), without building keys.

    Args:
        df: Canonical rows.

    Returns:
        Boolean vector.
    """
    return ~df.duplicated(subset=ANSWER_KEY).to_numpy()


@dataclass(frozen=True)
class TagArrays:
    """A tracer's bank as arrays [items, max tags] (skill -1 pads) for vectorized updates.

    Attributes:
        item_ids: Item ids in row order.
        index: Item id -> row.
        skill: Skill index per item and tag slot.
        guess: Guess per item and tag slot.
        slip: Slip per item and tag slot.
        teach: Teaching rate per item and tag slot.
        requires: Boolean matrix [skills, skills]: (k, j) says skill k requires j.
        gate: Teaching multiplier per skill when prerequisites are missing.
    """

    item_ids: list[str]
    index: dict[str, int]
    skill: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    teach: np.ndarray
    requires: np.ndarray
    gate: np.ndarray

    @classmethod
    def build(cls, tracer: KnowledgeTracer) -> TagArrays:
        """Builds the arrays of a tracer.

        Args:
            tracer: The tracer.

        Returns:
            The arrays.
        """
        item_ids = list(tracer.item_skill)
        tags = [tracer.tags_of(i) or [] for i in item_ids]
        width = max([len(t) for t in tags] + [1])
        shape = (len(item_ids), width)
        skill = np.full(shape, -1, dtype=np.int64)
        guess, slip, teach = np.full(shape, 0.5), np.full(shape, 0.1), np.zeros(shape)
        for row, item_tags in enumerate(tags):
            for j, (s, g, sl, te) in enumerate(item_tags):
                skill[row, j], guess[row, j], slip[row, j], teach[row, j] = s, g, sl, te
        requires = np.zeros((tracer.n_skills, tracer.n_skills), dtype=bool)
        for k, prereqs in enumerate(tracer.prerequisites):
            requires[k, list(prereqs)] = True
        return cls(
            item_ids=item_ids,
            index={item: i for i, item in enumerate(item_ids)},
            skill=skill,
            guess=guess,
            slip=slip,
            teach=teach,
            requires=requires,
            gate=np.asarray(tracer.gate, dtype=float),
        )

    @cached_property
    def _lookup(self) -> pd.Index:
        return pd.Index(self.item_ids, dtype=object)

    def rows_of(self, item_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Rows of item ids, -1 for an unknown id.

        Args:
            item_ids: Item ids.

        Returns:
            Rows.
        """
        values = np.asarray(item_ids, dtype=object)
        if values.size and not isinstance(values[0], str):
            values = values.astype(str).astype(object)
        return self._lookup.get_indexer(values).astype(np.int64)
