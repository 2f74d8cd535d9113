import json

import pytest

from quizops.errors import InputDataError
from quizops.pii import load_policy


def test_defaults_are_safe():
    policy = load_policy(None)
    assert policy.action("student_id") == "pseudonymize"
    assert policy.action("answer_text") == "redact"
    assert policy.action("teacher_email") == "drop"
    assert "PERSON" not in policy.keep_scan_types


def test_yaml_json_file_and_json_text(tmp_path):
    (tmp_path / "p.yaml").write_text("columns:\n  skill_name: redact\ntext_mode: mask\n")
    policy = load_policy(tmp_path / "p.yaml")
    assert policy.action("skill_name") == "redact" and policy.text_mode == "mask"
    assert policy.action("student_id") == "pseudonymize"  # merged over the defaults
    (tmp_path / "p.json").write_text(json.dumps({"columns": {"answer_text": "drop"}}))
    assert load_policy(str(tmp_path / "p.json")).action("answer_text") == "drop"
    assert load_policy('{"student_id_patterns": ["QZ\\\\d+"]}').student_id_patterns == ("QZ\\d+",)


@pytest.mark.parametrize(
    "data",
    [
        {"columns": {"answer_text": "shred"}},
        {"columns": {"student_id": "drop"}},
        {"columns": {"correct": "redact"}},
        {"min_cell_students": 5},
        {"keep_scan_types": ["SHOE_SIZE"]},
        {"student_id_patterns": ["("]},
        {"colums": {}},
    ],
)
def test_bad_policies_are_bad_input(data):
    with pytest.raises(InputDataError):
        load_policy(data)


def test_missing_policy_file(tmp_path):
    with pytest.raises(InputDataError, match="no such policy file"):
        load_policy(str(tmp_path / "nope.yaml"))
