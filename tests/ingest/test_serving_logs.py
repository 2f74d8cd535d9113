"""Decision logs read back and joined with each student's next answer (off-policy examples)."""

import json
import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from quizops import storage
from quizops.errors import InputDataError
from quizops.ingest.serving_logs import join_next_answers, read_decisions, read_served_examples
from tests.conftest import running_gcs_emulator

KSERVE_DIR = Path(__file__).resolve().parents[2] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops_predictor.decisions import DecisionLog, GcsJsonlSink  # noqa: E402

KEY = b"k" * 32
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
BANK = ["p1", "p2", "p3"]


def _ms(moment):
    return int(moment.timestamp() * 1000)


def _log_decisions(log, rows):
    """rows: (student, seconds after T0, chosen item, propensity, request id)."""
    records = [
        log.record(
            request_id=request_id,
            instance=0,
            student_id=student,
            history_length=0,
            candidates=None,
            state=[0.3],
            item_id=item,
            propensity=propensity,
            policy_version="7",
            protocol="v1",
            now=T0 + timedelta(seconds=seconds),
        )
        for student, seconds, item, propensity, request_id in rows
    ]
    log.write(records)
    return records


DECISIONS = [
    ("alice", 0, "p2", 0.5, "r1"),  # answered p2 correctly 5 s later: followed, reward 1
    ("alice", 60, "p3", 0.2, "r2"),  # answered p1 2 s later: joined, not followed
    ("bob", 0, "p1", 0.4, "r3"),  # bob's next decision comes before his answer: no answer
    ("bob", 10, "p2", 0.3, "r4"),  # answered p2 wrongly at 12 s: followed, reward 0
    ("carol", 0, "p1", 0.9, "r5"),  # answers two hours later: outside the window
    ("dan", 30, "p3", 0.7, "r6"),  # answers at exactly the decision time only: no answer
]


def _interactions(pseudonym):
    rows = [
        ("alice", "p1", 1, -30),  # before the first decision: never joined
        ("alice", "p2", 1, 5),
        ("alice", "p1", 0, 62),
        ("bob", "p2", 0, 12),
        ("carol", "p1", 1, 7200),
        ("dan", "p3", 1, 30),
        ("erin", "p3", 1, 1),  # a student without decisions
    ]
    return pd.DataFrame(
        {
            "student_id": [pseudonym(s) for s, *_ in rows],
            "item_id": [i for _, i, _, _ in rows],
            "correct": [c for _, _, c, _ in rows],
            "timestamp": [_ms(T0 + timedelta(seconds=t)) for *_, t in rows],
        }
    )


@pytest.fixture
def logged(tmp_path):
    folder = tmp_path / "decisions"
    log = DecisionLog(folder, KEY, item_bank=BANK)
    records = _log_decisions(log, DECISIONS)
    pseudonyms = {r["request_id"]: r["student_pseudonym"] for r in records}
    by_student = {d[0]: pseudonyms[d[4]] for d in DECISIONS}
    return folder, lambda student: by_student.get(student, f"p_{student}")


def test_join_follows_the_next_answer_rules(logged):
    folder, pseudonym = logged
    served = read_served_examples(str(folder), _interactions(pseudonym))
    got = {
        row.request_id: (row.answer_item_id, int(row.correct), bool(row.followed), row.reward)
        for row in served.examples.itertuples()
    }
    assert set(got) == {"r1", "r2", "r4"}
    assert got["r1"] == ("p2", 1, True, 1.0)
    assert got["r2"][:3] == ("p1", 0, False) and math.isnan(got["r2"][3])
    assert got["r4"] == ("p2", 0, True, 0.0)
    assert served.counts == {
        "decisions": 6,
        "without_student": 0,
        "no_answer": 3,
        "joined": 3,
        "followed": 2,
    }
    # the logged propensity travels unchanged: exact, not re-estimated
    assert served.examples.set_index("request_id").loc["r1", "propensity"] == 0.5
    assert served.examples.set_index("request_id").loc["r4", "state"] == [0.3]


def test_window_is_configurable(logged):
    folder, pseudonym = logged
    served = read_served_examples(str(folder), _interactions(pseudonym), max_delay_ms=3 * 3600_000)
    assert "r5" in set(served.examples["request_id"])


def test_duplicates_are_dropped_and_days_selected(tmp_path):
    folder = tmp_path / "d"
    log = DecisionLog(folder, KEY, item_bank=BANK)
    _log_decisions(log, [("a", 0, "p1", 0.5, "r1"), ("a", 0, "p1", 0.5, "r1")])
    _log_decisions(log, [("a", 86_400, "p2", 0.5, "r2")])
    assert list(read_decisions(str(folder))["request_id"]) == ["r1", "r2"]
    assert list(read_decisions(str(folder), span="2026-11-25")["request_id"]) == ["r2"]
    assert read_decisions(str(tmp_path / "nothing")).empty


def test_decisions_without_a_pseudonym_are_counted_not_joined(tmp_path):
    log = DecisionLog(tmp_path, None, item_bank=BANK)
    _log_decisions(log, [("a", 0, "p1", 0.5, "r1")])
    served = read_served_examples(str(tmp_path), _interactions(lambda s: s))
    assert served.counts["without_student"] == 1
    assert served.examples.empty


def test_order_id_timestamps_cannot_be_joined(logged):
    folder, pseudonym = logged
    table = _interactions(pseudonym).assign(timestamp=range(7))
    with pytest.raises(InputDataError, match="not milliseconds since the epoch"):
        read_served_examples(str(folder), table)


def test_malformed_line_names_file_and_line_never_the_content(tmp_path):
    (tmp_path / "decisions-2026-11-24.jsonl").write_text(
        json.dumps({"time": "2026-11-24T08:00:00.000Z"}) + "\n{jane.doe@example.org\n"
    )
    with pytest.raises(InputDataError) as info:
        read_decisions(str(tmp_path))
    assert "decisions-2026-11-24.jsonl: line 2: not a JSON decision record" in str(info.value)
    assert "jane" not in str(info.value)


def test_missing_columns_are_named(logged):
    folder, pseudonym = logged
    with pytest.raises(InputDataError, match="interactions: missing canonical column 'timestamp'"):
        join_next_answers(
            read_decisions(str(folder)), _interactions(pseudonym).drop(columns="timestamp")
        )


def test_reads_batches_the_gcs_sink_wrote(tmp_path):
    with running_gcs_emulator("quizops-serving-logs") as bucket:
        uri = f"gs://{bucket}/decisions"
        sink = GcsJsonlSink(uri, max_records=2, max_seconds=60.0, spill_directory=tmp_path)
        log = DecisionLog(sink, KEY, item_bank=BANK)
        records = _log_decisions(log, DECISIONS)
        log.close()
        assert storage.list_files(uri)
        by_student = {d[0]: r["student_pseudonym"] for d, r in zip(DECISIONS, records, strict=True)}
        table = _interactions(lambda student: by_student.get(student, student))
        served = read_served_examples(uri, table, span="2026-11-24")
    assert sorted(served.examples["request_id"]) == ["r1", "r2", "r4"]


def test_unknown_item_counts_read_back_and_default_to_zero_in_older_records(tmp_path):
    folder = tmp_path / "d"
    log = DecisionLog(folder, KEY, item_bank=BANK)
    [new] = _log_decisions(log, [("a", 0, "p1", 0.5, "r1")])
    new.update(request_id="r2", unknown_history=3, unknown_candidates=1)
    older = {k: v for k, v in new.items() if not k.startswith("unknown_")} | {"request_id": "r3"}
    log.write([new, older])
    frame = read_decisions(str(folder))
    assert list(frame["request_id"]) == ["r1", "r2", "r3"]
    assert list(frame["unknown_history"]) == [0, 3, 0]
    assert list(frame["unknown_candidates"]) == [0, 1, 0]
    assert str(frame["unknown_history"].dtype) == "int64"
    # a count that is not one is refused, naming the field and never the value
    log.write([new | {"request_id": "r4", "unknown_candidates": "jane@example.org"}])
    with pytest.raises(InputDataError, match="'unknown_candidates' is not a count") as info:
        read_decisions(str(folder))
    assert "jane" not in str(info.value)
