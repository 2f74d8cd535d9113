"""The kserve target against the MOCK Kubernetes API server (tests/deploy/mock_kube_api.py)."""

import json

import pytest
from kubernetes import client
from mock_kube_api import MockKubeAPI

from quizops.deploy import (
    DeploymentError,
    ManifestInvalidError,
    deploy_kserve_target,
    render_inference_service,
    validate_inference_service,
)

IMAGE = "ghcr.io/quizops/quizops-predictor:0.1.0"


def _api(mock):
    configuration = client.Configuration()
    configuration.host = mock.url
    return client.CustomObjectsApi(client.ApiClient(configuration))


def _manifest(uri="gs://quizops/models/v2/policy", version="2"):
    return render_inference_service("quiz-policy", "quizops", uri, IMAGE, version)


def _no_sleep(_seconds):
    return None


def test_rendered_manifest_validates_and_carries_the_model():
    manifest = _manifest()
    predictor = manifest["spec"]["predictor"]
    assert predictor["storageUris"] == [
        {"uri": "gs://quizops/models/v2/policy", "mountPath": "/mnt/models"}
    ]
    assert predictor["containers"][0]["image"] == IMAGE
    assert "canaryTrafficPercent" not in predictor
    canary = render_inference_service("quiz-policy", "quizops", "gs://b/p", IMAGE, "2", 10)
    assert canary["spec"]["predictor"]["canaryTrafficPercent"] == 10


def test_validation_rejects_what_the_crd_rejects():
    manifest = _manifest()
    manifest["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    with pytest.raises(ManifestInvalidError, match="canaryTrafficPercent"):
        validate_inference_service(manifest)
    manifest = _manifest()
    manifest["spec"]["predictor"]["storageUri"] = "gs://typo"  # predictor has no storageUri
    with pytest.raises(
        ManifestInvalidError, match=r"spec\.predictor\.storageUri: field not declared"
    ):
        validate_inference_service(manifest)
    with pytest.raises(ManifestInvalidError, match=r"0\.\.100"):
        render_inference_service("q", "ns", "gs://b/p", IMAGE, "2", 150)


def test_mock_rejects_an_invalid_body():
    bad = _manifest()
    bad["spec"]["predictor"]["containers"][0]["imagePullPolicyy"] = "Always"
    with MockKubeAPI() as mock:
        with pytest.raises(client.ApiException) as info:
            _api(mock).create_namespaced_custom_object(
                "serving.kserve.io", "v1beta1", "quizops", "inferenceservices", bad
            )
        assert info.value.status == 422
        assert "imagePullPolicyy" in mock.rejections[0]


def test_first_rollout_creates_the_service():
    with MockKubeAPI(polls_until_ready=2) as mock:
        record = deploy_kserve_target(
            _api(mock), _manifest(), 10, poll_interval=0.01, sleep=_no_sleep
        )
        assert record.status == "promoted"
        assert record.checks["rollout"]["healthy"] is True
        assert [m for m, _, _ in mock.requests].count("POST") == 1
        stored = mock.objects[("quizops", "quiz-policy")]
        assert "canaryTrafficPercent" not in stored["spec"]["predictor"]


def _seed(mock, uri="gs://quizops/models/v1/policy", version="1"):
    deploy_kserve_target(
        _api(mock), _manifest(uri, version), 10, poll_interval=0.01, sleep=_no_sleep
    )
    mock.requests.clear()


def test_healthy_canary_is_promoted_to_all_traffic():
    with MockKubeAPI(polls_until_ready=1) as mock:
        _seed(mock)
        seen_split = []
        api = _api(mock)
        original_get = api.get_namespaced_custom_object

        def spying_get(**kwargs):
            obj = original_get(**kwargs)
            seen_split.append(
                obj.get("status", {}).get("components", {}).get("predictor", {}).get("traffic")
            )
            return obj

        api.get_namespaced_custom_object = spying_get
        record = deploy_kserve_target(
            api, _manifest(), 10, poll_interval=0.01, sleep=_no_sleep, canary_analysis="skip"
        )
        assert record.status == "promoted"
        assert record.checks["metrics_analysis"].startswith("skipped on request")
        assert record.previous_version == "1"
        assert record.canary_traffic_percent == 10
        patches = [body for method, _, body in mock.requests if method == "PATCH"]
        assert patches[0]["spec"]["predictor"]["canaryTrafficPercent"] == 10
        assert patches[1] == {"spec": {"predictor": {"canaryTrafficPercent": None}}}
        assert any(t and sorted(x["percent"] for x in t) == [10, 90] for t in seen_split)
        final = mock.objects[("quizops", "quiz-policy")]
        assert "canaryTrafficPercent" not in final["spec"]["predictor"]
        assert (
            final["spec"]["predictor"]["storageUris"][0]["uri"] == "gs://quizops/models/v2/policy"
        )
        assert final["status"]["components"]["predictor"]["traffic"][0]["percent"] == 100
        assert final["metadata"]["labels"]["quizops.io/model-version"] == "2"


def test_failing_canary_is_rolled_back_to_the_previous_spec():
    with MockKubeAPI() as mock:
        _seed(mock)
        before = json.loads(json.dumps(mock.objects[("quizops", "quiz-policy")]["spec"]))
        with pytest.raises(DeploymentError, match="rolled back to the previous predictor"):
            deploy_kserve_target(
                _api(mock),
                _manifest("gs://quizops/models/broken/policy", "2"),
                10,
                poll_interval=0.01,
                sleep=_no_sleep,
                canary_analysis="skip",
            )
        after = mock.objects[("quizops", "quiz-policy")]
        assert after["spec"] == before
        assert after["metadata"]["labels"]["quizops.io/model-version"] == "1"
        assert after["status"]["conditions"][-1] == {"type": "Ready", "status": "True"}


def test_canary_that_never_becomes_ready_is_rolled_back_within_bounds():
    # A canary revision that never becomes ready (Knative keeps the champion's routing); the
    # rollback restores the previous spec, whose revision does become ready.
    with MockKubeAPI() as mock:
        _seed(mock)
        slept = []
        with pytest.raises(DeploymentError, match="not ready within the analysis bounds"):
            deploy_kserve_target(
                _api(mock),
                _manifest("gs://quizops/models/never-ready/policy", "2"),
                10,
                analysis_timeout=1.0,
                poll_interval=0.2,
                sleep=slept.append,
                canary_analysis="skip",
            )
        assert 0 < len(slept) <= 5
        assert (
            mock.objects[("quizops", "quiz-policy")]["metadata"]["labels"][
                "quizops.io/model-version"
            ]
            == "1"
        )


def test_component_kserve_target_through_kubeconfig(tmp_path, monkeypatch, policy_dir, registry):
    from kfp.dsl import Artifact, Markdown, Model

    from components.deploy_kserve.component import deploy_kserve

    uri, mlflow_client = registry
    with MockKubeAPI() as mock:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "mock",
                    "clusters": [{"name": "mock", "cluster": {"server": mock.url}}],
                    "contexts": [
                        {
                            "name": "mock",
                            "context": {"cluster": "mock", "user": "u", "namespace": "quizops"},
                        }
                    ],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                }
            )
        )
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        model = Model(
            name="model",
            uri="gs://quizops/models/v2/policy",
            metadata={"mlflow_model_version": "2"},
        )
        deployment = Artifact(name="deployment", uri=str(tmp_path / "deployment.json"))
        report = Markdown(name="report", uri=str(tmp_path / "report.md"))
        deploy_kserve.python_func(
            model=model,
            target="kserve",
            namespace="quizops",
            service_name="quiz-policy",
            canary_traffic_percent=10,
            tracking_uri=uri,
            deployment=deployment,
            report=report,
            predictor_image=IMAGE,
        )
        record = json.loads((tmp_path / "deployment.json").read_text())
        assert record["status"] == "promoted"
        assert ("quizops", "quiz-policy") in mock.objects
        assert (
            str(mlflow_client.get_model_version_by_alias("quiz-policy", "champion").version) == "2"
        )
        assert "quizops/quiz-policy" in (tmp_path / "report.md").read_text()


def test_shipped_schema_copy_matches_the_shared_crd():
    import yaml
    from mock_kube_api import LOCAL_SCHEMA, SHARED_CRD

    if not SHARED_CRD.exists():
        pytest.skip("../shared is not beside this checkout")
    crd = yaml.safe_load(SHARED_CRD.read_text())
    [served] = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    assert json.loads(LOCAL_SCHEMA.read_text()) == served["schema"]["openAPIV3Schema"]
