"""Loading the champion from the MLflow registry, as training registers it (pyfunc + policy/)."""

import mlflow
import mlflow.pyfunc
import pytest

from quizops.errors import ModelNotFoundError
from quizops.serving import PredictorProcess, PredictorStartError
from quizops_predictor.loading import CHAMPION_URI, load_policy


class _Wrapper(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


@pytest.fixture(scope="module")
def champion_store(tmp_path_factory, policy_dir):
    """Registers the policy the way quizops.training does: pyfunc named 'policy' with the
    policy folder as its 'policy' artifact; version 1 gets the alias 'champion'."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("t", artifact_location=(root / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(
            name="policy",
            python_model=_Wrapper(),
            artifacts={"policy": str(policy_dir)},
            registered_model_name="quiz-policy",
        )
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.set_registered_model_alias("quiz-policy", "champion", str(info.registered_model_version))
    return uri


def test_champion_loads_with_its_registered_version(champion_store, tmp_path):
    policy, version = load_policy(
        model_uri=CHAMPION_URI, tracking_uri=champion_store, download_dir=tmp_path
    )
    assert version == "1"
    assert "p100" in policy.item_bank


def test_missing_alias_is_model_not_found(champion_store):
    with pytest.raises(ModelNotFoundError, match="alias 'nobody'"):
        load_policy(model_uri="models:/quiz-policy@nobody", tracking_uri=champion_store)


@pytest.mark.service
def test_server_serves_the_champion(champion_store, tmp_path):
    with PredictorProcess(
        model_uri=CHAMPION_URI, tracking_uri=champion_store, decisions_dir=tmp_path
    ) as server:
        status, body = server.predict_v1([{"student_id": "a", "history": []}])
    assert status == 200
    assert body["predictions"][0]["policy_version"] == "1"


@pytest.mark.service
def test_server_without_a_champion_exits_with_a_message(tmp_path):
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    process = PredictorProcess(model_uri=CHAMPION_URI, tracking_uri=empty, decisions_dir=tmp_path)
    with pytest.raises(PredictorStartError, match="make run"):
        process.start(ready_timeout=60)
