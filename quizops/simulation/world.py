"""World dynamics of the hand-made course: skills with prerequisites, items, students.

The world: skills with prerequisites, items that differ in difficulty (guess and slip) and in how
much they teach, students who differ in ability and learning speed. A student knows a skill or
does not (the Bayesian Knowledge Tracing view); practising an item of a skill whose prerequisites
the student knows may teach it, with the item's teaching rate scaled by the student's learning
speed. Practising a skill whose prerequisites are unknown teaches almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

_SKILLS: list[tuple[str, str, tuple[int, ...]]] = [
    # (skill_id, skill_name, indices of prerequisite skills)
    ("277", "Addition Whole Numbers", ()),
    ("280", "Subtraction Whole Numbers", (0,)),
    ("311", "Multiplication Whole Numbers", (0,)),
    ("312", "Division Whole Numbers", (2,)),
    ("47", "Equivalent Fractions", (3,)),
    ("49", "Addition and Subtraction Fractions", (1, 4)),
    ("61", "Conversion of Fraction Decimals Percents", (4,)),
    ("79", "Equation Solving Two or Fewer Steps", (1, 3)),
]


@dataclass(frozen=True)
class World:
    """The hidden truth of a simulated course.

    Attributes:
        skill_ids: Source skill ids.
        skill_names: Skill names.
        prerequisites: For each skill, the indices of the skills it requires.
        item_ids: Source item ids (ASSISTments problem ids, as strings).
        item_skill: Skill index of each item.
        guess: Probability of a correct answer without knowing the skill, per item.
        slip: Probability of a wrong answer despite knowing the skill, per item.
        teach: Probability that practising the item teaches its skill, per item.
        initial_known: Probability that a new student already knows each skill.
        seed: The seed the world was drawn from.
    """

    skill_ids: list[str]
    skill_names: list[str]
    prerequisites: list[tuple[int, ...]]
    item_ids: list[str]
    item_skill: np.ndarray
    guess: np.ndarray
    slip: np.ndarray
    teach: np.ndarray
    initial_known: np.ndarray
    seed: int

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return len(self.skill_ids)

    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.item_ids)

    @cached_property
    def requires(self) -> np.ndarray:
        """Boolean matrix [skills, skills]: entry (k, j) says skill k requires skill j."""
        return prerequisite_matrix(self)

    @property
    def name(self) -> str:
        """Short name for reports."""
        return f"handmade-{self.seed}"

    def new_students(self, n_students: int, rng: np.random.Generator) -> Cohort:
        """Draws new students (the :class:`~quizops.simulation.base.StudentWorld` protocol).

        Args:
            n_students: How many.
            rng: Random generator.

        Returns:
            The cohort.
        """
        return new_cohort(self, n_students, rng)

    def respond(self, students: Cohort, items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Each student answers one item (see :func:`practise_with`).

        Args:
            students: The cohort (updated in place).
            items: Item index per student.
            u_answer: Uniform draws deciding the answers.
            u_learn: Uniform draws deciding learning.

        Returns:
            Correctness per student.
        """
        return practise_with(self, students, items, u_answer, u_learn)

    def mastered(self, students: Cohort) -> np.ndarray:
        """Boolean matrix [students, skills] of the skills each student knows.

        Args:
            students: The cohort.

        Returns:
            The hidden knowledge state (a copy).
        """
        return students.known.copy()

    def oracle_scores(self, students: Cohort) -> np.ndarray:
        """Expected number of skills learnt by each item now, knowing the hidden state.

        The oracle of this world picks the item with the highest score: the chance that it
        teaches an unknown skill (prerequisites met), with a small bonus for skills that unlock
        others, so ties between equal teachers go to the one that opens the course.

        Args:
            students: The cohort.

        Returns:
            Matrix [students, items].
        """
        known = students.known
        ready = ~np.any(self.requires[None, :, :] & ~known[:, None, :], axis=2)
        gate = np.where(ready, 1.0, 0.05)
        unknown = ~known
        unlocks = self.requires.sum(axis=0).astype(float)  # how many skills need each skill
        value = 1.0 + 0.25 * unlocks
        per_skill = unknown * gate * value[None, :]
        return per_skill[:, self.item_skill] * np.clip(
            self.teach[None, :] * students.learning[:, None], 0.0, 1.0
        )


def make_world(seed: int = 7, items_per_skill: int = 15) -> World:
    """Draws a course: skills with prerequisites and items of varied difficulty and value.

    Args:
        seed: Seed of the world (the same seed gives the same world).
        items_per_skill: Items per skill.

    Returns:
        The world.
    """
    rng = np.random.default_rng(seed)
    n_skills = len(_SKILLS)
    item_skill = np.repeat(np.arange(n_skills), items_per_skill)
    n_items = len(item_skill)
    difficulty = rng.normal(0.0, 1.0, n_items)
    guess = 0.05 + 0.30 / (1.0 + np.exp(difficulty))
    slip = 0.03 + 0.17 / (1.0 + np.exp(-difficulty))
    # Most items teach a little; about a fifth teach a lot (worked examples, good feedback).
    teach = np.where(
        rng.random(n_items) < 0.2,
        rng.uniform(0.25, 0.45, n_items),
        rng.uniform(0.01, 0.08, n_items),
    )
    problem_ids = rng.choice(np.arange(10_000, 99_999), size=n_items, replace=False)
    initial_known = np.array([0.5 if not pre else 0.1 for _, _, pre in _SKILLS])
    return World(
        skill_ids=[s[0] for s in _SKILLS],
        skill_names=[s[1] for s in _SKILLS],
        prerequisites=[s[2] for s in _SKILLS],
        item_ids=[str(p) for p in problem_ids],
        item_skill=item_skill,
        guess=guess,
        slip=slip,
        teach=teach,
        initial_known=initial_known,
        seed=seed,
    )


@dataclass
class Cohort:
    """Simulated students, stepped together.

    Attributes:
        known: Boolean matrix [students, skills]: the hidden knowledge state.
        ability: Shift of the log-odds of a correct answer, per student.
        learning: Multiplier of item teaching rates, per student.
    """

    known: np.ndarray
    ability: np.ndarray
    learning: np.ndarray

    @property
    def size(self) -> int:
        """Number of students."""
        return len(self.ability)


def new_cohort(world: World, n_students: int, rng: np.random.Generator) -> Cohort:
    """Draws new students; a student knows a skill only if it knows its prerequisites.

    Args:
        world: The course.
        n_students: How many students.
        rng: Random generator.

    Returns:
        The cohort.
    """
    known = rng.random((n_students, world.n_skills)) < world.initial_known
    for skill, prereqs in enumerate(world.prerequisites):
        for p in prereqs:
            known[:, skill] &= known[:, p]
    return Cohort(
        known=known,
        ability=rng.normal(0.0, 0.6, n_students),
        learning=np.exp(rng.normal(0.0, 0.35, n_students)),
    )


def practise(world: World, cohort: Cohort, items: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Every student of the cohort answers one item; the cohort may learn from it.

    Args:
        world: The course.
        cohort: The students (their knowledge is updated in place).
        items: Item index per student.
        rng: Random generator.

    Returns:
        Correctness (0/1) per student.
    """
    u_answer = rng.random(cohort.size)
    u_learn = rng.random(cohort.size)
    return practise_with(world, cohort, items, u_answer, u_learn)


def practise_with(world: World, cohort: Cohort, items: np.ndarray, u_answer: np.ndarray,
                  u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
    """:func:`practise` with the uniform draws given (common random numbers for rollouts).

    Args:
        world: The course.
        cohort: The students (their knowledge is updated in place).
        items: Item index per student.
        u_answer: One uniform draw per student deciding the answer.
        u_learn: One uniform draw per student deciding whether the item teaches, or a matrix
            [students, skills] of draws of which the item's skill's column is used.

    Returns:
        Correctness (0/1) per student.
    """
    rows = np.arange(cohort.size)
    skills = world.item_skill[items]
    if u_learn.ndim == 2:  # one draw per student and skill (rollouts): take the item's skill
        u_learn = u_learn[rows, skills]
    knows = cohort.known[rows, skills]
    p_correct = np.where(knows, 1.0 - world.slip[items], world.guess[items])
    logit = np.log(p_correct / (1.0 - p_correct)) + cohort.ability
    correct = (u_answer < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    ready = np.all(cohort.known | ~world.requires[skills], axis=1)
    p_learn = world.teach[items] * cohort.learning * np.where(ready, 1.0, 0.05)
    learns = (~knows) & (u_learn < np.clip(p_learn, 0.0, 1.0))
    cohort.known[rows[learns], skills[learns]] = True
    return correct


def prerequisite_matrix(world: World) -> np.ndarray:
    """Boolean matrix [skills, skills]: entry (k, j) says skill k requires skill j.

    Args:
        world: The course.

    Returns:
        The matrix.
    """
    matrix = np.zeros((world.n_skills, world.n_skills), dtype=bool)
    for skill, prereqs in enumerate(world.prerequisites):
        matrix[skill, list(prereqs)] = True
    return matrix
