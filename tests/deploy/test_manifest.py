"""The rendered InferenceService: hardening, storage URI check, CRD validation, `quizops deploy
render`. Validity is checked independently by the stand-in API server's checker (the shared CRD
schema, strict fields and the kserve SDK's V1beta1InferenceService model)."""

import copy

import pytest
import yaml
from mock_kube_api import MockKubeAPI

from quizops.cli import main
from quizops.deploy import ManifestInvalidError, render_inference_service
from quizops.deploy.manifest import validate_inference_service

IMAGE = "ghcr.io/quizops/quizops-predictor:0.1.0"


@pytest.fixture(scope="module")
def checker():
    return MockKubeAPI()  # not started: only its independent checks are used


def _render(**kwargs):
    args = {
        "service_name": "quiz-policy",
        "namespace": "quizops",
        "storage_uri": "gs://quizops/models/7/policy",
        "image": IMAGE,
        "model_version": "7",
        "canary_traffic_percent": 10,
    }
    return render_inference_service(**(args | kwargs))


def test_manifest_meets_the_restricted_pod_security_standard(checker):
    manifest = _render()
    assert checker.check(manifest) is None
    predictor = manifest["spec"]["predictor"]
    assert predictor["serviceAccountName"] == "quizops-predictor"
    assert predictor["securityContext"]["runAsNonRoot"] is True
    assert predictor["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = predictor["containers"]
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is True
    # Read-only root: every path the predictor writes is a mounted volume.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in predictor["volumes"]}
    decisions_dir = container["args"][container["args"].index("--decisions-dir") + 1]
    assert any(decisions_dir.startswith(path) for path in mounts)
    assert "/tmp" in mounts and all(name in volumes for name in mounts.values())
    assert all("emptyDir" in volumes[name] for name in mounts.values())


def test_manifest_asks_for_serverless_mode_and_prometheus_scraping(checker):
    manifest = _render()
    assert manifest["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == ("Serverless")
    pod = manifest["spec"]["predictor"]["annotations"]
    port = manifest["spec"]["predictor"]["containers"][0]["ports"][0]["containerPort"]
    assert pod == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(port),
        "prometheus.io/path": "/metrics",
    }
    assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 10


@pytest.mark.parametrize(
    "uri",
    [
        "file:///tmp/policy",
        "/tmp/policy",
        "models:/quiz-policy/7",
        "mlflow-artifacts:/1/abc/artifacts/policy",
        "http://example.com/policy",
        "gs://bucket-only",
        "",
    ],
)
def test_storage_uri_scheme_is_checked(uri):
    with pytest.raises(ManifestInvalidError, match="storage_uri"):
        _render(storage_uri=uri)


@pytest.mark.parametrize("uri", ["gs://b/m/7/policy", "s3://b/m/7", "pvc://claim/models/7"])
def test_supported_storage_uris_render(uri, checker):
    assert checker.check(_render(storage_uri=uri)) is None


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (("containers", 0, "securityContext", "capabilities", "drop"), "ALL", "drop"),
        (("securityContext", "seccompProfile", "type"), 7, "type"),
        (("containers", 0, "securityContext", "readOnlyRootFs"), True, "readOnlyRootFs"),
        (("serviceAccountName",), ["quizops-predictor"], "serviceAccountName"),
    ],
)
def test_an_invalid_manifest_is_caught_as_the_api_server_would(where, value, message, checker):
    manifest = _render()
    broken = copy.deepcopy(manifest)
    node = broken["spec"]["predictor"]
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    assert checker.check(broken) is not None  # the independent checker rejects it too
    with pytest.raises(ManifestInvalidError, match=message):
        validate_inference_service(broken)


def test_cli_render_prints_a_valid_manifest(capsys, checker):
    status = main(
        [
            "deploy",
            "render",
            "--model-uri",
            "gs://quizops/models/7/policy",
            "--canary-percent",
            "10",
            "--namespace",
            "ml",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    manifest = yaml.safe_load(out)
    assert checker.check(manifest) is None
    assert manifest["metadata"]["namespace"] == "ml"
    assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert manifest["spec"]["predictor"]["storageUris"][0]["uri"] == (
        "gs://quizops/models/7/policy"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model-uri", "file:///tmp/p", "--canary-percent", "10"], "storage_uri"),
        (["--model-uri", "gs://b/p", "--canary-percent", "150"], "canary-percent"),
        (["--model-uri", "gs://b/p", "--canary-percent", "ten"], "canary-percent"),
        (["--canary-percent", "10"], "model-uri"),
    ],
)
def test_cli_render_rejects_bad_arguments_with_status_2(args, message, capsys):
    status = main(["deploy", "render", *args])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_decision_log_goes_to_gcs_with_a_spill_folder_on_a_volume(checker):
    manifest = _render(decisions_uri="gs://quizops-decisions/serving")
    assert checker.check(manifest) is None
    [container] = manifest["spec"]["predictor"]["containers"]
    args = container["args"]
    assert args[args.index("--decisions-dir") + 1] == "gs://quizops-decisions/serving"
    spill = args[args.index("--decisions-spill-dir") + 1]
    assert any(spill.startswith(m["mountPath"]) for m in container["volumeMounts"])
    with pytest.raises(ManifestInvalidError, match="decisions_uri"):
        _render(decisions_uri="/var/log/decisions")
