"""The logging policy of the hand-made course: a curriculum heuristic that explores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quizops.simulation.world import World


@dataclass
class LoggingPolicy:
    """The policy that chose the logged items: a curriculum heuristic that explores.

    With probability ``epsilon`` it picks an item uniformly; otherwise it picks uniformly among
    the items of the first skill (in course order) that the student has not yet answered
    correctly ``streak`` times in a row, which a tutor can observe.

    Attributes:
        world: The course.
        epsilon: Exploration rate.
        streak: Consecutive correct answers that count as mastery.
    """

    world: World
    epsilon: float = 0.3
    streak: int = 3
    _runs: np.ndarray | None = field(default=None, repr=False)

    def reset(self, n_students: int) -> None:
        """Starts tracking a new cohort.

        Args:
            n_students: Cohort size.
        """
        self._runs = np.zeros((n_students, self.world.n_skills), dtype=np.int64)

    def choose(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Chooses one item per student.

        Args:
            rng: Random generator.

        Returns:
            Item indices and their propensities.
        """
        assert self._runs is not None, "call reset() first"
        n = len(self._runs)
        n_items = self.world.n_items
        mastered = self._runs >= self.streak
        target = np.where(
            mastered.all(axis=1),
            rng.integers(0, self.world.n_skills, n),
            np.argmax(~mastered, axis=1),
        )
        in_skill = self.world.item_skill[None, :] == target[:, None]
        per_skill = in_skill.sum(axis=1)
        explore = rng.random(n) < self.epsilon
        uniform_pick = rng.integers(0, n_items, n)
        # The k-th item of the target skill, k uniform.
        k = (rng.random(n) * per_skill).astype(np.int64)
        skill_pick = np.array([np.flatnonzero(row)[j] for row, j in zip(in_skill, k, strict=True)])
        items = np.where(explore, uniform_pick, skill_pick)
        chosen_in_skill = in_skill[np.arange(n), items]
        propensity = self.epsilon / n_items + np.where(
            chosen_in_skill, (1.0 - self.epsilon) / per_skill, 0.0
        )
        return items, propensity

    @property
    def streaks(self) -> np.ndarray:
        """Observed runs of consecutive correct answers, matrix [students, skills] (a copy).

        Raises:
            RuntimeError: :meth:`reset` was not called.
        """
        if self._runs is None:
            raise RuntimeError("LoggingPolicy: call reset() first")
        return self._runs.copy()

    @property
    def cohort_size(self) -> int:
        """Size of the cohort being tracked (0 before :meth:`reset`)."""
        return 0 if self._runs is None else len(self._runs)

    def observe(self, items: np.ndarray, correct: np.ndarray) -> None:
        """Updates the observed streaks.

        Args:
            items: Items answered.
            correct: Their correctness.
        """
        assert self._runs is not None, "call reset() first"
        rows = np.arange(len(items))
        skills = self.world.item_skill[items]
        self._runs[rows, skills] = np.where(correct == 1, self._runs[rows, skills] + 1, 0)
