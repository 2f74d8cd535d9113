"""The materialize_features component through .python_func, with a real local Feast store."""

import json

import numpy as np
import pytest
from kfp.dsl import Artifact, Dataset, Metrics

from components.materialize_features.component import materialize_features
from quizops.canonical import write_parquet_atomic, write_table
from quizops.errors import InputDataError
from quizops.features import save_features
from quizops.featurestore.online import OnlineStateStore
from tests.featurestore.conftest import KEY, history_of


def artifact(cls, path):
    return cls(name=path.name, uri=str(path))


def test_component_materializes_what_the_predictor_reads(tmp_path, raw_log, clean_log, feature_set):
    write_table(clean_log, tmp_path / "validated.parquet")
    save_features(feature_set, tmp_path / "features")
    store = artifact(Artifact, tmp_path / "store.json")
    metrics = artifact(Metrics, tmp_path / "metrics")
    repo = tmp_path / "home" / "feature_store"
    materialize_features.python_func(
        data=artifact(Dataset, tmp_path / "validated.parquet"),
        features=artifact(Dataset, tmp_path / "features"),
        store=store,
        metrics=metrics,
        feature_store=str(repo),
    )
    record = json.loads((tmp_path / "store.json").read_text())
    students = raw_log["student_id"].nunique()
    assert record["students"] == metrics.metadata["students"] == students
    assert record["items"] == len(feature_set.items)
    assert record["answers"] == len(raw_log.drop_duplicates(["student_id", "timestamp", "item_id"]))
    assert store.metadata["tracer_version"] == record["tracer_version"]
    assert (repo / "feature_store.yaml").is_file() and (
        repo / "data/student_state.parquet"
    ).is_file()
    online = OnlineStateStore(repo, feature_set.tracer, KEY)
    student = sorted(set(raw_log["student_id"]))[3]
    state, _ = online.advance(student)
    np.testing.assert_allclose(
        state.state, feature_set.tracer.state_after(history_of(raw_log, student)), atol=1e-12
    )
    # No raw student id anywhere in the store's files.
    for path in repo.rglob("*"):
        if path.is_file():
            assert b"s003" not in path.read_bytes(), path


def test_component_fails_without_writing_on_a_table_without_answers(
    tmp_path, clean_log, feature_set
):
    # (An answer on an item outside the bank is no longer an error: it leaves the state
    # unchanged, as in the predictor; test_offline checks that.)
    bad = clean_log.drop(columns="correct")
    write_parquet_atomic(bad, tmp_path / "validated.parquet")  # as written, not conformed
    save_features(feature_set, tmp_path / "features")
    repo = tmp_path / "feature_store"
    with pytest.raises(InputDataError, match="correct"):
        materialize_features.python_func(
            data=artifact(Dataset, tmp_path / "validated.parquet"),
            features=artifact(Dataset, tmp_path / "features"),
            store=artifact(Artifact, tmp_path / "store.json"),
            metrics=artifact(Metrics, tmp_path / "metrics"),
            feature_store=str(repo),
        )
    assert not (tmp_path / "store.json").exists()
    assert not (repo / "data" / "student_state.parquet").exists()
