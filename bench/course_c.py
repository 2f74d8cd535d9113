"""A third student world for generality checks, written apart from quizops.simulation's worlds.

Nothing here is used to train defaults: it exists so that the policy is judged on data no code
of the library generated. What differs from the hand-made world (``world.py``) and the second
course (``course_b.py``):

- knowledge has three levels per skill (0 unknown, 1 partial, 2 mastered); an item that teaches
  moves a skill up one level at a time, so mastering a skill takes at least two learning events;
- a skill is mastered only at level 2, and a mastered skill that is not practised is forgotten
  back to level 1 with a small probability per question;
- answers depend on the level (guess / partial / 1 - slip) and on the student's carefulness
  (each student's own slip multiplier) and ability;
- students learn at different speeds (lognormal speed multiplies every teaching rate);
- the prerequisite graph is another one (8 skills, two roots, a join, a deep chain);
- two fifths of the items only assess (teach nothing); a few are tagged with a skill and one of
  its prerequisites (both move);
- practising a skill whose prerequisites are not mastered teaches a fifth as much;
- the logs come from an ASSISTments-like skill builder: each student works through the skills in
  the course's order, on each skill until three right answers in a row (or 10 items), with a
  fifth of off-plan random items, and carry *no* propensities.

``python -m bench.course_c --out logs.csv [--interactions 50000] [--seed 0]`` writes the logs as
an ASSISTments 2009 CSV (``make run DATA=logs.csv FORMAT=assistments``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: (skill id, name, prerequisite indices)
SKILLS: list[tuple[str, str, tuple[int, ...]]] = [
    ("1201", "Place Value", ()),
    ("1202", "Number Line", ()),
    ("1203", "Rounding", (0,)),
    ("1204", "Integers", (0, 1)),
    ("1205", "Estimation", (2,)),
    ("1206", "Order of Operations", (3,)),
    ("1207", "Expressions", (4, 5)),
    ("1208", "Absolute Value", (1,)),
]
#: Per-question probability that a mastered skill not practised falls back to level 1.
FORGET = 0.004
#: Teaching multiplier when a prerequisite is not mastered.
UNREADY = 0.2


@dataclass
class CourseC:
    """The third course's hidden truth (see the module docstring).

    Attributes:
        item_ids: Item ids.
        item_skills: Skill indices per item (the first is its main skill).
        guess: P(correct) at level 0, per item.
        partial: P(correct) at level 1, per item.
        slip: P(wrong) at level 2 (before the student's carefulness), per item.
        teach: P(an answer moves each tagged skill up a level), per item (0: assess only).
        seed: Seed the course was drawn from.
    """

    item_ids: list[str]
    item_skills: list[tuple[int, ...]]
    guess: np.ndarray
    partial: np.ndarray
    slip: np.ndarray
    teach: np.ndarray
    seed: int
    skill_ids: list[str] = field(default_factory=lambda: [s[0] for s in SKILLS])
    skill_names: list[str] = field(default_factory=lambda: [s[1] for s in SKILLS])

    def __post_init__(self) -> None:
        n = len(SKILLS)
        self.requires = np.zeros((n, n), dtype=bool)
        for k, (_, _, pre) in enumerate(SKILLS):
            self.requires[k, list(pre)] = True
        width = max(len(t) for t in self.item_skills)
        self.tags = np.full((len(self.item_ids), width), -1, dtype=np.int64)
        for i, tags in enumerate(self.item_skills):
            self.tags[i, : len(tags)] = tags

    @property
    def name(self) -> str:
        """Short name for reports."""
        return f"course-c-{self.seed}"

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return len(SKILLS)

    def new_students(self, n_students: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draws students: a level per skill, learning speed, carefulness and ability."""
        level = np.zeros((n_students, self.n_skills), dtype=np.int64)
        for k, (_, _, pre) in enumerate(SKILLS):
            u = rng.random(n_students)
            start = np.where(u < (0.35 if not pre else 0.08), 2, np.where(u < 0.6, 1, 0))
            for p in pre:  # nothing above partial before the prerequisites are mastered
                start = np.where(level[:, p] < 2, np.minimum(start, 1), start)
            level[:, k] = start
        return {
            "level": level,
            "speed": np.exp(rng.normal(0.0, 0.5, n_students)),
            "care": np.exp(rng.normal(0.0, 0.4, n_students)),
            "ability": rng.normal(0.0, 0.5, n_students),
        }

    def respond(self, students: dict[str, np.ndarray], items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Answers (mean over the item's skills), then learning and forgetting, in place."""
        level = students["level"]
        n = len(items)
        rows = np.arange(n)
        tags = self.tags[items]
        valid = tags >= 0
        safe = np.where(valid, tags, 0)
        lv = level[rows[:, None], safe]
        slip = np.clip(self.slip[items] * students["care"], 0.0, 0.5)
        p = np.where(
            lv == 2,
            (1.0 - slip)[:, None],
            np.where(lv == 1, self.partial[items][:, None], self.guess[items][:, None]),
        )
        p = np.where(valid, p, 0.0).sum(axis=1) / valid.sum(axis=1)
        logit = np.log(p / (1.0 - p)) + students["ability"]
        correct = (u_answer < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
        mastered = level >= 2
        practised = np.zeros_like(mastered)
        before = level.copy()
        for j in range(tags.shape[1]):
            has = valid[:, j]
            s = safe[:, j]
            practised[rows[has], s[has]] = True
            ready = ~np.any(self.requires[s] & ~mastered, axis=1)
            rate = np.clip(
                self.teach[items] * students["speed"] * np.where(ready, 1.0, UNREADY), 0.0, 1.0
            )
            up = has & (before[rows, s] < 2) & (u_learn[rows, s] < rate)
            level[rows[up], s[up]] += 1
        # Forgetting: a mastered skill not practised now, with the draw's upper tail.
        forget = mastered & ~practised & (u_learn > 1.0 - FORGET)
        level[forget] = 1
        return correct

    def mastered(self, students: dict[str, np.ndarray]) -> np.ndarray:
        """Skills at level 2."""
        return students["level"] >= 2

    def oracle_scores(self, students: dict[str, np.ndarray]) -> np.ndarray:
        """Expected level gain per item knowing levels and speed (unlocks and mastery add)."""
        level = students["level"]
        mastered = level >= 2
        ready = ~np.any(self.requires[None] & ~mastered[:, None, :], axis=2)
        unlocks = self.requires.sum(axis=0)
        scores = np.zeros((len(level), len(self.item_ids)))
        for j in range(self.tags.shape[1]):
            has = self.tags[:, j] >= 0
            s = np.where(has, self.tags[:, j], 0)
            rate = np.clip(
                self.teach[None, :] * students["speed"][:, None]
                * np.where(ready[:, s], 1.0, UNREADY), 0.0, 1.0,
            )  # fmt: skip
            # A step to level 2 masters the skill (worth more than a step to level 1).
            worth = np.where(level[:, s] == 1, 1.5, 1.0) * (level[:, s] < 2)
            scores += np.where(has[None, :], rate * worth * (1.0 + 0.25 * unlocks[s]), 0.0)
        return scores


def make_course_c(seed: int = 23, items_per_skill: int = 10) -> CourseC:
    """Draws the third course.

    Args:
        seed: Seed of the course.
        items_per_skill: Single-skill items per skill (two-skill items come on top).

    Returns:
        The course.
    """
    rng = np.random.default_rng(seed)
    item_skills: list[tuple[int, ...]] = []
    for k in range(len(SKILLS)):
        item_skills += [(k,)] * items_per_skill
    for k, (_, _, pre) in enumerate(SKILLS):
        if pre:
            item_skills.append((k, pre[0]))
    n = len(item_skills)
    assess = rng.random(n) < 0.4
    teach = np.where(assess, 0.0, rng.uniform(0.08, 0.45, n))
    ids = rng.choice(np.arange(500_000, 599_999), size=n, replace=False)
    guess = rng.uniform(0.08, 0.3, n)
    return CourseC(
        item_ids=[str(i) for i in ids],
        item_skills=item_skills,
        guess=guess,
        partial=np.clip(guess + rng.uniform(0.2, 0.4, n), 0.0, 0.85),
        slip=rng.uniform(0.04, 0.15, n),
        teach=teach,
        seed=seed,
    )


def simulate_course_c_logs(course: CourseC, n_interactions: int = 50_000,
                           steps_per_student: int = 40, seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Skill-builder logs (three right in a row) in the ASSISTments 2009 layout, no propensities.

    Args:
        course: The course.
        n_interactions: About how many answers (rounded up to whole students).
        steps_per_student: Answers per student.
        seed: Seed of students and answers.

    Returns:
        One row per answer and tagged skill (a two-skill answer is two rows sharing
        ``order_id``), ASSISTments column names, no ``propensity`` column, no personal data.
    """
    rng = np.random.default_rng(seed)
    n_students = max(1, -(-n_interactions // steps_per_student))
    students = course.new_students(n_students, rng)
    main = np.array([t[0] for t in course.item_skills])
    by_skill = [np.flatnonzero(main == k) for k in range(course.n_skills)]
    skill = np.zeros(n_students, dtype=np.int64)  # position in the course order
    streak = np.zeros(n_students, dtype=np.int64)
    tried = np.zeros(n_students, dtype=np.int64)
    items = np.empty((steps_per_student, n_students), dtype=np.int64)
    correct = np.empty_like(items)
    for step in range(steps_per_student):
        current = np.minimum(skill, course.n_skills - 1)
        pick = np.array([by_skill[k][rng.integers(0, len(by_skill[k]))] for k in current])
        off_plan = rng.random(n_students) < 0.2
        pick = np.where(off_plan, rng.integers(0, len(course.item_ids), n_students), pick)
        items[step] = pick
        u_learn = rng.random((n_students, course.n_skills))
        correct[step] = course.respond(students, pick, rng.random(n_students), u_learn)
        on_plan = ~off_plan
        streak = np.where(on_plan, np.where(correct[step] == 1, streak + 1, 0), streak)
        tried += on_plan
        done = on_plan & ((streak >= 3) | (tried >= 10))
        skill += done
        streak[done] = 0
        tried[done] = 0
    return assistments_frame(items, correct, course.item_ids, course.item_skills,
                             course.skill_ids, course.skill_names, rng)  # fmt: skip


def assistments_frame(
    items: np.ndarray,
    correct: np.ndarray,
    item_ids: list[str],
    item_skills: list[tuple[int, ...]] | list[list[int]],
    skill_ids: list[str],
    skill_names: list[str],
    rng: np.random.Generator,
    lengths: np.ndarray | None = None,
) -> pd.DataFrame:
    """Logged answers in the ASSISTments 2009 layout (one row per answer and tagged skill).

    Args:
        items: Item index answered, matrix [steps, students].
        correct: 0/1 answers, same shape.
        item_ids: Item ids by index.
        item_skills: Skill indices tagged on each item.
        skill_ids: Skill ids by index.
        skill_names: Skill names by index.
        rng: Random generator of the user ids and the columns quizops does not read.
        lengths: Answers logged per student (None: every step of ``items``); later steps
            are left out.

    Returns:
        The frame (a two-skill answer is two rows sharing ``order_id``), no ``propensity``.
    """
    steps_per_student, n_students = items.shape
    users = rng.choice(np.arange(700_000, 799_999), size=n_students, replace=False)
    records = []
    order_id = 80_000_000
    for step in range(steps_per_student):
        for s in rng.permutation(n_students):
            if lengths is not None and step >= lengths[s]:
                continue
            i = int(items[step, s])
            for k in item_skills[i]:
                records.append((order_id, int(users[s]), i, k, int(correct[step, s]), step))
            order_id += 1
    raw = pd.DataFrame(records, columns=["order_id", "user", "item", "skill", "correct", "step"])
    total = len(raw)
    ids = np.array(skill_ids)
    names = np.array(skill_names)
    return pd.DataFrame(
        {
            "order_id": raw["order_id"],
            "assignment_id": 40_000 + raw["skill"],
            "user_id": raw["user"].astype(str),
            "assistment_id": 90_000 + raw["item"],
            "problem_id": np.array(item_ids)[raw["item"]],
            "original": 1,
            "correct": raw["correct"],
            "attempt_count": np.where(raw["correct"] == 1, 1, 1 + rng.integers(1, 4, total)),
            "ms_first_response": rng.lognormal(9.6, 0.8, total).astype(np.int64),
            "tutor_mode": "tutor",
            "answer_type": "algebra",
            "sequence_id": 6_000 + raw["skill"],
            "student_class_id": 300 + raw["user"] % 23,
            "position": 1 + raw["skill"],
            "type": "MasterySection",
            "base_sequence_id": 6_000 + raw["skill"],
            "skill_id": ids[raw["skill"]],
            "skill_name": names[raw["skill"]],
            "teacher_id": 20_000 + raw["user"] % 11,
            "school_id": 70 + raw["user"] % 3,
            "hint_count": np.where(raw["correct"] == 1, 0, rng.integers(0, 3, total)),
            "hint_total": 3,
            "overlap_time": rng.lognormal(9.7, 0.8, total).astype(np.int64),
            "template_id": 60_000 + raw["item"],
            "answer_id": rng.integers(100_000, 999_999, total),
            "answer_text": np.where(raw["correct"] == 1, "right", "no"),
            "first_action": 0,
            "bottom_hint": "",
            "opportunity": raw["step"] + 1,
            "opportunity_original": raw["step"] + 1,
        }
    )


def main(argv: list[str]) -> int:
    """Writes course C logs as an ASSISTments CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    frame = simulate_course_c_logs(make_course_c(), args.interactions, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"{args.out}: {len(frame)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
