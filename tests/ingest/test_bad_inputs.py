"""Each bad input gives a clear InputDataError, names no personal value, and writes nothing."""

import pytest

from quizops.errors import InputDataError
from quizops.ingest import ingest
from tests.ingest.conftest import EMAIL, write_csv


def run_ingest(tmp_path, source, fmt="assistments"):
    raw = tmp_path / "raw"
    manifest = tmp_path / "out" / "manifest.json"
    with pytest.raises(InputDataError) as info:
        ingest(str(source), fmt, "", str(raw), manifest)
    assert not manifest.exists(), "a manifest was written for a failed ingest"
    assert not raw.exists(), "the raw zone was written for a failed ingest"
    assert EMAIL not in str(info.value)
    return str(info.value)


def test_empty_file(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"")
    assert "empty file" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_header_only(tmp_path, assistments_frame):
    write_csv(assistments_frame.iloc[:0], tmp_path / "a.csv")
    assert "header only" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_missing_column(tmp_path, assistments_frame):
    write_csv(assistments_frame.drop(columns="correct"), tmp_path / "a.csv")
    assert "missing required column(s) ['correct']" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_wrong_types_name_column_and_rows_not_values(tmp_path, assistments_frame):
    frame = assistments_frame.copy()
    frame["correct"] = frame["correct"].astype(object)
    frame.loc[2, "correct"] = EMAIL  # a personal value in the wrong column
    frame.loc[5, "correct"] = "yes"
    write_csv(frame, tmp_path / "a.csv")
    message = run_ingest(tmp_path, tmp_path / "a.csv")
    assert "column 'correct' must hold numbers; 2 value(s) do not (data row(s) [3, 6])" in message


def test_correct_outside_0_1(tmp_path, assistments_frame):
    write_csv(assistments_frame.assign(correct=0.5), tmp_path / "a.csv")
    assert "'correct' must be 0 or 1" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_correct_outside_0_1_names_the_file_rows_of_kept_answers(tmp_path, assistments_frame):
    frame = assistments_frame.copy()
    frame.loc[[2, 7], "correct"] = 0.7  # partial credit on two answers that are used
    frame.loc[3, "correct"] = 0.5  # a scaffolding row (original 0): dropped, not checked
    frame.loc[4, "correct"] = 2  # a row without a skill: dropped, not checked
    write_csv(frame, tmp_path / "a.csv")
    message = run_ingest(tmp_path, tmp_path / "a.csv")
    assert "column 'correct' must be 0 or 1; 2 row(s) are not (data row(s) [3, 8])" in message


def test_fractional_id(tmp_path, assistments_frame):
    write_csv(assistments_frame.assign(order_id=1.5), tmp_path / "a.csv")
    assert "'order_id' must hold whole numbers" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_truncated_file(tmp_path, assistments_frame):
    data = assistments_frame.to_csv(index=False).encode()
    (tmp_path / "a.csv").write_bytes(data[: len(data) - 60])
    assert "truncated file" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_truncated_inside_a_quoted_field(tmp_path, assistments_frame):
    frame = assistments_frame.copy()
    frame.loc[len(frame) - 1, "answer_text"] = "a, quoted\nanswer"
    data = frame.to_csv(index=False).encode()
    cut = data.rindex(b"quoted") + 3
    (tmp_path / "a.csv").write_bytes(data[:cut])
    assert "malformed CSV" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_truncated_gzip(tmp_path, assistments_frame):
    import gzip

    data = gzip.compress(assistments_frame.to_csv(index=False).encode())
    (tmp_path / "a.csv.gz").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt gzip" in run_ingest(tmp_path, tmp_path / "a.csv.gz")


def test_truncated_parquet(tmp_path):
    import pandas as pd

    pd.DataFrame({"student_id": ["s"], "item_id": ["i"], "skill_id": ["k"], "correct": [1],
                  "timestamp": [1]}).to_parquet(tmp_path / "t.parquet")  # fmt: skip
    data = (tmp_path / "t.parquet").read_bytes()
    (tmp_path / "t.parquet").write_bytes(data[:-20])
    assert "not a complete Parquet file" in run_ingest(
        tmp_path, tmp_path / "t.parquet", "canonical"
    )


def test_non_utf8_bytes(tmp_path, assistments_frame):
    data = assistments_frame.to_csv(index=False).encode()
    data = data.replace(b"Skill 8", b"Skill \xe9\xff", 1)
    (tmp_path / "a.csv").write_bytes(data)
    message = run_ingest(tmp_path, tmp_path / "a.csv")
    assert "not valid utf-8 text" in message and "line 4" in message


def test_latin1_file_reads_when_its_encoding_is_named(tmp_path, assistments_frame):
    frame = assistments_frame.assign(skill_name="Équations")
    (tmp_path / "a.csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    manifest = tmp_path / "m.json"
    ingest(str(tmp_path / "a.csv"), "assistments", "", str(tmp_path / "raw"), manifest,
           encoding="latin-1")  # fmt: skip
    assert manifest.exists()


def test_missing_local_file(tmp_path):
    assert "no such file or folder" in run_ingest(tmp_path, tmp_path / "nope.csv")


def test_every_row_dropped(tmp_path, assistments_frame):
    write_csv(assistments_frame.assign(original=0), tmp_path / "a.csv")
    assert "no usable rows" in run_ingest(tmp_path, tmp_path / "a.csv")


def test_folder_without_data_files(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("hello")
    assert "no assistments data files" in run_ingest(tmp_path, tmp_path / "src")


def test_headerless_file_does_not_list_its_first_row(tmp_path, assistments_frame):
    frame = assistments_frame.copy()
    frame["user_id"] = EMAIL
    (tmp_path / "a.csv").write_text(frame.to_csv(index=False, header=False))
    message = run_ingest(tmp_path, tmp_path / "a.csv")
    assert "missing required column(s)" in message and "header" in message
    assert "tutor" not in message and "MasterySection" not in message
