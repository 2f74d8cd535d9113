import pandas as pd
import pytest

from quizops.errors import InputDataError
from quizops.ingest import read_source


def write_ednet(root, users=None, questions=None):
    (root / "KT1").mkdir(parents=True, exist_ok=True)
    (root / "contents").mkdir(parents=True, exist_ok=True)
    questions = questions or [
        ("q1", "b", "1;2"),
        ("q2", "a", "3"),
        ("q3", "c", "-1"),  # untagged
    ]
    (root / "contents" / "questions.csv").write_text(
        "question_id,bundle_id,explanation_id,correct_answer,part,tags,deployed_at\n"
        + "".join(f"{q},b{q},e{q},{a},1,{t},1558093217098\n" for q, a, t in questions)
    )
    users = users or {
        "u7": [(1565096190868, 1, "q1", "b", 24000), (1565096221062, 2, "q2", "d", 11000)],
        "u9": [(1565096100000, 1, "q2", "a", 5000), (1565096200000, 2, "q3", "c", 7000),
               (1565096300000, 3, "q9", "a", 7000)],  # q9 unknown
    }  # fmt: skip
    for user, rows in users.items():
        (root / "KT1" / f"{user}.csv").write_text(
            "timestamp,solving_id,question_id,user_answer,elapsed_time\n"
            + "".join(f"{t},{s},{q},{a},{e}\n" for t, s, q, a, e in rows)
        )
    return root


def test_ednet_kt1(tmp_path):
    result = read_source(str(write_ednet(tmp_path / "ednet")), "ednet")
    frame = result.frame
    # q1 answered b (correct) with tags 1;2 -> two rows; q2 by u7 wrong, by u9 right
    assert len(frame) == 4
    assert frame["timestamp"].is_monotonic_increasing
    q1 = frame[frame["item_id"] == "q1"]
    assert sorted(q1["skill_id"]) == ["1", "2"] and q1["correct"].eq(1).all()
    q2 = frame[frame["item_id"] == "q2"].set_index("student_id")["correct"]
    assert q2.to_dict() == {"u9": 1, "u7": 0}
    assert frame["response_time_ms"].tolist()[0] == 5000.0
    assert frame["interaction_id"].is_unique
    assert result.counts["rows_without_skill_dropped"] == 2  # untagged q3 and unknown q9
    assert result.counts["user_files"] == 2


def test_ednet_needs_questions(tmp_path):
    root = write_ednet(tmp_path / "ednet")
    (root / "contents" / "questions.csv").unlink()
    with pytest.raises(InputDataError, match=r"questions\.csv"):
        read_source(str(root), "ednet")


def test_ednet_spans_share_contents(tmp_path):
    root = tmp_path / "ednet"
    write_ednet(root / "date=2026-11-22")
    write_ednet(root / "date=2026-11-23")
    (root / "date=2026-11-23" / "contents" / "questions.csv").rename(tmp_path / "questions.csv")
    (root / "contents").mkdir()
    (tmp_path / "questions.csv").rename(root / "contents" / "questions.csv")
    result = read_source(str(root), "ednet", "2026-11-23")
    assert result.selection.previous_span == "2026-11-22"
    assert len(result.frame) == 4


CANONICAL = pd.DataFrame(
    {
        "interaction_id": ["a", "b", "c"],
        "student_id": ["s1", "s1", "s2"],
        "item_id": ["i1", "i2", "i1"],
        "skill_id": ["k1", "k1", "k2"],
        "skill_name": ["K1", "K1", "K2"],
        "correct": [1, 0, 1],
        "timestamp": [1, 2, 3],
        "attempt_count": [1, 2, 1],
        "response_time_ms": [1000.0, None, 2000.0],
        "hint_count": [0, 1, 0],
        "answer_text": ["x", None, "y"],
        "propensity": [0.5, 0.5, None],
    }
)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_canonical_csv_and_parquet(tmp_path, suffix):
    path = tmp_path / f"t.{suffix}"
    getattr(CANONICAL, f"to_{suffix}")(path, index=False)
    frame = read_source(str(path), "canonical").frame
    assert frame["interaction_id"].tolist() == ["a", "b", "c"]
    assert frame["correct"].tolist() == [1, 0, 1]
    assert frame["propensity"].isna().tolist() == [False, False, True]


def test_canonical_minimal_columns_get_defaults(tmp_path):
    path = tmp_path / "min.csv"
    CANONICAL[["student_id", "item_id", "skill_id", "correct", "timestamp"]].to_csv(
        path, index=False
    )
    frame = read_source(str(path), "canonical").frame
    assert frame["interaction_id"].tolist() == ["min.csv:1", "min.csv:2", "min.csv:3"]
    assert frame["attempt_count"].eq(1).all() and frame["hint_count"].eq(0).all()
    assert frame["skill_name"].tolist() == ["k1", "k1", "k2"]


def test_canonical_parquet_wrong_type(tmp_path):
    path = tmp_path / "t.parquet"
    CANONICAL.assign(timestamp=["x", "y", "z"]).to_parquet(path, index=False)
    with pytest.raises(InputDataError, match=r"'timestamp' must hold ISO 8601 .*; 3 value"):
        read_source(str(path), "canonical")


def test_canonical_csv_saved_with_semicolons_and_decimal_commas(tmp_path):
    """Columns read as text until checked (no fast float path) take decimal commas too."""
    comma = tmp_path / "comma.csv"
    CANONICAL.to_csv(comma, index=False)
    path = tmp_path / "semicolon.csv"
    CANONICAL.to_csv(path, index=False, sep=";", decimal=",")
    assert "0,5" in path.read_text()
    frame = read_source(str(path), "canonical").frame
    assert frame["propensity"].tolist()[:2] == [0.5, 0.5]
    pd.testing.assert_frame_equal(frame, read_source(str(comma), "canonical").frame)


def test_a_decimal_comma_in_a_comma_separated_file_is_not_a_number(tmp_path):
    path = tmp_path / "t.csv"
    CANONICAL.assign(propensity=["0,5", "0,5", None]).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="column 'propensity' must hold numbers"):
        read_source(str(path), "canonical")


def test_canonical_correct_outside_0_1_names_its_rows(tmp_path):
    path = tmp_path / "t.csv"
    CANONICAL.assign(correct=[1, 2, 1]).to_csv(path, index=False)
    with pytest.raises(InputDataError) as err:
        read_source(str(path), "canonical")
    assert "column 'correct' must be 0 or 1; 1 row(s) are not (data row(s) [2])" in str(err.value)
