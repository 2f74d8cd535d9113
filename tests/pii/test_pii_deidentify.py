import json

import pandas as pd
import pytest

from quizops.canonical import CANONICAL_COLUMNS
from quizops.errors import InputDataError, PIILeftError
from quizops.pii import deidentify_table, load_policy, pseudonymize_values, render_html
from quizops.pii.scanner import TextScanner
from tests.pii.conftest import CANARIES, KEY, OTHER_KEY


def all_text(clean: pd.DataFrame, report: dict) -> str:
    return clean.astype(str).to_csv() + json.dumps(report)


def test_deidentifies_canonical_table(pii_frame):
    clean, report = deidentify_table(pii_frame, KEY)
    assert list(clean.columns) == CANONICAL_COLUMNS and len(clean) == len(pii_frame)
    text = all_text(clean, report)
    for value in CANARIES.values():
        assert value not in text
    assert "70001" not in set(clean["student_id"])
    assert clean["student_id"].str.match(r"^p_[0-9a-f]{24}$").all()
    assert clean["student_id"].nunique() == pii_frame["student_id"].nunique()
    assert clean.loc[3, "answer_text"] == "x = 5, email me at <EMAIL>"
    assert "<PERSON>" in clean.loc[4, "answer_text"] and "<PHONE>" in clean.loc[4, "answer_text"]
    assert clean.loc[0, "answer_text"] == "42"
    assert report["status"] == "clean" and report["verification"]["residual_cells"] == 0


def test_pseudonyms_are_stable_per_key_and_differ_across_keys(pii_frame):
    first, _ = deidentify_table(pii_frame, KEY)
    again, _ = deidentify_table(pii_frame.iloc[::-1].reset_index(drop=True), KEY)
    assert dict(zip(pii_frame["student_id"], first["student_id"], strict=True)) == dict(
        zip(pii_frame["student_id"].iloc[::-1], again["student_id"], strict=True)
    )
    other, _ = deidentify_table(pii_frame, OTHER_KEY)
    assert not set(first["student_id"]) & set(other["student_id"])


def test_pseudonym_is_hmac_not_plain_hash():
    import hashlib

    values = pd.Series(["70001"], dtype="string")
    out = pseudonymize_values(values, KEY)
    assert hashlib.sha256(b"70001").hexdigest()[:24] not in out[0]
    with pytest.raises(ValueError):
        pseudonymize_values(values, b"short")


def test_report_counts_and_suppresses_small_cells(pii_frame):
    _, report = deidentify_table(pii_frame, KEY)
    rows = {(r["column"], r["entity_type"]): r for r in report["entities"]}
    # one student typed an e-mail: fewer than 10 students, so the counts are hidden
    email = rows[("answer_text", "EMAIL")]
    assert email["suppressed"] and email["cells"] is None and email["students"] is None
    student = rows[("student_id", "STUDENT_ID")]
    assert student["cells"] == 120 and student["students"] == 30
    assert report["students"] == 30
    assert "&lt;10" in render_html(report)


def test_extra_columns_are_classified_and_dropped(pii_frame):
    df = pii_frame.copy()
    df["contact"] = "someone@example.com"
    df["notes_col"] = "020 7946 0958"
    clean, report = deidentify_table(df, KEY)
    assert list(clean.columns) == CANONICAL_COLUMNS
    classes = {c["column"]: c for c in report["columns"]}
    assert classes["contact"]["classified_as"] == "EMAIL"
    assert classes["contact"]["evidence"] == "content"
    assert classes["notes_col"]["classified_as"] == "PHONE"
    assert set(report["dropped_columns"]) == {"contact", "notes_col"}
    assert not classes["contact"]["kept_in_output"] and classes["answer_text"]["kept_in_output"]
    assert "someone@example.com" not in all_text(clean, report)


def test_pii_in_a_kept_column_fails_closed(pii_frame):
    df = pii_frame.copy()
    df.loc[7, "skill_name"] = "ask jane.doe@example.org"
    with pytest.raises(PIILeftError, match="skill_name") as err:
        deidentify_table(df, KEY)
    assert "jane.doe" not in str(err.value)


def test_a_kept_column_named_like_pii_fails_closed(pii_frame):
    df = pii_frame.copy()
    df["email"] = "x"
    with pytest.raises(PIILeftError, match="email"):
        deidentify_table(df, KEY, load_policy({"columns": {"email": "keep"}}))


def test_scanner_error_fails_closed(pii_frame, monkeypatch):
    def broken(self, text):
        raise RuntimeError("boom")

    monkeypatch.setattr(TextScanner, "scan", broken)
    with pytest.raises(PIILeftError, match="scanner failed"):
        deidentify_table(pii_frame, KEY)


def test_residual_after_redaction_fails(pii_frame, monkeypatch):
    monkeypatch.setattr("quizops.pii.deidentify.redact", lambda text, spans, mode="redact": text)
    with pytest.raises(PIILeftError, match="redaction left entities"):
        deidentify_table(pii_frame, KEY)


def test_policy_actions_mask_and_drop(pii_frame):
    policy = load_policy({"columns": {"skill_name": "drop"}, "text_mode": "mask"})
    clean, _ = deidentify_table(pii_frame, KEY, policy)
    assert clean["skill_name"].isna().all()
    assert "*" in clean.loc[3, "answer_text"] and "jane" not in clean.loc[3, "answer_text"]


def test_missing_canonical_column_is_bad_input(pii_frame):
    with pytest.raises(InputDataError, match="answer_text"):
        deidentify_table(pii_frame.drop(columns=["answer_text"]), KEY)


def test_pseudonym_construction_is_pinned():
    """Changing the construction would break the join of a student's history across runs."""
    import hashlib
    import hmac

    out = pseudonymize_values(pd.Series(["70001", None], dtype="string"), KEY)
    expected = hmac.new(KEY, b"quizops/student_id\x0070001", hashlib.sha256).hexdigest()[:24]
    assert out[0] == "p_" + expected
    assert pd.isna(out[1])
