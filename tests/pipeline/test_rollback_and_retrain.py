"""The rollback stage on a real MLflow registry (SQLite), and the retraining request through the
KFP REST API (boundary mock of the API, tests/pipeline/mock_kfp_api.py)."""

import json
import warnings

import kfp
import mlflow
import pandas as pd
import pytest

from quizops.errors import DeploymentError, RegistryError, SubmissionError
from quizops.monitoring.decisions import decision_spans, newest_and_previous
from quizops.monitoring.replay import replay_decisions, write_decision_log
from quizops.monitoring.retrain import run_retraining_stage, start_training_run
from quizops.names import CHAMPION_ALIAS, MODEL_NAME, PREVIOUS_ALIAS
from quizops.rollback import run_rollback_stage
from quizops.tracking import promote
from tests.pipeline.mock_kfp_api import MockKfpApi
from tests.pipeline.test_submit_cli import REPO


@pytest.fixture
def registry(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(MODEL_NAME)
    for _ in range(3):
        client.create_model_version(MODEL_NAME, source=str(tmp_path / "policy"))
    return uri, client


def aliases(client):
    model = client.get_registered_model(MODEL_NAME)
    return {alias: str(version) for alias, version in model.aliases.items()}


def test_rollback_restores_the_previous_champion(registry, tmp_path):
    uri, client = registry
    promote("1", "", uri)
    promote("2", "1", uri)
    assert aliases(client) == {CHAMPION_ALIAS: "2", PREVIOUS_ALIAS: "1"}
    result = run_rollback_stage(tracking_uri=uri, target="local",
                                record_path=str(tmp_path / "record.json"),
                                report_path=str(tmp_path / "report.md"))  # fmt: skip
    assert (result.champion, result.demoted) == ("1", "2")
    assert aliases(client) == {CHAMPION_ALIAS: "1"}
    assert client.get_model_version(MODEL_NAME, "2").tags["rolled_back"] == "true"
    assert json.loads((tmp_path / "record.json").read_text())["champion"] == "1"
    assert "champion now: version 1" in (tmp_path / "report.md").read_text()


def test_a_second_rollback_has_nothing_to_restore_and_writes_nothing(registry, tmp_path):
    uri, client = registry
    promote("1", "", uri)
    promote("2", "1", uri)
    paths = {"record_path": str(tmp_path / "r.json"), "report_path": str(tmp_path / "r.md")}
    run_rollback_stage(tracking_uri=uri, target="local", **paths)
    (tmp_path / "r.json").unlink()
    with pytest.raises(RegistryError, match="no 'previous' version"):
        run_rollback_stage(tracking_uri=uri, target="local", **paths)
    assert not (tmp_path / "r.json").exists()
    assert aliases(client) == {CHAMPION_ALIAS: "1"}


def test_an_unknown_target_changes_nothing(registry, tmp_path):
    uri, client = registry
    promote("1", "", uri)
    promote("2", "1", uri)
    with pytest.raises(DeploymentError, match="unknown rollback target"):
        run_rollback_stage(tracking_uri=uri, target="cloud", record_path=str(tmp_path / "r"),
                           report_path=str(tmp_path / "m"))  # fmt: skip
    assert aliases(client) == {CHAMPION_ALIAS: "2", PREVIOUS_ALIAS: "1"}


# --------------------------------------------------------------------------------------------
# decision spans and replay


def test_decision_spans_are_found_in_both_sink_layouts(tmp_path):
    (tmp_path / "decisions-2026-11-22.jsonl").write_text("{}\n")
    (tmp_path / "date=2026-11-24").mkdir()
    (tmp_path / "date=2026-11-24" / "decisions-2026-11-24-host-1.jsonl").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("x")
    assert decision_spans(str(tmp_path)) == ["2026-11-22", "2026-11-24"]
    assert newest_and_previous(str(tmp_path)) == ("2026-11-24", "2026-11-22")
    assert newest_and_previous(str(tmp_path), "2026-11-23") == ("", "2026-11-22")


def test_replayed_drift_concentrates_on_few_items_and_joins_the_table(tmp_path):
    table = pd.DataFrame({
        "student_id": [f"s{i % 40}" for i in range(4000)],
        "item_id": [f"p{i % 200}" for i in range(4000)],
        "propensity": [0.5] * 4000,
    })  # fmt: skip
    clean = replay_decisions(table, 2000, seed=1)
    drift = replay_decisions(table, 2000, seed=1, drift=True)
    assert len({r["item_id"] for r in clean}) > 150
    assert len({r["item_id"] for r in drift}) <= 10
    assert max(r["propensity"] for r in drift) <= 0.1
    assert {r["student_pseudonym"] for r in clean} <= set(table["student_id"])
    path = write_decision_log(clean, tmp_path, "2026-11-24")
    assert path.name == "decisions-2026-11-24.jsonl"
    assert len(path.read_text().splitlines()) == 2000


# --------------------------------------------------------------------------------------------
# retraining through the KFP REST API


@pytest.fixture(autouse=True)
def _no_local_kfp_context(monkeypatch, tmp_path):
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "no-context.json"))
    monkeypatch.delenv("KFP_TOKEN", raising=False)


def uploaded(api):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        client = kfp.Client(host=api.url)
    package = str(REPO / "compiled" / "training.yaml")
    pipeline = client.upload_pipeline(package, pipeline_name="quizops-training")
    client.upload_pipeline_version(package, pipeline_version_name="quizops-training-v1",
                                   pipeline_id=pipeline.pipeline_id)  # fmt: skip
    return pipeline.pipeline_id


def test_a_crossed_threshold_starts_a_training_run_on_the_span(tmp_path):
    with MockKfpApi() as api:
        pipeline_id = uploaded(api)
        result = run_retraining_stage(
            span="2026-11-24", reasons=["drift of item_id (linf) 0.4 > 0.1"], kfp_host=api.url,
            experiment="quizops-prod", training_arguments={"source_uri": "gs://b/src",
                                                           "span": "@scheduled-1"},
            request_path=str(tmp_path / "request.json"),
        )  # fmt: skip
        assert api.rejections == []
        (run,) = [r.body for r in api.requests if r.method == "POST" and r.path.endswith("/runs")]
        # the span monitored, and no skew check against the decisions that started the run
        assert run["runtime_config"]["parameters"] == {"source_uri": "gs://b/src",
                                                       "span": "2026-11-24",
                                                       "decisions_uri": ""}  # fmt: skip
        assert run["pipeline_version_reference"]["pipeline_id"] == pipeline_id
        assert result.run_id and result.target == "kfp"
        record = json.loads((tmp_path / "request.json").read_text())
        assert record["run_id"] == result.run_id
        assert record["arguments"] == ["decisions_uri", "source_uri", "span"]


def test_locally_the_request_is_recorded_and_nothing_is_sent(tmp_path):
    result = run_retraining_stage(span="2026-11-24", reasons=["r"], kfp_host="local",
                                  experiment="e", training_arguments={},
                                  request_path=str(tmp_path / "request.json"))  # fmt: skip
    assert result.started and result.target == "local" and result.run_id == ""


def test_retraining_without_an_uploaded_pipeline_is_one_clear_line():
    with MockKfpApi() as api:
        with pytest.raises(SubmissionError, match="not uploaded") as caught:
            start_training_run(kfp_host=api.url, arguments={}, experiment="e", token="")
        assert "\n" not in str(caught.value)


def test_an_unreachable_api_is_one_clear_line():
    with pytest.raises(SubmissionError, match="unreachable"):
        start_training_run(kfp_host="http://127.0.0.1:9", arguments={}, experiment="e",
                           token="", timeout=2)  # fmt: skip
