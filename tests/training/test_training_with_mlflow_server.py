"""Training and evaluation stages against a real MLflow tracking server on 127.0.0.1."""

import mlflow
import pytest

from quizops.errors import RegistryError
from quizops.evaluation import GATE_CHAMPION_TAG, GateConfig, run_evaluation_stage
from quizops.features import save_features
from quizops.policy import QuizPolicy, TrainingConfig
from quizops.tracking import (
    CHAMPION_ALIAS,
    REGISTERED_MODEL,
    champion_for_promotion,
    promote,
    read_champion,
)
from quizops.training import run_training_stage
from tests.conftest import SMALL_SEARCH

pytestmark = pytest.mark.service


def test_train_register_evaluate_and_gate_against_champion(mlflow_server, feature_set, tmp_path):
    save_features(feature_set, tmp_path / "features")

    def train(folder):
        return run_training_stage(
            features_dir=tmp_path / "features",
            model_dir=tmp_path / folder,
            tracking_uri=mlflow_server,
            experiment="t",
            config=TrainingConfig(**SMALL_SEARCH),
        )

    first = train("m1")
    policy = QuizPolicy.load(tmp_path / "m1")
    assert policy.version == first.model_version
    client = mlflow.MlflowClient(mlflow_server)
    version = client.get_model_version(REGISTERED_MODEL, first.model_version)
    assert version.run_id == first.run_id
    # Lineage tags on the registered version: the data hash equals the run's logged hash.
    run_params = client.get_run(first.run_id).data.params
    assert version.tags["lineage.data_hash"] == run_params["data.sha256"]
    assert len(version.tags["lineage.data_hash"]) == 64
    assert version.tags["lineage.code_version"] == run_params["code_version"]
    assert version.tags["lineage.image"].startswith("ghcr.io/quizops/quizops-core")
    assert version.tags["lineage.span"] == "{}..{}".format(
        run_params["data.span_start"], run_params["data.span_end"]
    )
    assert int(run_params["data.held_out_students"]) > 0

    config = GateConfig(students=80, steps=15, bootstrap_resamples=100)
    evaluation = run_evaluation_stage(
        model_dir=tmp_path / "m1",
        features_dir=tmp_path / "features",
        report_path=tmp_path / "r1.html",
        tracking_uri=mlflow_server,
        run_id=first.run_id,
        config=config,
    )
    assert evaluation.mlflow_logged and evaluation.champion_version == ""
    assert all("champion" not in f.runs for f in evaluation.families)
    run = client.get_run(first.run_id)
    assert run.data.metrics["eval.blessed"] == float(evaluation.blessed)
    tags = client.get_model_version(REGISTERED_MODEL, first.model_version).tags
    assert tags["blessed"] == ("true" if evaluation.blessed else "false")
    html = (tmp_path / "r1.html").read_text()
    assert ("NOT BLESSED" in html) != evaluation.blessed and "<svg" in html

    # Promote the first version; a second challenger is then compared with it, and the
    # champion version the gate saw is recorded on the challenger.
    promote(first.model_version, read_champion(mlflow_server), mlflow_server)
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    assert str(champion.version) == first.model_version
    second = train("m2")
    assert int(second.model_version) == int(first.model_version) + 1
    verdict = run_evaluation_stage(
        model_dir=tmp_path / "m2",
        features_dir=tmp_path / "features",
        report_path=tmp_path / "r2.html",
        tracking_uri=mlflow_server,
        run_id=second.run_id,
        config=config,
    )
    assert verdict.champion_version == first.model_version
    assert all(f.reference == "champion" for f in verdict.families)
    tags = client.get_model_version(REGISTERED_MODEL, second.model_version).tags
    assert tags[GATE_CHAMPION_TAG] == first.model_version

    # Deploy-side compare-and-set: the champion the gate saw is still champion...
    assert champion_for_promotion(second.model_version, mlflow_server) == first.model_version
    # ...until another version is promoted meanwhile: then promoting `second` is refused.
    logged = client.get_model_version(REGISTERED_MODEL, first.model_version)
    other = client.create_model_version(
        REGISTERED_MODEL,
        source=logged.source,
        run_id=logged.run_id,
        model_id=logged.source.removeprefix("models:/"),  # the logged model (MLflow 3)
    ).version
    promote(str(other), first.model_version, mlflow_server)
    with pytest.raises(RegistryError, match="champion changed since version"):
        champion_for_promotion(second.model_version, mlflow_server)
    with pytest.raises(RegistryError, match="champion changed since it was read"):
        promote(second.model_version, first.model_version, mlflow_server)
    assert read_champion(mlflow_server) == str(other)
