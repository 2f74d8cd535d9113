"""A second course, built on purpose by other code than the hand-made world (``world.py``).

Checks that the policy does not overfit one world. What differs:

- knowledge is continuous: each student has a proficiency per skill, mastered at >= 0;
- answers follow a three-parameter IRT curve per item (discrimination, difficulty, guessing);
  an item tagged with two skills needs both (the product of the two curves);
- other prerequisites (a diamond: two roots, a skill needing both, a deeper chain);
- another item mix: a third of the items only assess (teach nothing), some are worked
  examples that teach a lot, the rest teach a little; a tenth are tagged with two skills;
- learning adds proficiency (item rate x the student's speed x a random factor), a tenth as much
  when a prerequisite is not mastered;
- the logs come from teachers who walk the skills in a random prerequisite-respecting order, a
  random number of items per skill, with a quarter of off-plan items, and carry *no*
  propensities (like real exports); multi-skill answers are one row per skill (ASSISTments).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: (skill id, name, prerequisite indices)
_COURSE_B_SKILLS: list[tuple[str, str, tuple[int, ...]]] = [
    ("901", "Reading Graphs", ()),
    ("902", "Ratios", ()),
    ("903", "Slope", (0,)),
    ("904", "Proportional Relationships", (0, 1)),
    ("905", "Linear Functions", (2, 3)),
    ("906", "Systems of Equations", (4,)),
]


@dataclass
class CourseB:
    """The second course's hidden truth (see the module docstring).

    Attributes:
        skill_ids: Skill ids.
        skill_names: Skill names.
        prerequisites: Prerequisite indices per skill.
        item_ids: Item ids.
        item_skills: Skill indices per item (one or two).
        discrimination: IRT discrimination per item.
        difficulty: IRT difficulty per item (in proficiency units).
        guessing: Lower asymptote per item.
        rate: Proficiency added per answer (0: assessment only), per item.
        seed: Seed the course was drawn from.
    """

    skill_ids: list[str]
    skill_names: list[str]
    prerequisites: list[tuple[int, ...]]
    item_ids: list[str]
    item_skills: list[tuple[int, ...]]
    discrimination: np.ndarray
    difficulty: np.ndarray
    guessing: np.ndarray
    rate: np.ndarray
    seed: int

    def __post_init__(self) -> None:
        s = len(self.skill_ids)
        self._requires = np.zeros((s, s), dtype=bool)
        for k, pre in enumerate(self.prerequisites):
            self._requires[k, list(pre)] = True
        self._tags = np.full((len(self.item_ids), 2), -1, dtype=np.int64)
        for i, tags in enumerate(self.item_skills):
            self._tags[i, : len(tags)] = tags

    @property
    def name(self) -> str:
        """Short name for reports."""
        return f"course-b-{self.seed}"

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return len(self.skill_ids)

    def new_students(self, n_students: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draws students: proficiency per skill and learning speed."""
        theta = np.empty((n_students, self.n_skills))
        for k, pre in enumerate(self.prerequisites):
            theta[:, k] = rng.normal(-0.4 if not pre else -1.6, 0.8 if not pre else 0.6, n_students)
            for p in pre:  # nobody masters a skill before its prerequisites
                theta[:, k] = np.where(theta[:, p] < 0, np.minimum(theta[:, k], -0.6), theta[:, k])
        return {"theta": theta, "speed": np.exp(rng.normal(0.0, 0.4, n_students))}

    def respond(self, students: dict[str, np.ndarray], items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Answers by 3PL (product over an item's skills); learning adds proficiency."""
        theta = students["theta"]
        n = len(items)
        rows = np.arange(n)
        tags = self._tags[items]
        p = np.ones(n)
        for j in range(2):
            has = tags[:, j] >= 0
            s = np.where(has, tags[:, j], 0)
            z = self.discrimination[items] * (theta[rows, s] - self.difficulty[items])
            curve = 1.0 / (1.0 + np.exp(-z))
            p = np.where(has, p * curve, p)
        g = self.guessing[items]
        correct = (u_answer < g + (1.0 - g) * p).astype(np.int64)
        mastered = theta >= 0.0
        for j in range(2):
            has = tags[:, j] >= 0
            s = np.where(has, tags[:, j], 0)
            ready = ~np.any(self._requires[s] & ~mastered, axis=1)
            step = self.rate[items] * students["speed"] * (0.5 + u_learn[rows, s])
            theta[rows, s] += np.where(has, step * np.where(ready, 1.0, 0.1), 0.0)
        return correct

    def mastered(self, students: dict[str, np.ndarray]) -> np.ndarray:
        """Skills at proficiency >= 0."""
        return students["theta"] >= 0.0

    def oracle_scores(self, students: dict[str, np.ndarray]) -> np.ndarray:
        """Expected progress towards mastery per item, knowing proficiencies (unlocks add)."""
        theta = students["theta"]
        mastered = theta >= 0
        ready = ~np.any(self._requires[None] & ~mastered[:, None, :], axis=2)
        gap = np.maximum(-theta, 1e-6)
        unlocks = self._requires.sum(axis=0)
        scores = np.zeros((len(theta), len(self.item_ids)))
        for j in range(2):
            has = self._tags[:, j] >= 0
            s = np.where(has, self._tags[:, j], 0)
            step = self.rate[None, :] * students["speed"][:, None] * np.where(ready[:, s], 1, 0.1)
            progress = np.minimum(step / gap[:, s], 1.0) * ~mastered[:, s]
            scores += np.where(has[None, :], progress * (1.0 + 0.25 * unlocks[s])[None, :], 0.0)
        return scores


def make_course_b(seed: int = 11, items_per_skill: int = 12) -> CourseB:
    """Draws the second course.

    Args:
        seed: Seed of the course.
        items_per_skill: Single-skill items per skill (two-skill items come on top).

    Returns:
        The course.
    """
    rng = np.random.default_rng(seed)
    item_skills: list[tuple[int, ...]] = []
    for k in range(len(_COURSE_B_SKILLS)):
        item_skills += [(k,)] * items_per_skill
    # Two-skill items: a skill with one of its prerequisites.
    for k, (_, _, pre) in enumerate(_COURSE_B_SKILLS):
        for p in pre:
            item_skills += [(k, p)] * 2
    n = len(item_skills)
    kind = rng.choice(3, size=n, p=[0.35, 0.45, 0.20])  # assess, practice, worked example
    rate = np.where(kind == 0, 0.0, np.where(kind == 1, rng.uniform(0.05, 0.2, n),
                                             rng.uniform(0.5, 0.9, n)))  # fmt: skip
    ids = rng.choice(np.arange(300_000, 399_999), size=n, replace=False)
    return CourseB(
        skill_ids=[s[0] for s in _COURSE_B_SKILLS],
        skill_names=[s[1] for s in _COURSE_B_SKILLS],
        prerequisites=[s[2] for s in _COURSE_B_SKILLS],
        item_ids=[str(i) for i in ids],
        item_skills=item_skills,
        discrimination=rng.uniform(0.8, 2.0, n),
        difficulty=rng.normal(-0.5, 0.7, n),
        guessing=np.where(rng.random(n) < 0.3, 0.25, 0.05),
        rate=rate,
        seed=seed,
    )


def _teacher_plan(course: CourseB, rng: np.random.Generator) -> list[int]:
    """A random prerequisite-respecting order of the skills."""
    order: list[int] = []
    remaining = set(range(course.n_skills))
    while remaining:
        ready = sorted(k for k in remaining if all(p in order for p in course.prerequisites[k]))
        pick = int(rng.choice(ready))
        order.append(pick)
        remaining.remove(pick)
    return order


def simulate_course_b_logs(course: CourseB, n_interactions: int = 50_000,
                           steps_per_student: int = 40, seed: int = 0,
                           start_order_id: int = 50_000_000) -> pd.DataFrame:  # fmt: skip
    """Teacher-led logs of the second course in the ASSISTments layout, without propensities.

    Args:
        course: The course.
        n_interactions: About how many answers (rounded up to whole students).
        steps_per_student: Answers per student.
        seed: Seed of students, plans and answers.
        start_order_id: First order id.

    Returns:
        The log: one row per answer and skill (a two-skill answer is two rows with the same
        ``order_id``), ASSISTments column names, no ``propensity`` column, no personal data.
    """
    from quizops.simulation.export import ASSISTMENTS_COLUMNS

    rng = np.random.default_rng(seed)
    n_students = max(1, -(-n_interactions // steps_per_student))
    students = course.new_students(n_students, rng)
    by_skill = [
        np.flatnonzero([tags[0] == k for tags in course.item_skills])
        for k in range(course.n_skills)
    ]
    plans = [_teacher_plan(course, rng) for _ in range(n_students)]
    quotas = rng.integers(3, 9, (n_students, course.n_skills))
    cursor = np.zeros(n_students, dtype=np.int64)
    used = np.zeros(n_students, dtype=np.int64)
    items = np.empty((steps_per_student, n_students), dtype=np.int64)
    correct = np.empty_like(items)
    for step in range(steps_per_student):
        pick = np.empty(n_students, dtype=np.int64)
        for s in range(n_students):
            k = plans[s][min(cursor[s], course.n_skills - 1)]
            pool = by_skill[k]
            pick[s] = pool[rng.integers(0, len(pool))]
        off_plan = rng.random(n_students) < 0.25
        pick = np.where(off_plan, rng.integers(0, len(course.item_ids), n_students), pick)
        items[step] = pick
        correct[step] = course.respond(
            students, pick, rng.random(n_students), rng.random((n_students, course.n_skills))
        )
        used += ~off_plan
        plan_skill = np.array([plans[s][min(cursor[s], course.n_skills - 1)]
                               for s in range(n_students)])  # fmt: skip
        done = used >= quotas[np.arange(n_students), plan_skill]
        cursor += done
        used[done] = 0
    user_ids = rng.choice(np.arange(100_000, 199_999), size=n_students, replace=False)
    records = []
    order_id = start_order_id
    student_order = [rng.permutation(n_students) for _ in range(steps_per_student)]
    for step in range(steps_per_student):
        for s in student_order[step]:
            i = int(items[step, s])
            for k in course.item_skills[i]:
                records.append((order_id, int(user_ids[s]), i, k, int(correct[step, s]), step))
            order_id += 1
    raw = pd.DataFrame(records, columns=["order_id", "user", "item", "skill", "correct", "step"])
    total = len(raw)
    frame = pd.DataFrame(
        {
            "order_id": raw["order_id"],
            "assignment_id": 60_000 + raw["skill"],
            "user_id": raw["user"].astype(str),
            "assistment_id": 70_000 + raw["item"],
            "problem_id": np.array(course.item_ids)[raw["item"]],
            "original": 1,
            "correct": raw["correct"],
            "attempt_count": np.where(raw["correct"] == 1, 1, 2),
            "ms_first_response": rng.lognormal(9.3, 0.7, total).astype(np.int64),
            "tutor_mode": "tutor",
            "answer_type": "choose_1",
            "sequence_id": 8_000 + raw["skill"],
            "student_class_id": 500 + raw["user"] % 17,
            "position": 1 + raw["skill"],
            "type": "LinearSection",
            "base_sequence_id": 8_000 + raw["skill"],
            "skill_id": np.array(course.skill_ids)[raw["skill"]],
            "skill_name": np.array(course.skill_names)[raw["skill"]],
            "teacher_id": 30_000 + raw["user"] % 7,
            "school_id": 90,
            "hint_count": 0,
            "hint_total": 2,
            "overlap_time": rng.lognormal(9.4, 0.7, total).astype(np.int64),
            "template_id": 80_000 + raw["item"],
            "answer_id": rng.integers(100_000, 999_999, total),
            "answer_text": np.where(raw["correct"] == 1, "correct", "wrong"),
            "first_action": 0,
            "bottom_hint": "",
            "opportunity": raw["step"] + 1,
            "opportunity_original": raw["step"] + 1,
        },
        columns=[c for c in ASSISTMENTS_COLUMNS if c != "propensity"],
    )
    logger.info("course B: %d rows (%d answers) of %d students", total, order_id - start_order_id,
                n_students)  # fmt: skip
    return frame
