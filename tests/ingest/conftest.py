import pandas as pd
import pytest

from tests.conftest import running_gcs_emulator

ASSISTMENTS_COLUMNS = [
    "order_id", "assignment_id", "user_id", "assistment_id", "problem_id", "original",
    "correct", "attempt_count", "ms_first_response", "tutor_mode", "answer_type",
    "sequence_id", "student_class_id", "position", "type", "base_sequence_id", "skill_id",
    "skill_name", "teacher_id", "school_id", "hint_count", "hint_total", "overlap_time",
    "template_id", "answer_id", "answer_text", "first_action", "bottom_hint", "opportunity",
    "opportunity_original", "propensity",
]  # fmt: skip

#: Personal values planted in the fixtures: they must never reach a log line.
EMAIL = "jane.doe@example.org"
PHONE = "+1 415 555 0199"


def assistments_row(order_id, user_id, problem_id, skill_id, correct=1, **overrides):
    row = {c: "" for c in ASSISTMENTS_COLUMNS}
    row.update(
        order_id=order_id, assignment_id=1, user_id=user_id, assistment_id=problem_id,
        problem_id=problem_id, original=1, correct=correct, attempt_count=1,
        ms_first_response=5000, tutor_mode="tutor", answer_type="algebra", sequence_id=1,
        student_class_id=1, position=1, type="MasterySection", base_sequence_id=1,
        skill_id=skill_id, skill_name=f"Skill {skill_id}", teacher_id=1, school_id=1,
        hint_count=0, hint_total=3, overlap_time=5000, template_id=1, answer_id=1,
        answer_text="42", first_action=0, bottom_hint="", opportunity=1,
        opportunity_original=1, propensity=0.25,
    )  # fmt: skip
    row.update(overrides)
    return row


@pytest.fixture
def assistments_frame():
    """A small raw ASSISTments export, deliberately unsorted, with every ingest rule exercised."""
    rows = [
        assistments_row(105, "u2", 11, 7, correct=0),
        assistments_row(101, "u1", 10, 7),
        assistments_row(103, EMAIL, 12, 8, answer_text=f"call me {PHONE}"),
        assistments_row(102, "u1", 11, 7, original=0),  # scaffolding
        assistments_row(104, "u2", 13, ""),  # no skill
        assistments_row(106, "u1", 14, 7, ms_first_response=-3),  # clock artefact
        assistments_row(107, "u2", 15, "7_8", skill_name="Skill 7_Skill 8"),  # combined skills
        assistments_row(108, "u1", 16, 7),
        assistments_row(108, "u1", 16, 8),  # multi-skill problem, the 2009 way
    ]
    rows.append(dict(rows[1]))  # verbatim duplicate of order 101
    return pd.DataFrame(rows, columns=ASSISTMENTS_COLUMNS)


def write_csv(frame, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def gcs_emulator():
    """A GCS emulator on 127.0.0.1 (in memory) for the real google-cloud-storage client."""
    with running_gcs_emulator("quizops-raw") as bucket:
        yield bucket


@pytest.fixture
def upload(gcs_emulator):
    """Uploads bytes to gs://quizops-raw/<name> and returns the URI."""
    from quizops import storage

    def _upload(name, data):
        uri = f"gs://{gcs_emulator}/{name}"
        storage.write_bytes(uri, data)
        return uri

    return _upload
