"""The local target end to end: the real predictor process, then promotion in MLflow."""

import json

import pytest
from kfp.dsl import Artifact, Markdown, Model

from components.deploy_kserve.component import deploy_kserve
from quizops.deploy import DeploymentError, check_v1_answer, deploy_local

pytestmark = pytest.mark.service


def test_component_local_target_smoke_tests_and_promotes(tmp_path, policy_dir, registry):
    uri, client = registry
    model = Model(name="model", uri=str(policy_dir), metadata={"mlflow_model_version": "2"})
    deployment = Artifact(name="deployment", uri=str(tmp_path / "out" / "deployment.json"))
    report = Markdown(name="report", uri=str(tmp_path / "out" / "report.md"))
    deploy_kserve.python_func(
        model=model,
        target="local",
        namespace="",
        service_name="quiz-policy",
        canary_traffic_percent=10,
        tracking_uri=uri,
        deployment=deployment,
        report=report,
    )
    record = json.loads((tmp_path / "out" / "deployment.json").read_text())
    assert record["status"] == "promoted"
    assert record["checks"]["health_ready"] is True
    assert record["checks"]["v1_contract"] is True
    assert record["previous_version"] == "1"
    assert str(client.get_model_version_by_alias("quiz-policy", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("quiz-policy", "previous").version) == "1"
    assert deployment.metadata["status"] == "promoted"
    assert "**promoted**" in (tmp_path / "out" / "report.md").read_text()
    assert any("predictor stopped" in e for e in record["events"])


def test_unregistered_version_fails_before_any_output(tmp_path, policy_dir, registry):
    uri, client = registry
    with pytest.raises(Exception, match="version '9' is not registered"):
        deploy_local(policy_dir, "9", uri)
    assert str(client.get_model_version_by_alias("quiz-policy", "champion").version) == "1"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, {"error": "x"}, "HTTP 500"),
        (200, {"predictions": []}, "expected one prediction"),
        (
            200,
            {"predictions": [{"item_id": "zz", "propensity": 0.5, "policy_version": "2"}]},
            "not in the bank",
        ),
        (
            200,
            {"predictions": [{"item_id": "p1", "propensity": 0.0, "policy_version": "2"}]},
            "propensity",
        ),
        (
            200,
            {"predictions": [{"item_id": "p1", "propensity": 0.5, "policy_version": "1"}]},
            "policy_version",
        ),
    ],
)
def test_contract_check_rejects_bad_answers(status, body, message):
    with pytest.raises(DeploymentError, match=message):
        check_v1_answer(status, body, {"p1"}, "2")


@pytest.mark.parametrize(
    "body",
    [
        {"predictions": [{"item_id": "CANARY-9f3e", "propensity": 0.5, "policy_version": "2"}]},
        {"predictions": [{"item_id": "p1", "propensity": "CANARY-9f3e", "policy_version": "2"}]},
        {"predictions": [{"item_id": "p1", "propensity": 0.5, "policy_version": "CANARY-9f3e"}]},
        {"predictions": [{"item_id": "p1", "CANARY-9f3e": 1}]},
        {"error": "CANARY-9f3e"},
    ],
)
def test_contract_check_messages_hold_no_value_of_the_answer(body):
    with pytest.raises(DeploymentError) as info:
        check_v1_answer(200 if "predictions" in body else 500, body, {"p1"}, "2")
    assert "CANARY" not in str(info.value)
