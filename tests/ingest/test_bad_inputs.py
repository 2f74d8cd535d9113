"""Each bad input gives a clear InputDataError, names no personal value, and writes nothing."""

import logging

import pandas as pd
import pytest

from quizops.errors import InputDataError
from quizops.ingest import ingest
from tests.ingest.conftest import EMAIL, write_csv


def run_ingest(tmp_path, source, fmt="assistments", **kwargs):
    raw = tmp_path / "raw"
    manifest = tmp_path / "out" / "manifest.json"
    with pytest.raises(InputDataError) as info:
        ingest(str(source), fmt, "", str(raw), manifest, **kwargs)
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


def test_non_utf8_bytes_when_utf8_is_named(tmp_path, assistments_frame):
    data = assistments_frame.to_csv(index=False).encode()
    data = data.replace(b"Skill 8", b"Skill \xe9\xff", 1)
    (tmp_path / "a.csv").write_bytes(data)
    message = run_ingest(tmp_path, tmp_path / "a.csv", encoding="utf-8")
    assert "not valid utf-8 text" in message and "line 4" in message


def test_a_file_partly_utf8_is_damaged_not_another_encoding(tmp_path, assistments_frame):
    """By default a file with UTF-8 characters and a stray byte is refused, not re-read."""
    data = assistments_frame.assign(skill_name="Équations").to_csv(index=False).encode()
    data = data.replace("Équations".encode(), b"\xc9quations", 1)  # one latin-1 É among UTF-8 ones
    (tmp_path / "a.csv").write_bytes(data)
    message = run_ingest(tmp_path, tmp_path / "a.csv")
    assert "not valid utf-8 text" in message and "line 2" in message
    assert "though other characters in it are UTF-8" in message


@pytest.mark.parametrize("codec", ["cp1252", "latin-1"])
def test_a_western_code_page_file_reads_by_default_like_its_named_encoding(
    tmp_path, assistments_frame, caplog, codec
):
    """The ASSISTments 2009 export is not UTF-8: by default it reads as if its code page
    were named, with a warning that names the first byte's place, never the text."""
    from quizops.ingest import read_source

    frame = assistments_frame.assign(skill_name="Équations – “fractions”")
    if codec == "latin-1":
        frame = frame.assign(skill_name="Équations à l'école")  # no cp1252-only characters
    path = tmp_path / "a.csv"
    path.write_bytes(frame.to_csv(index=False).encode(codec))
    caplog.set_level(logging.WARNING)
    default = read_source(str(path), "assistments")
    named = read_source(str(path), "assistments", encoding=codec)
    pd.testing.assert_frame_equal(default.frame, named.frame)
    assert default.frame["skill_name"].iloc[0] == frame["skill_name"].iloc[0]
    warned = [r.getMessage() for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert len(warned) == 1 and "line 2" in warned[0] and "read as cp1252" in warned[0]
    assert "quations" not in warned[0] and EMAIL not in warned[0]


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


def test_a_byte_undefined_in_cp1252_falls_back_to_latin1(caplog):
    from quizops.ingest.parsing import decode_text

    caplog.set_level(logging.WARNING)
    assert decode_text(b"id,name\n1,\x81\xe9\n", "f.csv") == "id,name\n1,\x81\xe9\n"
    assert "offset 10, line 2) and no UTF-8 character in it: read as latin-1" in caplog.text
