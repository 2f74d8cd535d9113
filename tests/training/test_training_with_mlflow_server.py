"""Training and evaluation stages against a real MLflow tracking server on 127.0.0.1."""

import mlflow
import pytest

from quizops.evaluation import GateConfig, run_evaluation_stage
from quizops.features import save_features
from quizops.policy import QuizPolicy
from quizops.tracking import CHAMPION_ALIAS, REGISTERED_MODEL
from quizops.training import run_training_stage

pytestmark = pytest.mark.service


def test_train_register_evaluate_and_gate_against_champion(mlflow_server, feature_set, tmp_path):
    save_features(feature_set, tmp_path / "features")
    first = run_training_stage(tmp_path / "features", tmp_path / "m1", mlflow_server, "t")
    policy = QuizPolicy.load(tmp_path / "m1")
    assert policy.version == first["model_version"]

    client = mlflow.MlflowClient(mlflow_server)
    run = client.get_run(first["run_id"])
    assert run.data.params["train.temperature"] == "0.02"
    assert run.data.metrics["train_examples"] == len(feature_set.examples)
    version = client.get_model_version(REGISTERED_MODEL, first["model_version"])
    assert version.run_id == first["run_id"]

    config = GateConfig(students=80, steps=20)
    evaluation = run_evaluation_stage(
        tmp_path / "m1",
        tmp_path / "features",
        tmp_path / "r1.html",
        mlflow_server,
        first["run_id"],
        config,
    )
    assert evaluation.blessed
    assert "champion" not in evaluation.curves
    assert client.get_run(first["run_id"]).data.metrics["sim_lift_over_random"] > 0.05
    assert client.get_model_version(REGISTERED_MODEL, first["model_version"]).tags["blessed"] == (
        "true"
    )
    html = (tmp_path / "r1.html").read_text()
    assert "BLESSED" in html and "data:image/png;base64," in html

    # Promote the first version; a second challenger is then compared with it.
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, first["model_version"])
    second = run_training_stage(tmp_path / "features", tmp_path / "m2", mlflow_server, "t")
    assert int(second["model_version"]) == int(first["model_version"]) + 1
    strict = GateConfig(students=80, steps=20, champion_tolerance=-1.0)  # must beat by 1.0
    verdict = run_evaluation_stage(
        tmp_path / "m2",
        tmp_path / "features",
        tmp_path / "r2.html",
        mlflow_server,
        second["run_id"],
        strict,
    )
    assert "champion" in verdict.curves
    assert not verdict.blessed
    assert any(r.startswith("FAIL: mastery vs champion") for r in verdict.reasons)
