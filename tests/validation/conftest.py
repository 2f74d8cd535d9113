import numpy as np
import pandas as pd
import pytest


def canonical_frame(
    n_students=40, per_student=30, seed=0, response_scale=1.0, item_weights=None, n_items=20
):
    """A de-identified canonical table: realistic enough for every check to pass."""
    rng = np.random.default_rng(seed)
    n = n_students * per_student
    student = np.repeat([f"p{idx:04d}" for idx in range(n_students)], per_student)
    timestamp = np.tile(np.arange(per_student), n_students) + np.repeat(
        np.arange(n_students) * 1000, per_student
    )
    items = rng.choice(n_items, n, p=item_weights)
    frame = pd.DataFrame(
        {
            "interaction_id": [f"{i}" for i in range(n)],
            "student_id": student,
            "item_id": [f"i{k}" for k in items],
            "skill_id": [f"k{k % 4}" for k in items],
            "skill_name": [f"Skill {k % 4}" for k in items],
            "correct": rng.integers(0, 2, n),
            "timestamp": 20_000_000 + timestamp,
            "attempt_count": rng.integers(1, 4, n),
            "response_time_ms": rng.lognormal(9.5, 0.6, n) * response_scale,
            "hint_count": rng.integers(0, 3, n),
            "answer_text": rng.choice(["42", "x+1", "[redacted]"], n),
            "propensity": rng.uniform(0.02, 0.5, n),
        }
    )
    for column in ("interaction_id", "student_id", "item_id", "skill_id", "skill_name",
                   "answer_text"):  # fmt: skip
        frame[column] = frame[column].astype("string")
    return frame


@pytest.fixture
def frame():
    return canonical_frame()
