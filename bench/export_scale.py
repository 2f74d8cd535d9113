"""An export the size of ASSISTments 2009, to check that `make run` holds at a real export's scale.

The generated courses have 80-120 items; a real skill-builder export has about 110 skills,
15,000-27,000 problems, 4,000 students with 1 to 2,000 answers each, multi-skill problems (one
row per skill), scaffolding rows (``original`` 0) and rows without a skill. This writes such a
file in the ASSISTments 2009 layout from a per-skill BKT world (students work in blocks of 3-15
answers on one skill, in a noisy course order, like the skill builder):

    python -m bench.export_scale --out /tmp/export.csv
    QUIZOPS_HOME=/tmp/home make run DATA=/tmp/export.csv FORMAT=assistments

Skill names carry no number before a word: "12 Circle Graph" reads as a street address to
the PII gate, which stops the run (fail closed) and names the policy line that accepts it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

#: Words of the skill names (real ASSISTments 2009 skill names).
NAMES = ("Fractions", "Pythagorean Theorem", "Venn Diagram", "Box and Whisker", "Circle Graph",
         "Equation Solving Two or Fewer Steps")  # fmt: skip


def export_frame(skills: int = 110, per_skill: int = 160, students: int = 4200,
                 seed: int = 0) -> pd.DataFrame:  # fmt: skip
    """Simulated answers in the ASSISTments 2009 layout.

    Args:
        skills: Skills.
        per_skill: Problems per skill (12% of them also tagged with a second skill).
        students: Students (answers per student lognormal, median about 45, at most 2,500).
        seed: Seed.

    Returns:
        The frame, one row per answer and tagged skill.
    """
    rng = np.random.default_rng(seed)
    n_items = skills * per_skill
    second = np.where(rng.random(n_items) < 0.12, rng.integers(0, skills, n_items), -1)
    second[second == np.repeat(np.arange(skills), per_skill)] = -1
    p_init = rng.uniform(0.1, 0.6, skills)
    learn = rng.uniform(0.05, 0.3, skills)
    guess = rng.uniform(0.1, 0.3, n_items)
    slip = rng.uniform(0.05, 0.2, n_items)
    lengths = np.clip(rng.lognormal(3.8, 1.1, students).astype(int), 1, 2500)
    users = rng.choice(np.arange(60_000, 99_999), students, replace=False)
    rows: list[tuple[int, int, int, int, int, int]] = []
    order_id = 30_000_000
    for s in range(students):
        known = rng.random(skills) < p_init
        course = np.argsort(rng.normal(np.arange(skills), 10.0))
        position, left = 0, int(rng.integers(3, 16))
        for _ in range(lengths[s]):
            if left == 0:
                position, left = (position + 1) % skills, int(rng.integers(3, 16))
            k = int(course[position])
            item = k * per_skill + int(rng.integers(per_skill))
            tags = [k] if second[item] < 0 else [k, int(second[item])]
            p_right = np.prod([(1 - slip[item]) if known[j] else guess[item] for j in tags])
            correct = int(rng.random() < p_right)
            for j in tags:
                rows.append((order_id, int(users[s]), item, j, correct, 1))
                if not known[j] and rng.random() < learn[j]:
                    known[j] = True
            if correct == 0 and rng.random() < 0.3:  # a scaffolding row
                order_id += 1
                rows.append((order_id, int(users[s]), n_items + item, k,
                             int(rng.random() < 0.6), 0))  # fmt: skip
            order_id += 1
            left -= 1
    raw = pd.DataFrame(rows, columns=["order_id", "user", "item", "skill", "correct", "original"])
    total = len(raw)
    skill_id = (100 + raw["skill"]).astype(str).to_numpy(dtype=object)
    skill_id[rng.random(total) < 0.04] = ""  # rows without a skill, as in the real export
    names = np.array([f"{w} level {k}" for k, w in enumerate(rng.choice(NAMES, skills))])
    return pd.DataFrame(
        {
            "order_id": raw["order_id"],
            "assignment_id": 40_000 + raw["skill"],
            "user_id": raw["user"],
            "assistment_id": 90_000 + raw["item"],
            "problem_id": 50_000 + raw["item"],
            "original": raw["original"],
            "correct": raw["correct"],
            "attempt_count": np.where(raw["correct"] == 1, 1, 2),
            "ms_first_response": rng.lognormal(9.6, 0.8, total).astype(np.int64),
            "tutor_mode": "tutor",
            "answer_type": "algebra",
            "sequence_id": 6_000 + raw["skill"],
            "student_class_id": 300 + raw["user"] % 23,
            "position": 1,
            "type": "MasterySection",
            "base_sequence_id": 6_000 + raw["skill"],
            "skill_id": skill_id,
            "skill_name": np.where(skill_id == "", "", names[raw["skill"]]),
            "teacher_id": 20_000 + raw["user"] % 11,
            "school_id": 70 + raw["user"] % 3,
            "hint_count": 0,
            "hint_total": 3,
            "overlap_time": 1000,
            "template_id": 60_000 + raw["item"],
            "answer_id": "",
            "answer_text": "",
            "first_action": 0,
            "bottom_hint": "",
            "opportunity": 1,
            "opportunity_original": 1,
        }
    )


def main(argv: list[str]) -> int:
    """Writes the export."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--students", type=int, default=4200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    frame = export_frame(students=args.students, seed=args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    print(f"{args.out}: {len(frame)} rows, {frame['problem_id'].nunique()} problems, "
          f"{frame['user_id'].nunique()} students")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
