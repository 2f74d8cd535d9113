import json
import logging

import pandas as pd
import pytest

from quizops.errors import InputDataError
from quizops.ingest import ingest, read_source
from quizops.quarantine import read_quarantined
from tests.ingest.conftest import EMAIL, PHONE, write_csv


@pytest.fixture
def source(tmp_path, assistments_frame):
    return write_csv(assistments_frame, tmp_path / "skill_builder_data.csv")


def test_reads_the_skill_builder_rules(source):
    result = read_source(str(source), "assistments")
    frame = result.frame
    assert frame["timestamp"].tolist() == [101, 103, 105, 106, 107, 107, 108, 108]
    assert frame["timestamp"].is_monotonic_increasing
    # original == 0 (order 102) and the row without a skill (order 104) are gone
    assert not frame["timestamp"].isin([102, 104]).any()
    assert frame.loc[frame["timestamp"] == 107, "skill_id"].tolist() == ["7", "8"]
    assert frame.loc[frame["timestamp"] == 107, "skill_name"].tolist() == ["Skill 7", "Skill 8"]
    assert frame.loc[frame["timestamp"] == 108, "skill_id"].tolist() == ["7", "8"]
    assert frame["interaction_id"].is_unique
    assert pd.isna(frame.loc[frame["timestamp"] == 106, "response_time_ms"]).all()
    assert frame["item_id"].tolist()[0] == "10"
    assert frame["propensity"].eq(0.25).all()
    assert result.counts == {
        "rows_read": 10,
        "negative_response_times_cleared": 1,
        "scaffolding_rows_dropped": 1,
        "verbatim_duplicates_dropped": 1,
        "rows_without_skill_dropped": 1,
        "multi_skill_rows_split": 1,
        "files": 1,
        "rows": 8,
        "students": 3,
        "items": 6,
        "skills": 2,
        "rows_with_propensity": 8,
    }


def test_propensity_is_optional(tmp_path, assistments_frame):
    path = write_csv(assistments_frame.drop(columns="propensity"), tmp_path / "a.csv")
    frame = read_source(str(path), "assistments").frame
    assert frame["propensity"].isna().all()
    assert len(frame) == 8


def test_ingest_writes_table_to_raw_zone_and_only_a_manifest(tmp_path, source, caplog):
    caplog.set_level(logging.DEBUG)
    manifest = tmp_path / "artifacts" / "manifest.json"
    metrics = ingest(str(source), "assistments", "", str(tmp_path / "raw"), manifest)
    assert metrics["rows"] == 8.0
    content = json.loads(manifest.read_text())
    assert content["format"] == "assistments"
    assert content["span"] == "" and content["previous_span"] == ""
    assert content["table_uri"].startswith(str(tmp_path / "raw"))
    # the manifest, the metrics and the log never carry personal values
    text = manifest.read_text() + json.dumps(metrics) + caplog.text
    assert EMAIL not in text and PHONE not in text
    frame = read_quarantined(manifest)
    assert EMAIL in set(frame["student_id"])  # the raw zone keeps it for the PII stage
    assert list((tmp_path / "artifacts").iterdir()) == [manifest]


def test_default_raw_zone_is_a_hidden_folder_beside_the_source(tmp_path, source):
    manifest = tmp_path / "manifest.json"
    ingest(str(source), "assistments", "", "", manifest)
    table = json.loads(manifest.read_text())["table_uri"]
    assert table.startswith(str(tmp_path / "_quizops_raw"))


def test_several_files_in_a_folder_are_merged_in_order(tmp_path, assistments_frame):
    write_csv(assistments_frame.iloc[:5], tmp_path / "src" / "part-2.csv")
    write_csv(assistments_frame.iloc[5:], tmp_path / "src" / "part-1.csv")
    result = read_source(str(tmp_path / "src"), "assistments")
    assert result.counts["files"] == 2
    assert result.frame["timestamp"].is_monotonic_increasing
    assert len(result.frame) == 8


def test_gzip_source(tmp_path, assistments_frame):
    path = tmp_path / "a.csv.gz"
    assistments_frame.to_csv(path, index=False, compression="gzip")
    assert len(read_source(str(path), "assistments").frame) == 8


def test_unknown_format_is_refused(source):
    from quizops.errors import InputDataError

    with pytest.raises(InputDataError, match="unknown source format"):
        read_source(str(source), "kddcup")


def test_placeholder_skill_ids_count_as_no_skill(tmp_path, assistments_frame):
    frame = assistments_frame.copy()
    frame["skill_id"] = frame["skill_id"].astype(object)
    frame.loc[0, "skill_id"] = "NA"
    frame.loc[1, "skill_id"] = "null"
    path = write_csv(frame, tmp_path / "a.csv")
    result = read_source(str(path), "assistments")
    assert result.counts["rows_without_skill_dropped"] == 3
    assert not result.frame["skill_id"].str.lower().isin(["na", "null"]).any()


@pytest.mark.parametrize(
    ("sep", "decimal"),
    [(";", ","), ("\t", "."), ("|", ".")],
    ids=["semicolon-decimal-comma", "tab", "bar"],
)
def test_reads_exports_saved_with_another_delimiter(tmp_path, assistments_frame, sep, decimal):
    """A spreadsheet in a decimal-comma locale saves the export with semicolons (and 0,25)."""
    # free text with every delimiter in it stays one (quoted) field: later columns stay in place
    frame = assistments_frame.assign(answer_text="1,5; or 2|3\t4")
    comma = read_source(str(write_csv(frame, tmp_path / "comma.csv")), "assistments")
    path = tmp_path / "saved.csv"
    frame.to_csv(path, index=False, sep=sep, decimal=decimal)
    assert ("0,25" in path.read_text()) == (decimal == ",")
    other = read_source(str(path), "assistments")
    pd.testing.assert_frame_equal(other.frame, comma.frame)
    assert other.frame["propensity"].eq(0.25).all()
    assert other.counts == comma.counts


def test_an_unrecognised_delimiter_names_the_missing_columns(tmp_path, assistments_frame):
    path = tmp_path / "colon.csv"
    assistments_frame.to_csv(path, index=False, sep=":")
    with pytest.raises(InputDataError) as err:
        read_source(str(path), "assistments")
    message = str(err.value)
    assert "colon.csv: missing required column(s)" in message
    assert "the first line has 1 field(s)" in message
    assert "semicolons, tabs or vertical bars" in message


def test_reads_a_spreadsheet_unicode_text_export(tmp_path, assistments_frame):
    """A spreadsheet's "Unicode text" export: UTF-16 with a byte-order mark, tabs, CRLF."""
    frame = assistments_frame.assign(skill_name="Équations – “fractions”")
    comma = read_source(str(write_csv(frame, tmp_path / "comma.csv")), "assistments")
    path = tmp_path / "unicode.txt"
    frame.to_csv(path, index=False, sep="\t", encoding="utf-16", lineterminator="\r\n")
    assert path.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    pd.testing.assert_frame_equal(read_source(str(path), "assistments").frame, comma.frame)


def test_a_trimmed_export_with_only_the_tracing_columns_reads_like_the_full_one(
    tmp_path, assistments_frame
):
    # Public copies of the 2009 export often keep only the columns knowledge tracing uses.
    # Without scaffolding rows (the flag that would drop them is gone too), the trimmed file
    # gives the full file's interactions, with the defaults for what it lacks.
    full = assistments_frame[assistments_frame["original"] == 1]
    kept = ["order_id", "user_id", "problem_id", "correct", "skill_id", "skill_name"]
    whole = read_source(str(write_csv(full, tmp_path / "full.csv")), "assistments")
    trimmed = read_source(str(write_csv(full[kept], tmp_path / "trimmed.csv")), "assistments")
    columns = ["timestamp", "student_id", "item_id", "skill_id", "skill_name", "correct"]
    pd.testing.assert_frame_equal(
        trimmed.frame[columns].reset_index(drop=True), whole.frame[columns].reset_index(drop=True)
    )
    assert trimmed.counts["original_column_absent"] == 1
    assert "original_column_absent" not in whole.counts
    assert trimmed.frame["attempt_count"].eq(1).all()
    assert trimmed.frame["hint_count"].eq(0).all()
    assert trimmed.frame["response_time_ms"].isna().all()
    assert trimmed.frame["propensity"].isna().all()


def test_a_trimmed_export_without_correct_still_names_what_is_missing(tmp_path, assistments_frame):
    kept = ["order_id", "user_id", "problem_id", "skill_id"]
    path = write_csv(assistments_frame[kept], tmp_path / "no_correct.csv")
    with pytest.raises(InputDataError, match=r"missing required column\(s\) \['correct'\]"):
        read_source(str(path), "assistments")
