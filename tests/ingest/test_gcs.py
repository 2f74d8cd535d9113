"""gs:// sources through the real google-cloud-storage client against a local GCS emulator."""

import json

import pytest

from quizops import storage
from quizops.errors import InputDataError
from quizops.ingest import ingest, read_source
from quizops.quarantine import read_quarantined


def test_reads_a_span_from_gcs_and_writes_the_raw_zone_there(upload, assistments_frame, tmp_path):
    csv = assistments_frame.to_csv(index=False).encode()
    upload("logs/date=2026-11-22/a.csv", csv)
    upload("logs/date=2026-11-23/a.csv", csv)
    manifest = tmp_path / "manifest.json"
    metrics = ingest("gs://quizops-raw/logs", "assistments", "2026-11-23", "", manifest)
    content = json.loads(manifest.read_text())
    assert content["table_uri"] == (
        "gs://quizops-raw/logs/_quizops_raw/format=assistments/span=2026-11-23/interactions.parquet"
    )
    assert content["previous_span"] == "2026-11-22"
    assert metrics["rows"] == 8.0
    assert len(read_quarantined(manifest)) == 8
    # the raw zone beside the source does not become a span
    assert read_source("gs://quizops-raw/logs", "assistments", "").counts["files"] == 2


def test_single_gcs_object(upload, assistments_frame):
    uri = upload("single/skill_builder.csv", assistments_frame.to_csv(index=False).encode())
    assert len(read_source(uri, "assistments").frame) == 8


def test_missing_gcs_object_is_a_clear_error_and_nothing_is_written(gcs_emulator, tmp_path):
    manifest = tmp_path / "manifest.json"
    with pytest.raises(InputDataError, match=r"gs://quizops-raw/absent\.csv: no such object"):
        ingest("gs://quizops-raw/absent.csv", "assistments", "", "gs://quizops-raw/zone", manifest)
    assert not manifest.exists()
    assert storage.list_files("gs://quizops-raw/zone") == []


def test_read_bytes_of_missing_object(gcs_emulator):
    with pytest.raises(InputDataError, match="no such object"):
        storage.read_bytes("gs://quizops-raw/nothing/here.csv")
