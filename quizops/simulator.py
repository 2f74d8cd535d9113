"""A student simulator that writes realistic interaction logs and evaluates policies.

The world: skills with prerequisites, items that differ in difficulty (guess and slip) and in how
much they teach, students who differ in ability and learning speed. A student knows a skill or
does not (the Bayesian Knowledge Tracing view); practising an item of a skill whose prerequisites
the student knows may teach it, with the item's teaching rate scaled by the student's learning
speed. Practising a skill whose prerequisites are unknown teaches almost nothing.

Logs come from an exploring logging policy (a curriculum heuristic, epsilon-uniform), with the
propensity of each choice, in the ASSISTments 2009 skill-builder column layout. Like real exports,
some rows carry personal data: e-mail addresses as user ids, names and phone numbers typed into
``answer_text``. Only the raw zone may ever hold these files.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
    rows = np.arange(cohort.size)
    skills = world.item_skill[items]
    knows = cohort.known[rows, skills]
    p_correct = np.where(knows, 1.0 - world.slip[items], world.guess[items])
    logit = np.log(p_correct / (1.0 - p_correct)) + cohort.ability
    correct = (rng.random(cohort.size) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    ready = np.all(cohort.known | ~world.requires[skills], axis=1)
    p_learn = world.teach[items] * cohort.learning * np.where(ready, 1.0, 0.05)
    learns = (~knows) & (rng.random(cohort.size) < np.clip(p_learn, 0.0, 1.0))
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
    """

    mean_mastery: float
    mean_gain: float
    mean_correct: float
    students: int
    steps: int
    curve: tuple[float, ...] = ()


def rollout(world: World, choose: Callable[[list[list[tuple[str, int]]]], Sequence[str]],
            n_students: int = 300, steps: int = 30, seed: int = 1000) -> RolloutResult:  # fmt: skip
    """Runs a policy on fresh simulated students.

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


#: A policy under simulation: given each student's history, one item id per student.
Chooser = Callable[[list[list[tuple[str, int]]]], Sequence[str]]


def random_chooser(world: World, seed: int = 0) -> Chooser:
    """A policy that picks items uniformly at random (the baseline).

    Args:
        world: The course.
        seed: Seed of its choices.

    Returns:
        A chooser for :func:`rollout`.
    """
    rng = np.random.default_rng(seed)

    def choose(histories: list[list[tuple[str, int]]]) -> list[str]:
        picks = rng.integers(0, world.n_items, len(histories))
        return [world.item_ids[i] for i in picks]

    return choose


def logging_chooser(world: World, seed: int = 0) -> Chooser:
    """The exploring curriculum policy that produced the simulated logs, as a chooser.

    Args:
        world: The course.
        seed: Seed of its choices.

    Returns:
        A chooser for :func:`rollout` (one cohort per chooser).
    """
    rng = np.random.default_rng(seed)
    policy = LoggingPolicy(world)
    index = {item: i for i, item in enumerate(world.item_ids)}

    def choose(histories: list[list[tuple[str, int]]]) -> list[str]:
        if policy._runs is None or len(policy._runs) != len(histories):
            policy.reset(len(histories))
        if histories and histories[0]:
            last = [h[-1] for h in histories]
            policy.observe(
                np.array([index[item] for item, _ in last]), np.array([ok for _, ok in last])
            )
        items, _ = policy.choose(rng)
        return [world.item_ids[i] for i in items]

    return choose


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


def register(subparsers: Any) -> None:
    """Adds the ``simulate`` subcommand.

    Args:
        subparsers: The dispatcher's subparsers.
    """
    parser = subparsers.add_parser("simulate", help="write simulated ASSISTments-style logs")
    parser.add_argument("output", help="CSV file to write (keep it in the raw zone)")
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--world-seed", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=_simulate_command)


def _simulate_command(args: argparse.Namespace) -> int:
    world = make_world(args.world_seed)
    frame = simulate_logs(world, args.interactions, seed=args.seed)
    write_assistments_csv(frame, args.output)
    return 0
