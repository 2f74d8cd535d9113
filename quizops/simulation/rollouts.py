"""Rollouts: choosers meet simulated students, with common random numbers.

:func:`simulate` is the evaluation entry point: the same seed gives the same students and the
same random draws (answers, learning) for any chooser, so two choosers are compared on paired
students. :func:`rollout` is the older history-callback form kept for the evaluation gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from quizops.errors import InputDataError
from quizops.simulation.base import Chooser, RolloutContext, StudentWorld
from quizops.simulation.logging_policy import LoggingPolicy
from quizops.simulation.world import World, new_cohort, practise

logger = logging.getLogger(__name__)

#: A history-callback policy (for :func:`rollout`): given each student's history as
#: ``(item_id, correct)`` pairs, one item id per student.
HistoryChooser = Callable[[list[list[tuple[str, int]]]], Sequence[str]]


@dataclass(frozen=True)
class RolloutResult:
    """What a policy achieved in simulation.

    Attributes:
        mean_mastery: Mean share of skills known at the end, over students.
        mean_gain: Mean number of skills learnt during the episode.
        mean_correct: Mean correctness of the answers given during the episode.
        students: Students simulated.
        steps: Items per student.
        curve: Mean share of skills known after each step (the learning curve).
        final_mastered: Skills mastered at the end, per student (:func:`simulate` only).
        prior_mastered: Skills mastered before the first item, per student (for slices).
        chosen: Item index chosen per step and student, matrix [steps, students].
        propensities: Probability of each choice, matrix [steps, students].
        chooser: Name of the chooser.
        world: Name of the world.
    """

    mean_mastery: float
    mean_gain: float
    mean_correct: float
    students: int
    steps: int
    curve: tuple[float, ...] = ()
    final_mastered: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False)
    prior_mastered: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False)
    chosen: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), int), compare=False)
    propensities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), compare=False)
    chooser: str = ""
    world: str = ""

    def mastered_interval(self, z: float = 1.959963984540054) -> tuple[float, float, float]:
        """Mean skills mastered at the end with a normal-approximation confidence interval.

        Args:
            z: Normal quantile (default: 97.5% quantile, a two-sided 95% interval).

        Returns:
            ``(mean, low, high)``.

        Raises:
            InputDataError: The result has no per-student figures (from :func:`rollout`).
        """
        values = np.asarray(self.final_mastered, dtype=float)
        if values.size == 0:
            raise InputDataError("rollout result: no per-student mastery (use simulate())")
        mean = float(values.mean())
        half = z * float(values.std(ddof=1)) / np.sqrt(values.size) if values.size > 1 else 0.0
        return mean, mean - half, mean + half


def simulate(chooser: Chooser, world: StudentWorld, *, students: int, steps: int,
             seed: int) -> RolloutResult:  # fmt: skip
    """Runs a chooser on fresh students of a world with common random numbers.

    The seed fixes three independent streams: the students drawn, the uniform draws that decide
    answers and learning (one per student and step, and per skill for learning), and the
    chooser's own stream. Two choosers run with the same seed meet the same students and the
    same draws, so their difference is due to their choices alone (a paired comparison).

    Args:
        chooser: The policy under test.
        world: The world.
        students: Cohort size.
        steps: Items per student.
        seed: Seed of the three streams.

    Returns:
        The result, with per-student figures.

    Raises:
        InputDataError: The chooser picked an item that is not in the world.
    """
    world_seed, draw_seed, chooser_seed = np.random.SeedSequence(seed).spawn(3)
    state = world.new_students(students, np.random.default_rng(world_seed))
    draws = np.random.default_rng(draw_seed)
    u_answer = draws.random((steps, students))
    u_learn = draws.random((steps, students, world.n_skills))
    index = {item: i for i, item in enumerate(world.item_ids)}
    context = RolloutContext(
        n_students=students,
        item_ids=list(world.item_ids),
        rng=np.random.default_rng(chooser_seed),
        world=world,
        students=state,
    )
    chooser.start(context)
    prior = world.mastered(state).sum(axis=1)
    chosen = np.empty((steps, students), dtype=np.int64)
    propensities = np.empty((steps, students))
    corrects = 0
    curve = []
    for step in range(steps):
        item_ids, propensity = chooser.choose()
        try:
            items = np.fromiter((index[i] for i in item_ids), dtype=np.int64, count=students)
        except KeyError as exc:
            raise InputDataError(
                f"chooser {chooser.name}: item_id {exc.args[0]!r} is not in world {world.name}"
            ) from None
        correct = world.respond(state, items, u_answer[step], u_learn[step])
        chooser.observe(item_ids, correct)
        chosen[step], propensities[step] = items, propensity
        corrects += int(correct.sum())
        curve.append(float(world.mastered(state).mean()))
    final = world.mastered(state).sum(axis=1)
    return RolloutResult(
        mean_mastery=float(final.mean() / world.n_skills),
        mean_gain=float((final - prior).mean()),
        mean_correct=corrects / max(1, students * steps),
        students=students,
        steps=steps,
        curve=tuple(curve),
        final_mastered=final,
        prior_mastered=prior,
        chosen=chosen,
        propensities=propensities,
        chooser=getattr(chooser, "name", type(chooser).__name__),
        world=world.name,
    )


def rollout(world: World, choose: HistoryChooser, n_students: int = 300, steps: int = 30,
            seed: int = 1000) -> RolloutResult:  # fmt: skip
    """Runs a history-callback policy on fresh simulated students of the hand-made world.

    Args:
        world: The course.
        choose: Given each student's history as ``(item_id, correct)`` pairs, returns one item id
            per student.
        n_students: Students.
        steps: Items per student.
        seed: Seed of the students and their answers (use the same seed to compare policies).

    Returns:
        The result.
    """
    rng = np.random.default_rng(seed)
    cohort = new_cohort(world, n_students, rng)
    start = cohort.known.sum(axis=1)
    index = {item: i for i, item in enumerate(world.item_ids)}
    histories: list[list[tuple[str, int]]] = [[] for _ in range(n_students)]
    corrects = 0
    curve = []
    for _ in range(steps):
        chosen = choose(histories)
        items = np.array([index[item] for item in chosen])
        answer = practise(world, cohort, items, rng)
        corrects += int(answer.sum())
        for history, item, ok in zip(histories, chosen, answer, strict=True):
            history.append((item, int(ok)))
        curve.append(float(cohort.known.mean()))
    end = cohort.known.sum(axis=1)
    return RolloutResult(
        mean_mastery=float(end.mean() / world.n_skills),
        mean_gain=float((end - start).mean()),
        mean_correct=corrects / (n_students * steps),
        students=n_students,
        steps=steps,
        curve=tuple(curve),
    )


def random_chooser(world: World, seed: int = 0) -> HistoryChooser:
    """A policy that picks items uniformly at random (the baseline), for :func:`rollout`.

    Args:
        world: The course.
        seed: Seed of its choices.

    Returns:
        A history callback for :func:`rollout`.
    """
    rng = np.random.default_rng(seed)

    def choose(histories: list[list[tuple[str, int]]]) -> list[str]:
        picks = rng.integers(0, world.n_items, len(histories))
        return [world.item_ids[i] for i in picks]

    return choose


def logging_chooser(world: World, seed: int = 0) -> HistoryChooser:
    """The exploring curriculum policy that produced the simulated logs, for :func:`rollout`.

    Args:
        world: The course.
        seed: Seed of its choices.

    Returns:
        A history callback for :func:`rollout` (one cohort per callback).
    """
    rng = np.random.default_rng(seed)
    policy = LoggingPolicy(world)
    index = {item: i for i, item in enumerate(world.item_ids)}

    def choose(histories: list[list[tuple[str, int]]]) -> list[str]:
        if policy.cohort_size != len(histories):
            policy.reset(len(histories))
        if histories and histories[0]:
            last = [h[-1] for h in histories]
            policy.observe(
                np.array([index[item] for item, _ in last]), np.array([ok for _, ok in last])
            )
        items, _ = policy.choose(rng)
        return [world.item_ids[i] for i in items]

    return choose
