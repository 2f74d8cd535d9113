"""The contracts of simulation: a student world, a chooser, and what a rollout hands a chooser.

A *world* holds hidden student states and answers items; a *chooser* (a policy, a baseline or
an oracle) sees only what a tutor sees, each student's answers so far, and picks the next item
with the probability it chose it. :func:`quizops.simulation.rollouts.simulate` runs one against
the other with common random numbers, so that two choosers meet the same students.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class StudentWorld(Protocol):
    """A simulated course with hidden student states.

    Attributes:
        item_ids: Item ids of the course (the candidates of every choice).
        n_skills: Number of skills whose mastery the world reports.
        name: Short name for reports.
    """

    item_ids: list[str]

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        ...

    @property
    def name(self) -> str:
        """Short name for reports."""
        ...

    def new_students(self, n_students: int, rng: np.random.Generator) -> Any:
        """Draws new students; returns their hidden state (opaque to choosers)."""
        ...

    def respond(self, students: Any, items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Each student answers one item (indices into ``item_ids``) and may learn.

        ``u_answer`` has one uniform draw per student, ``u_learn`` one per student and skill
        (matrix [students, n_skills]); the world uses no other randomness, so the same draws
        give the same outcomes for the same choices.
        """
        ...

    def mastered(self, students: Any) -> np.ndarray:
        """Boolean matrix [students, n_skills]: which skills each student has mastered."""
        ...

    def oracle_scores(self, students: Any) -> np.ndarray:
        """Matrix [students, items]: the value of each item now, knowing the hidden state."""
        ...


@dataclass
class RolloutContext:
    """What a chooser is told when a rollout starts.

    Attributes:
        n_students: Size of the cohort; every call to ``choose`` picks one item per student.
        item_ids: Candidate item ids (the world's bank), in the world's order.
        rng: The chooser's own random stream (separate from the world's draws).
        world: The world. Only oracles may read it (with ``students``); a fair chooser must not.
        students: The hidden student state (oracles only).
    """

    n_students: int
    item_ids: list[str]
    rng: np.random.Generator
    world: StudentWorld | None = None
    students: Any = None


@runtime_checkable
class Chooser(Protocol):
    """A policy under simulation; it sees each student's answers, never their hidden state.

    The rollout calls :meth:`start` once, then per step :meth:`choose` (one item per student,
    with the probability the chooser gave it) and :meth:`observe` (the answers).

    Attributes:
        name: Short name for reports.
    """

    name: str

    def start(self, context: RolloutContext) -> None:
        """Starts a new cohort of ``context.n_students`` students with empty histories."""
        ...

    def choose(self) -> tuple[Sequence[str], np.ndarray]:
        """Chooses one candidate item id per student; returns them and their propensities."""
        ...

    def observe(self, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Receives each student's answer (0/1) to the item just chosen."""
        ...
