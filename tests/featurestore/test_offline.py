"""Offline features: every stored state equals the shared feature code's pass over the history
before it, and point-in-time retrieval never returns a value from after a decision."""

import numpy as np
import pandas as pd
import pytest

from quizops.errors import InputDataError
from quizops.featurestore.offline import state_snapshots, to_event_time
from quizops.featurestore.state import tracer_version
from quizops.pii.deidentify import pseudonymize_values
from tests.featurestore.conftest import KEY, history_of


def test_every_snapshot_is_the_state_after_the_history_up_to_it(raw_log, clean_log, feature_set):
    tracer = feature_set.tracer
    scalars, states = state_snapshots(clean_log, tracer, "v")
    pseudonym = dict(
        zip(
            pseudonymize_values(raw_log["student_id"], KEY).astype(str),
            raw_log["student_id"],
            strict=True,
        )
    )
    checked = 0
    for student in sorted(set(raw_log["student_id"]))[:12]:
        history = history_of(raw_log, student)
        rows = np.flatnonzero(scalars["student_pseudonym"].map(pseudonym) == student)
        assert len(rows) == len(history)  # one answer per timestamp in this log
        for k, row in enumerate(rows):
            expected = tracer.state_after(history[: k + 1])
            np.testing.assert_allclose(states[row], expected, rtol=0, atol=1e-12)
            assert scalars["n_answers"].iloc[row] == k + 1
            assert scalars["n_correct"].iloc[row] == sum(c for _, c in history[: k + 1])
            assert scalars["last_item_id"].iloc[row] == history[k][0]
            checked += 1
    assert checked > 300


def test_multi_skill_rows_are_one_answer(clean_log, feature_set):
    scalars, _ = state_snapshots(clean_log, feature_set.tracer, "v")
    answers = clean_log.drop_duplicates(["student_id", "timestamp", "item_id"])
    assert len(answers) < len(clean_log)  # the fixture has duplicate multi-skill rows
    assert scalars.groupby("student_pseudonym")["n_answers"].max().sum() == len(answers)


def test_an_answer_on_an_item_outside_the_bank_leaves_the_state_unchanged(
    raw_log, clean_log, feature_set
):
    # The predictor's rule (an item added since training, or of a skill the feature stage
    # left out): the state after it is the state before it; it still counts as an answer.
    # Independent computation: the tracer's pass over the history without that answer.
    tracer = feature_set.tracer
    student = sorted(set(raw_log["student_id"]))[3]
    history = history_of(raw_log, student)
    pseudonym = pseudonymize_values(pd.Series([student]), KEY).iloc[0]
    mine = (
        clean_log.loc[clean_log["student_id"] == pseudonym]
        .drop_duplicates(["timestamp", "item_id"])
        .sort_values("timestamp", kind="stable")
    )
    bad = clean_log.copy()
    third = (bad["student_id"] == pseudonym) & (bad["timestamp"] == mine["timestamp"].iloc[2])
    bad.loc[third, "item_id"] = "new-item"  # every row of that answer (a multi-skill item's too)
    scalars, states = state_snapshots(bad, tracer, "v")
    rows = np.flatnonzero(scalars["student_pseudonym"] == pseudonym)
    kept = [*history[:2], *history[3:]]
    for k, row in enumerate(rows):
        expected = tracer.state_after(kept[: k if k >= 2 else k + 1])
        np.testing.assert_allclose(states[row], expected, rtol=0, atol=1e-12)
        assert scalars["n_answers"].iloc[row] == k + 1
    assert scalars["last_item_id"].iloc[rows[2]] == "new-item"
    np.testing.assert_allclose(states[rows[2]], states[rows[1]], rtol=0, atol=0)


def test_missing_column_and_empty_log(clean_log, feature_set):
    with pytest.raises(InputDataError, match="timestamp"):
        state_snapshots(clean_log.drop(columns="timestamp"), feature_set.tracer, "v")
    with pytest.raises(InputDataError, match="empty"):
        state_snapshots(clean_log.iloc[:0], feature_set.tracer, "v")


def test_historical_features_are_point_in_time_correct(materialized, raw_log, clean_log,
                                                       feature_set):  # fmt: skip
    """Training examples from the offline store: for a decision made just before answer k,
    the store returns the state after answers 0..k-1, never one that includes answer k."""
    from quizops.featurestore.config import open_store
    from quizops.featurestore.offline import historical_student_states

    repo, _ = materialized
    tracer = feature_set.tracer
    students = sorted(set(raw_log["student_id"]))[:8]
    pseudonyms = pseudonymize_values(pd.Series(students), KEY).astype(str).tolist()
    entity_rows, expected = [], []
    for student, pseudonym in zip(students, pseudonyms, strict=True):
        rows = raw_log[raw_log["student_id"] == student].drop_duplicates(["timestamp", "item_id"])
        history = history_of(raw_log, student)
        stamps = rows.sort_values("timestamp")["timestamp"].to_numpy()
        for k, stamp in enumerate(stamps):
            decision_time = to_event_time(np.array([stamp])).iloc[0] - pd.Timedelta(microseconds=1)
            entity_rows.append({"student_pseudonym": pseudonym, "event_timestamp": decision_time})
            expected.append((k, tracer.state_after(history[:k])))
    entity_df = pd.DataFrame(entity_rows)
    got = historical_student_states(open_store(repo), entity_df, tracer)
    assert len(got) == len(entity_df)
    got = got.set_index(["student_pseudonym", "event_timestamp"]).loc[
        list(zip(entity_df["student_pseudonym"], entity_df["event_timestamp"], strict=True))
    ]
    for (k, state), (_, row) in zip(expected, got.iterrows(), strict=True):
        assert row["n_answers"] == k  # answers strictly before the decision only
        np.testing.assert_allclose(row["state"], state, rtol=0, atol=1e-12)
    assert (got["tracer_version"] == tracer_version(tracer)).all()
