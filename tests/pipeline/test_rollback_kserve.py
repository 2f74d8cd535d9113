"""The rollback stage on KServe: the InferenceService goes back first, the registry only after.

Against tests/deploy/mock_kube_api.py (a boundary mock of the Kubernetes API that checks every
InferenceService against the CRD schema) and a real SQLite MLflow registry."""

import json

import mlflow
import pytest
from kubernetes import client

from quizops.deploy.manifest import VERSION_LABEL, render_inference_service
from quizops.deploy.rollout import deploy_kserve_target
from quizops.errors import DeploymentError
from quizops.names import CHAMPION_ALIAS, MODEL_NAME, PREDICTOR_IMAGE, PREVIOUS_ALIAS
from quizops.rollback import run_rollback_stage
from quizops.tracking import promote
from tests.deploy.mock_kube_api import MockKubeAPI

NS = "quizops"


def api_for(kube):
    configuration = client.Configuration()
    configuration.host = kube.url
    return client.CustomObjectsApi(client.ApiClient(configuration))


def deploy(kube, version):
    manifest = render_inference_service(
        "quiz-policy", NS, f"gs://quizops/models/v{version}/policy", PREDICTOR_IMAGE, version
    )
    # No Prometheus stand-in here: the observation window is opted out of explicitly.
    deploy_kserve_target(api_for(kube), manifest, 10, sleep=lambda s: None, canary_analysis="skip")


@pytest.fixture
def registry(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow_client = mlflow.MlflowClient(uri, registry_uri=uri)
    mlflow_client.create_registered_model(MODEL_NAME)
    for _ in range(2):
        mlflow_client.create_model_version(MODEL_NAME, source=str(tmp_path / "policy"))
    promote("1", "", uri)
    promote("2", "1", uri)
    return uri, mlflow_client


def aliases(mlflow_client):
    model = mlflow_client.get_registered_model(MODEL_NAME)
    return {alias: str(version) for alias, version in model.aliases.items()}


def test_kserve_rollback_restores_the_deployment_then_the_registry(registry, tmp_path):
    uri, mlflow_client = registry
    with MockKubeAPI() as kube:
        deploy(kube, "1")
        deploy(kube, "2")
        assert kube.objects[(NS, "quiz-policy")]["metadata"]["labels"][VERSION_LABEL] == "2"
        result = run_rollback_stage(tracking_uri=uri, target="kserve", namespace=NS,
                                    service_name="quiz-policy", api=api_for(kube),
                                    record_path=str(tmp_path / "r.json"),
                                    report_path=str(tmp_path / "r.md"))  # fmt: skip
        served = kube.objects[(NS, "quiz-policy")]
        assert served["metadata"]["labels"][VERSION_LABEL] == "1"
        spec = json.dumps(served["spec"])
        assert "models/v1/policy" in spec and "models/v2/policy" not in spec
    assert (result.champion, result.demoted, result.deployed_version) == ("1", "2", "1")
    assert result.deployment_status == "rolled_back"
    assert aliases(mlflow_client) == {CHAMPION_ALIAS: "1"}


def test_a_failed_kserve_rollback_leaves_the_registry_unchanged(registry, tmp_path):
    uri, mlflow_client = registry
    with MockKubeAPI() as kube:
        deploy(kube, "2")  # one deployment: nothing recorded to go back to
        with pytest.raises(DeploymentError, match="no previous predictor recorded"):
            run_rollback_stage(tracking_uri=uri, target="kserve", namespace=NS,
                               service_name="quiz-policy", api=api_for(kube),
                               record_path=str(tmp_path / "r.json"),
                               report_path=str(tmp_path / "r.md"))  # fmt: skip
    assert aliases(mlflow_client) == {CHAMPION_ALIAS: "2", PREVIOUS_ALIAS: "1"}
    assert not (tmp_path / "r.json").exists()
