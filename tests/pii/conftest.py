import pandas as pd
import pytest

from quizops.canonical import CANONICAL_COLUMNS

KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
OTHER_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")

#: Personal values planted in the fixtures: none may survive into any output.
CANARIES = {
    "email_id": "maria.gonzalez@school.example.org",
    "email_text": "jane.doe@example.org",
    "phone": "+44 20 7946 0958",
    "name": "Sebastian Hoffmann",
    "ssn": "219-09-9999",
    "address": "4890 Bowers View Apt. 883",
}


def canonical_row(i: int, student: str, answer: str = "42") -> dict:
    return {
        "interaction_id": f"{i}:7",
        "student_id": student,
        "item_id": str(100 + i % 7),
        "skill_id": "7",
        "skill_name": "Equation Solving",
        "correct": i % 2,
        "timestamp": 1_000 + i,
        "attempt_count": 1,
        "response_time_ms": 5000.0,
        "hint_count": 0,
        "answer_text": answer,
        "propensity": 0.5,
    }


@pytest.fixture
def pii_frame() -> pd.DataFrame:
    """30 students, 120 rows, personal data the way real exports carry it."""
    rows = []
    for i in range(120):
        student = CANARIES["email_id"] if i % 30 == 0 else str(70000 + i % 30)
        answer = "42"
        if i == 3:
            answer = f"x = 5, email me at {CANARIES['email_text']}"
        elif i == 4:
            answer = f"My name is {CANARIES['name']}, call {CANARIES['phone']}"
        elif i == 5:
            answer = f"my SSN is {CANARIES['ssn']} and I live at {CANARIES['address']}"
        rows.append(canonical_row(i, student, answer))
    df = pd.DataFrame(rows)[CANONICAL_COLUMNS]
    from quizops.canonical import conform

    return conform(df, "fixture")
