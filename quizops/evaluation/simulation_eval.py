"""Simulation evaluation: challenger, champion and baselines on the same simulated students.

In each simulator family fitted to the logs, every policy meets the same students with the same
random draws (common random numbers, :func:`quizops.simulation.simulate`), so the difference of
two policies on one student is due to their choices alone. Intervals are percentile bootstraps
over students, drawn once per family and shared by every policy, so that each policy's interval
and each paired difference come from the same resamples.

The outcome is the number of skills a student has mastered after the session; learning curves
are the mean skills mastered after each item, with a 95% band.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quizops.evaluation.ope import Interval, bootstrap_counts, percentile_interval

logger = logging.getLogger(__name__)

#: Name of the evaluated policy in every result.
CHALLENGER = "challenger"
#: Name of the served policy in every result.
CHAMPION = "champion"


class _RecordingWorld:
    """A world that records each student's skills mastered at the start and after each answer.

    The learning curves and their bands are drawn from these records.
    """

    def __init__(self, world: Any) -> None:
        self._world = world
        self.records: list[np.ndarray] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)

    @property
    def item_ids(self) -> list[str]:
        return self._world.item_ids

    @property
    def n_skills(self) -> int:
        return self._world.n_skills

    @property
    def name(self) -> str:
        return self._world.name

    def new_students(self, n_students: int, rng: np.random.Generator) -> Any:
        students = self._world.new_students(n_students, rng)
        self.records = [np.asarray(self._world.mastered(students)).sum(axis=1)]
        return students

    def respond(self, students: Any, items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        correct = self._world.respond(students, items, u_answer, u_learn)
        self.records.append(np.asarray(self._world.mastered(students)).sum(axis=1))
        return correct


@dataclass(frozen=True)
class PolicyRun:
    """One policy in one family.

    Attributes:
        name: Policy name.
        mastered: Mean skills mastered at the end, with its interval.
        curve: Mean skills mastered before the first item and after each item [steps + 1].
        curve_low: Lower band of the curve.
        curve_high: Upper band of the curve.
        item_share: Share of the policy's decisions per item of the world.
        final: Skills mastered at the end, per student.
    """

    name: str
    mastered: Interval
    curve: np.ndarray
    curve_low: np.ndarray
    curve_high: np.ndarray
    item_share: np.ndarray
    final: np.ndarray


@dataclass(frozen=True)
class FamilyResult:
    """Every policy in one fitted simulator family, and the challenger's paired differences.

    Attributes:
        family: Family name.
        runs: Policy name -> run.
        reference: The policy the gate compares the challenger with.
        differences: Policy name -> paired difference challenger - that policy.
        slices: Slice name -> paired difference challenger - reference on that slice.
        slice_sizes: Slice name -> students.
        item_ids: The world's items (the order of ``item_share``).
        students: Students simulated per policy.
        validation: The fitted world's held-out figures (log-likelihood, AUC), when it has them.
        exposure_students: Students the challenger's ``item_share`` was measured on when it
            was measured again near the exposure limit (0: on ``students``, with the rest).
    """

    family: str
    runs: dict[str, PolicyRun]
    reference: str
    differences: dict[str, Interval]
    slices: dict[str, Interval]
    slice_sizes: dict[str, int]
    item_ids: list[str]
    students: int
    validation: dict[str, float] = field(default_factory=dict)
    exposure_students: int = 0

    @property
    def challenger_max_item_share(self) -> float:
        """Largest share of the challenger's decisions on one item."""
        return float(self.runs[CHALLENGER].item_share.max())


def item_shares(chosen: Any, n_items: int = 0) -> np.ndarray:
    """Share of a simulation's decisions per item (the exposure figure the gate reads).

    Args:
        chosen: The items chosen, as bank or world rows (any shape).
        n_items: Items in the bank or world (the length of the result, at least).

    Returns:
        One share per item; all zero when nothing was chosen.
    """
    chosen = np.asarray(chosen).ravel()
    return np.bincount(chosen, minlength=n_items) / max(1, len(chosen))


def _slices(prior: np.ndarray) -> dict[str, np.ndarray]:
    """Students by prior mastery: the lowest and the highest third.

    A slice that holds every student (no spread in prior mastery, e.g. a world whose students
    all start from nothing) is left out: it would repeat the overall comparison.
    """
    low_cut, high_cut = np.quantile(prior, [1 / 3, 2 / 3])
    candidates = {
        "low_prior_mastery": prior <= low_cut,
        "high_prior_mastery": prior > high_cut if high_cut > low_cut else prior > low_cut,
    }
    return {name: mask for name, mask in candidates.items() if 0 < mask.sum() < len(prior)}


def evaluate_family(
    family: str,
    world: Any,
    choosers: Mapping[str, Callable[[Any], Any]],
    *,
    simulate: Callable[..., Any],
    students: int,
    steps: int,
    seed: int,
    resamples: int,
    bootstrap_seed: int,
    level: float = 0.95,
) -> FamilyResult:
    """Runs every policy in one world on the same students and compares them.

    Args:
        family: Family name.
        world: A fitted student world (:class:`quizops.simulation.StudentWorld`).
        choosers: Policy name -> factory building a fresh chooser for the world; must hold
            :data:`CHALLENGER`, may hold :data:`CHAMPION`, the rest are baselines (a name with
            ``oracle`` in it is reported but never the reference).
        simulate: :func:`quizops.simulation.simulate` (passed in so tests can give a world of
            their own).
        students: Students per policy.
        steps: Items per student.
        seed: Seed shared by every policy (paired).
        resamples: Bootstrap resamples over students.
        bootstrap_seed: Seed of the resamples.
        level: Interval coverage.

    Returns:
        The family's result.
    """
    counts = np.concatenate(bootstrap_counts(students, resamples, bootstrap_seed))
    tail = (1.0 - level) / 2.0 * 100.0
    n_items = len(world.item_ids)
    runs: dict[str, PolicyRun] = {}
    prior: np.ndarray | None = None
    for name, factory in choosers.items():
        recorder = _RecordingWorld(world)
        result = simulate(factory(world), recorder, students=students, steps=steps, seed=seed)
        trajectory = np.column_stack(recorder.records[: steps + 1]).astype(float)
        final = np.asarray(result.final_mastered, dtype=float)
        prior = np.asarray(result.prior_mastered, dtype=float)
        resampled = counts @ trajectory / students  # [resamples, steps + 1]
        low, high = np.percentile(resampled, [tail, 100.0 - tail], axis=0)
        chosen = np.asarray(result.chosen).ravel()
        runs[name] = PolicyRun(
            name=name,
            mastered=percentile_interval(float(final.mean()), counts @ final / students, level),
            curve=trajectory.mean(axis=0),
            curve_low=low,
            curve_high=high,
            item_share=item_shares(chosen, n_items),
            final=final,
        )
        logger.info(
            "simulation %s: %s masters %.3f skills [%.3f, %.3f]",
            family,
            name,
            runs[name].mastered.estimate,
            runs[name].mastered.low,
            runs[name].mastered.high,
        )
    challenger = runs[CHALLENGER].final
    differences = {
        name: percentile_interval(
            float((challenger - run.final).mean()),
            counts @ (challenger - run.final) / students,
            level,
        )
        for name, run in runs.items()
        if name != CHALLENGER
    }
    if CHAMPION in runs:
        reference = CHAMPION
    else:
        baselines = [n for n in runs if n not in (CHALLENGER, CHAMPION) and "oracle" not in n]
        reference = max(baselines, key=lambda n: runs[n].mastered.estimate) if baselines else ""
    slices: dict[str, Interval] = {}
    sizes: dict[str, int] = {}
    if reference and prior is not None:
        diff = challenger - runs[reference].final
        for slice_name, mask in _slices(prior).items():
            members = np.flatnonzero(mask)
            sub = diff[members]
            # Resample within the slice: the slice's students, with replacement.
            sub_counts = np.concatenate(
                bootstrap_counts(len(members), resamples, bootstrap_seed + 1)
            )
            slices[slice_name] = percentile_interval(
                float(sub.mean()), sub_counts @ sub / len(members), level
            )
            sizes[slice_name] = len(members)
    return FamilyResult(
        family=family,
        runs=runs,
        reference=reference,
        differences=differences,
        slices=slices,
        slice_sizes=sizes,
        item_ids=list(world.item_ids),
        students=students,
        validation={k: float(v) for k, v in dict(getattr(world, "validation", {})).items()},
    )
