"""The source identity that keys ingest's cache: it changes exactly when the data read does."""

import hashlib
import json
import shutil

import pytest

from quizops.errors import InputDataError
from quizops.fingerprint import fingerprint_source, resolve_span, run_fingerprint_stage
from tests.conftest import running_gcs_emulator
from tests.ingest.conftest import assistments_frame, write_csv  # noqa: F401 - a fixture


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "src"
    for day, text in (("2026-11-22", "a,b\n1,2\n"), ("2026-11-23", "a,b\n3,4\n")):
        (root / f"date={day}").mkdir(parents=True)
        (root / f"date={day}" / "part.csv").write_text(text)
    (root / "contents.csv").write_text("q,tag\n1,2\n")
    return root


def test_identity_is_the_hash_of_names_and_content_hashes(tmp_path):
    (tmp_path / "one.csv").write_bytes(b"x,y\n1,2\n")
    content = hashlib.sha256(b"x,y\n1,2\n").hexdigest().encode()
    expected = hashlib.sha256(b"span=\n" + b"one.csv\0sha256:" + content + b"\n").hexdigest()
    assert fingerprint_source(str(tmp_path / "one.csv")).identity == expected


def test_same_data_elsewhere_has_the_same_identity(source, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    first = run_fingerprint_stage(source_uri=str(source), span="2026-11-23")
    assert first == run_fingerprint_stage(source_uri=str(copy), span="2026-11-23")
    assert first.method == "sha256" and first.files == 3 and first.hashed_files == 2


def test_a_changed_byte_in_the_read_span_changes_the_identity(source):
    before = fingerprint_source(str(source), "2026-11-23").identity
    (source / "date=2026-11-23" / "part.csv").write_text("a,b\n3,5\n")  # same size
    assert fingerprint_source(str(source), "2026-11-23").identity != before


def test_shared_files_outside_span_folders_are_hashed(source):
    before = fingerprint_source(str(source), "2026-11-23").identity
    (source / "contents.csv").write_text("q,tag\n1,3\n")  # EdNet-style root file, same size
    assert fingerprint_source(str(source), "2026-11-23").identity != before


def test_a_new_span_or_file_changes_the_identity(source):
    before = fingerprint_source(str(source), "2026-11-23").identity
    (source / "date=2026-11-24").mkdir()
    (source / "date=2026-11-24" / "part.csv").write_text("a,b\n")
    assert fingerprint_source(str(source), "2026-11-23").identity != before


def test_hidden_files_and_the_raw_zone_do_not_count(source):
    before = fingerprint_source(str(source), "2026-11-23").identity
    (source / "_quizops_raw").mkdir()
    (source / "_quizops_raw" / "t.parquet").write_bytes(b"PAR1")
    (source / ".DS_Store").write_bytes(b"x")
    assert fingerprint_source(str(source), "2026-11-23").identity == before


def test_the_span_is_part_of_the_identity(source):
    assert (
        fingerprint_source(str(source), "2026-11-22").identity
        != fingerprint_source(str(source), "2026-11-23").identity
    )


def test_missing_source_or_span_is_a_clear_error(source, tmp_path):
    with pytest.raises(InputDataError, match="no such"):
        fingerprint_source(str(tmp_path / "nothing"))
    with pytest.raises(InputDataError, match="no span '2030-01-01'"):
        fingerprint_source(str(source), "2030-01-01")


def test_gcs_identity_follows_object_generations():
    with running_gcs_emulator("fp-bucket") as bucket:
        from quizops.storage import gcs_client

        blobs = gcs_client().bucket(bucket)
        blobs.blob("src/date=2026-11-23/part.csv").upload_from_string(b"a,b\n1,2\n")
        blobs.blob("src/_quizops_raw/t.parquet").upload_from_string(b"PAR1")
        first = fingerprint_source(f"gs://{bucket}/src", "2026-11-23")
        assert first.method == "gcs-generation" and first.files == 1
        assert first == fingerprint_source(f"gs://{bucket}/src", "2026-11-23")
        blobs.blob("src/date=2026-11-23/part.csv").upload_from_string(b"a,b\n1,2\n")
        assert fingerprint_source(f"gs://{bucket}/src", "2026-11-23") != first


@pytest.mark.parametrize(
    ("span", "scheduled", "expected"),
    [
        ("2026-11-23", "", "2026-11-23"),
        ("", "2026-11-24T03:00:00Z", ""),
        ("@scheduled", "2026-11-24T03:00:00Z", "2026-11-24"),
        ("@scheduled-1", "2026-11-24T03:00:00Z", "2026-11-23"),
        ("@scheduled-1", "2026-03-01T00:30:00+01:00", "2026-02-27"),  # 23:30 UTC on 28 Feb
    ],
)
def test_scheduled_spans_resolve_from_the_scheduled_time(span, scheduled, expected):
    assert resolve_span(span, scheduled) == expected


def test_a_scheduled_span_without_a_scheduled_time_is_a_clear_error():
    with pytest.raises(InputDataError, match="scheduled time"):
        resolve_span("@scheduled-1", "{{$.pipeline_job_schedule_time_utc}}")


def test_the_stage_reads_the_scheduled_span(source):
    result = run_fingerprint_stage(
        source_uri=str(source), span="@scheduled-1", scheduled_time="2026-11-24T03:00:00Z"
    )
    assert result.span == "2026-11-23"
    assert result.identity == fingerprint_source(str(source), "2026-11-23").identity


def test_each_version_of_the_data_gets_its_own_raw_zone_table(
    tmp_path,
    assistments_frame,  # noqa: F811 - the ingest tests' fixture, imported above
):
    from quizops.ingest import run_ingest_stage
    from quizops.quarantine import read_quarantined

    source = tmp_path / "src"
    write_csv(assistments_frame, source / "date=2026-11-23" / "a.csv")
    manifests = []
    for version in ("a" * 64, "b" * 64):
        manifest = tmp_path / f"manifest-{version[0]}"
        result = run_ingest_stage(source_uri=str(source), source_format="assistments",
                                  span="2026-11-23", raw_zone_uri=str(tmp_path / "raw"),
                                  manifest_path=str(manifest), source_identity=version)  # fmt: skip
        assert f"source={version[:16]}" in result.table_uri
        manifests.append(manifest)
    tables = {json.loads(m.read_text())["table_uri"] for m in manifests}
    assert len(tables) == 2
    for manifest in manifests:  # the older manifest still reads its own, unchanged table
        assert len(read_quarantined(str(manifest))) == 8
