"""Served decisions' exact propensities written onto the answers they produced (the feature
stage's join) and the skips.

Expected values here are written out by hand from the scenario, not computed by the code."""

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quizops.errors import InputDataError
from quizops.ingest.serving_logs import (
    SERVED_COLUMNS,
    attach_served_decisions,
    is_clock_time,
)
from quizops.pii.deidentify import pseudonymize_values

KSERVE_DIR = Path(__file__).resolve().parents[2] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops_predictor.decisions import DecisionLog  # noqa: E402

KEY = b"k" * 32
T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SPAN = "2026-11-24"
BANK = ["p1", "p2", "p3", "p4"]


def _ms(seconds):
    return int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)


def _pseudonym(student):
    return pseudonymize_values(pd.Series([student]), KEY).iloc[0]


def _decide(log, student, seconds, item, propensity, request_id, version="7"):
    return log.record(
        request_id=request_id,
        instance=0,
        student_id=student,
        history_length=0,
        candidates=None,
        state=[0.3],
        item_id=item,
        propensity=propensity,
        policy_version=version,
        protocol="v1",
        now=T0 + timedelta(seconds=seconds),
    )


def _decisions(folder):
    champion = DecisionLog(folder, KEY, variant="champion", item_bank=BANK)
    canary = DecisionLog(folder, KEY, variant="canary", item_bank=BANK)
    champion.write(
        [
            _decide(champion, "alice", 0, "p2", 0.5, "r1"),  # followed (a two-skill item)
            _decide(champion, "alice", 60, "p3", 0.2, "r2"),  # answered p1: not followed
            _decide(champion, "dan", 30, "p4", 0.6, "r4"),  # never answered
        ]
    )
    canary.write([_decide(canary, "bob", 10, "p1", 0.3, "r3", version="8")])  # followed


def _answers():
    """The span's de-identified answers: (student, interaction, item, skill, correct, seconds,
    the table's own propensity)."""
    rows = [
        ("alice", "i1", "p2", "s1", 1, 5, np.nan),
        ("alice", "i1", "p2", "s2", 1, 5, np.nan),  # second skill of the same answer
        ("alice", "i2", "p1", "s1", 0, 62, np.nan),
        ("bob", "i3", "p1", "s1", 1, 11, 0.9),  # carries another propensity: replaced
        ("carol", "i4", "p3", "s2", 0, 20, np.nan),  # no decision: keeps NaN
        ("carol", "i5", "p2", "s1", 1, 40, 0.25),  # no decision: keeps its own
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "student_id",
            "interaction_id",
            "item_id",
            "skill_id",
            "correct",
            "seconds",
            "propensity",
        ],
    )
    frame["timestamp"] = [_ms(s) for s in frame.pop("seconds")]
    frame["student_id"] = pseudonymize_values(frame["student_id"], KEY)
    return frame


def test_followed_decisions_put_their_exact_propensity_on_every_row_of_the_answer(tmp_path):
    _decisions(tmp_path)
    table = _answers()
    original = table.copy()
    result = attach_served_decisions(table, str(tmp_path), SPAN)
    pd.testing.assert_frame_equal(table, original)  # the input is not modified
    assert result.skipped == ""
    out = result.interactions
    expected_p = [0.5, 0.5, np.nan, 0.3, np.nan, 0.25]
    np.testing.assert_allclose(out["propensity"].to_numpy(dtype=float), expected_p)
    assert list(out["served_policy_version"]) == ["7", "7", None, "8", None, None]
    assert list(out["served_variant"]) == ["champion", "champion", None, "canary", None, None]
    assert set(SERVED_COLUMNS) <= set(out.columns)
    assert result.counts == {
        "decisions": 4,
        "joined": 3,  # alice twice, bob
        "followed": 2,
        "no_answer": 1,  # dan
        "without_student": 0,
        "answers_with_exact_propensity": 2,
        "rows_with_exact_propensity": 3,
        "replaced_logged_propensity": 1,
    }
    # Counts only: no pseudonym or raw id in what the stage writes out.
    text = json.dumps(result.counts)
    assert _pseudonym("alice") not in text and "alice" not in text


def test_another_span_reads_no_decision_and_skips(tmp_path):
    _decisions(tmp_path)
    result = attach_served_decisions(_answers(), str(tmp_path), "2026-11-25")
    assert result.skipped.startswith("no decision records")
    assert set(result.counts.values()) == {0}
    assert "served_variant" not in result.interactions.columns
    pd.testing.assert_frame_equal(result.interactions, _answers())


def test_order_id_tables_are_skipped_without_reading_the_logs(tmp_path):
    (tmp_path / "decisions-2026-11-24.jsonl").write_text("not json\n")  # would fail if read
    table = _answers()
    table["timestamp"] = np.arange(1, len(table) + 1) * 1000  # ASSISTments order ids
    result = attach_served_decisions(table, str(tmp_path), SPAN)
    assert "not clock times" in result.skipped and "order ids" in result.skipped
    pd.testing.assert_frame_equal(result.interactions, table)
    assert result.interactions is not table


def test_no_decisions_uri_skips(tmp_path):
    result = attach_served_decisions(_answers(), "", SPAN)
    assert result.skipped == "no decisions_uri given"


def test_an_unreadable_log_fails_naming_file_and_line_not_the_value(tmp_path):
    _decisions(tmp_path)
    path = tmp_path / f"decisions-{SPAN}.jsonl"
    path.write_text(path.read_text() + '{"time": "2026-11-24T08:00:00Z", "student":\n')
    with pytest.raises(InputDataError, match=r"decisions-2026-11-24\.jsonl: line 5") as info:
        attach_served_decisions(_answers(), str(tmp_path), SPAN)
    assert "student" not in str(info.value)


def test_clock_time_rule():
    assert is_clock_time(pd.Series([_ms(0), _ms(5)]))
    assert not is_clock_time(pd.Series([3, 4, 999_999_999]))  # order ids, epoch seconds
    assert not is_clock_time(pd.Series([], dtype="int64"))


def test_a_decision_served_before_midnight_and_answered_after_joins_the_next_span(tmp_path):
    # Decisions of 2026-11-23 go to that day's file. The one served 10 s before midnight is
    # answered 5 s after it, in the 2026-11-24 span; the one served at noon cannot be answered
    # within the hour and is not read into the next span's counts.
    log = DecisionLog(tmp_path, KEY, variant="champion", item_bank=BANK)
    midnight = datetime(2026, 11, 24, tzinfo=UTC)

    def decide(student, when, item, propensity, request_id):
        return log.record(
            request_id=request_id, instance=0, student_id=student, history_length=0,
            candidates=None, state=[0.3], item_id=item, propensity=propensity,
            policy_version="7", protocol="v1", now=when,
        )  # fmt: skip

    log.write([
        decide("erin", midnight - timedelta(seconds=10), "p4", 0.4, "late"),
        decide("frank", midnight - timedelta(hours=12), "p1", 0.7, "noon"),
    ])  # fmt: skip
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == ["decisions-2026-11-23.jsonl"]
    table = pd.DataFrame(
        {
            "student_id": pseudonymize_values(pd.Series(["erin", "frank"]), KEY),
            "interaction_id": ["j1", "j2"],
            "item_id": ["p4", "p1"],
            "skill_id": ["s1", "s1"],
            "correct": [1, 0],
            "timestamp": [
                int((midnight + timedelta(seconds=s)).timestamp() * 1000) for s in (5, 9)
            ],
            "propensity": [np.nan, np.nan],
        }
    )
    result = attach_served_decisions(table, str(tmp_path), SPAN)
    assert result.skipped == ""
    np.testing.assert_allclose(result.interactions["propensity"].to_numpy(float), [0.4, np.nan])
    assert result.counts["decisions"] == 1 and result.counts["followed"] == 1
