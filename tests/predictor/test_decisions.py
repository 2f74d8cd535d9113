"""Decision records and their sinks (local JSONL; gs:// against the GCS emulator)."""

import hashlib
import json
from datetime import UTC, datetime

import pandas as pd
import pytest

from quizops import storage
from quizops.errors import DecisionSinkError
from quizops.pii.deidentify import pseudonymize_values
from quizops.serving import DECISION_FIELDS
from quizops_predictor.decisions import (
    DecisionLog,
    GcsJsonlSink,
    LocalJsonlSink,
    configured_pii_key,
    open_sink,
)
from tests.conftest import running_gcs_emulator

BANK = ["p1", "p2", "p3"]


def _lines(folder):
    return [
        json.loads(line)
        for p in sorted(folder.glob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]


def _record(log, n=0, candidates=None, now=None, student="jane@example.com"):
    return log.record(
        request_id="r-1",
        instance=n,
        student_id=student,
        history_length=3,
        candidates=candidates,
        state=[0.25, 0.5],
        item_id="p2",
        propensity=0.25,
        policy_version="7",
        protocol="v1",
        now=now,
    )


def test_record_holds_a_pseudonym_the_state_and_the_candidates(tmp_path):
    key = b"k" * 32
    log = DecisionLog(tmp_path, key, variant="canary", item_bank=BANK)
    log.write([_record(log, candidates=["p3", "p2"])])
    [record] = _lines(tmp_path)
    expected = pseudonymize_values(pd.Series(["jane@example.com"]), key).iloc[0]
    assert record["student_pseudonym"] == expected
    assert list(record) == list(DECISION_FIELDS)
    assert record["candidates"] == ["p3", "p2"]
    assert record["candidates_count"] == 2
    # independent digest: SHA-256 over the ids joined by newlines, 16 hex characters
    assert record["candidates_sha256"] == hashlib.sha256(b"p3\np2").hexdigest()[:16]
    assert record["item_bank_version"] == hashlib.sha256(b"p1\np2\np3").hexdigest()[:16]
    assert record["state"] == [0.25, 0.5]
    assert (record["item_id"], record["propensity"], record["policy_version"]) == ("p2", 0.25, "7")
    assert (record["variant"], record["protocol"], record["request_id"]) == ("canary", "v1", "r-1")
    assert record["time"].endswith("Z")
    assert "jane" not in json.dumps(record)


def test_whole_bank_is_logged_as_its_version(tmp_path):
    log = DecisionLog(tmp_path, None, item_bank=BANK)
    record = _record(log)
    assert record["candidates"] is None
    assert record["candidates_count"] == 3
    assert record["candidates_sha256"] == record["item_bank_version"]
    assert "student_pseudonym" not in record


@pytest.mark.parametrize("student", ["s-17", "jane@example.com", "Zoë Ünïcode", "1234"])
def test_pseudonym_matches_the_pii_stage(student):
    from quizops_predictor.decisions import pseudonymize

    key = bytes(range(32))
    assert pseudonymize(student, key) == pseudonymize_values(pd.Series([student]), key).iloc[0]


def test_without_a_key_the_student_is_left_out(tmp_path, monkeypatch):
    monkeypatch.delenv("QUIZOPS_PII_KEY", raising=False)
    monkeypatch.delenv("QUIZOPS_PII_KEY_FILE", raising=False)
    monkeypatch.setenv("QUIZOPS_HOME", str(tmp_path / "home"))
    key = configured_pii_key()
    assert key is None
    log = DecisionLog(tmp_path / "d", key, item_bank=BANK)
    log.write([_record(log, student="s-17")])
    [record] = _lines(tmp_path / "d")
    assert "student_pseudonym" not in record
    assert "s-17" not in json.dumps(record)


def test_configured_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", "00" * 16)
    assert configured_pii_key() == bytes(16)


def test_local_sink_writes_one_file_per_utc_day(tmp_path):
    log = DecisionLog(tmp_path, None, item_bank=BANK)
    days = [datetime(2026, 11, 23, 23, 59, tzinfo=UTC), datetime(2026, 11, 24, 0, 1, tzinfo=UTC)]
    log.write([_record(log, n, now=day) for n, day in enumerate(days)])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "decisions-2026-11-23.jsonl",
        "decisions-2026-11-24.jsonl",
    ]


def test_local_sink_error_names_the_folder(tmp_path):
    sink = LocalJsonlSink(tmp_path / "d")
    (tmp_path / "d").rmdir()
    (tmp_path / "d").write_text("a file where the folder was")
    with pytest.raises(DecisionSinkError, match=r"/d: cannot append decisions \(NotADirectory"):
        sink.write([{"time": "2026-11-24T00:00:00Z"}])


def _gcs_lines(uri):
    records = []
    for name in storage.list_files(uri):
        records += [json.loads(x) for x in storage.read_bytes(name).decode().splitlines()]
    return records


def test_gcs_sink_batches_and_close_loses_nothing(tmp_path):
    with running_gcs_emulator("quizops-decisions") as bucket:
        uri = f"gs://{bucket}/serving"
        sink = open_sink(uri, max_records=5, max_seconds=60.0, spill_directory=tmp_path / "s")
        assert isinstance(sink, GcsJsonlSink)
        log = DecisionLog(sink, b"k" * 32, item_bank=BANK)
        day = datetime(2026, 11, 24, 8, tzinfo=UTC)
        log.write([_record(log, n, now=day) for n in range(5)])  # a full batch: uploaded
        sink.flush()
        log.write([_record(log, n, now=day) for n in range(5, 8)])  # stays batched until close
        assert len(_gcs_lines(uri)) == 5
        log.close()
        records = _gcs_lines(uri)
        assert sorted(r["instance"] for r in records) == list(range(8))
        names = storage.list_files(uri)
        assert all("/serving/date=2026-11-24/decisions-2026-11-24-" in n for n in names)
        assert not (tmp_path / "s").exists()
        with pytest.raises(DecisionSinkError, match="closed"):
            sink.write([records[0]])


def test_gcs_sink_keeps_records_when_uploads_fail_and_spills_at_close(tmp_path):
    failures = []
    with running_gcs_emulator("quizops-decisions"):
        sink = GcsJsonlSink(
            "gs://no-such-bucket/d",
            max_records=1000,
            max_seconds=60.0,
            spill_directory=tmp_path / "spill",
            on_failure=lambda: failures.append(1),
        )
        log = DecisionLog(sink, None, item_bank=BANK)
        log.write([_record(log, n) for n in range(3)])
        with pytest.raises(DecisionSinkError, match="upload failed"):
            sink.flush()
        sink.close(attempts=1)
    assert failures
    assert sorted(r["instance"] for r in _lines(tmp_path / "spill")) == [0, 1, 2]
