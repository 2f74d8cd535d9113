import json

import pandas as pd

from quizops.pii.deidentify import pseudonymize_values
from quizops_predictor.decisions import DecisionLog, configured_pii_key


def _lines(folder):
    return [
        json.loads(line)
        for p in sorted(folder.glob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]


def test_decision_is_logged_with_a_pseudonym_never_the_raw_id(tmp_path):
    key = b"k" * 32
    log = DecisionLog(tmp_path, key)
    log.append("jane@example.com", 3, 24, "p7", 0.25, "7")
    [record] = _lines(tmp_path)
    expected = pseudonymize_values(pd.Series(["jane@example.com"]), key).iloc[0]
    assert record["student_pseudonym"] == expected
    assert record["history_length"] == 3
    assert record["candidates_count"] == 24
    assert (record["item_id"], record["propensity"], record["policy_version"]) == ("p7", 0.25, "7")
    assert record["time"].endswith("Z")
    assert "jane" not in log.path.read_text()


def test_without_a_key_the_student_is_left_out(tmp_path, monkeypatch):
    monkeypatch.delenv("QUIZOPS_PII_KEY", raising=False)
    monkeypatch.delenv("QUIZOPS_PII_KEY_FILE", raising=False)
    key = configured_pii_key()
    assert key is None
    DecisionLog(tmp_path, key).append("s-17", 0, 5, "p1", 0.2, "")
    [record] = _lines(tmp_path)
    assert "student_pseudonym" not in record
    assert "s-17" not in json.dumps(record)


def test_configured_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", "00" * 16)
    assert configured_pii_key() == bytes(16)
