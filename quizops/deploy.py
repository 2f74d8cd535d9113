"""Deploys a blessed policy: the local predictor process, or a KServe InferenceService canary.

Two targets, one record:

* ``local``: start the predictor on 127.0.0.1 with the policy folder, wait (bounded) for
  ``/v2/health/ready``, send one v1 prediction and check the contract, stop the process, then
  promote the registered version in MLflow (alias ``champion``; the former champion becomes
  ``previous``). ``make serve`` then serves it.
* ``kserve``: render an InferenceService (validated against the CRD's v1beta1 schema), apply it
  with the Kubernetes ``CustomObjectsApi``, analyse the canary by bounded polling of its status,
  then promote it to 100% or roll back to the previous predictor spec, and promote in MLflow.

No kfp import: the component ``components/deploy_kserve`` is a thin wrapper.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from quizops.errors import DeploymentError, ManifestInvalidError, ModelNotFoundError
from quizops.names import PII_KEY_ENV, PII_KEY_SECRET, PII_KEY_SECRET_KEY, SERVICE_NAME

logger = logging.getLogger(__name__)

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
MODEL_MOUNT = "/mnt/models"
#: Kubernetes secret with the pseudonymization key the predictor logs decisions under.
SCHEMA_PATH = Path(__file__).parent / "schemas" / "inferenceservice_v1beta1.json"
SMOKE_INSTANCE_ID = "deploy-smoke-check"


@dataclass
class DeploymentRecord:
    """What a deployment did; written as the ``deployment`` artifact (JSON).

    Attributes:
        target: ``local`` or ``kserve``.
        status: ``promoted``, ``rolled_back`` or ``failed``.
        model_uri: Where the policy was deployed from.
        model_version: Registered MLflow version ("" when unregistered).
        service_name: InferenceService (or local model) name.
        namespace: Kubernetes namespace ("" locally).
        canary_traffic_percent: Canary share used (0: full rollout).
        previous_version: Champion before this deployment ("" if none).
        checks: Named checks and their outcome.
        endpoint: Where the service answers ("" for the stopped local process).
        started: UTC start time.
        finished: UTC end time.
        events: Timeline of what happened.
    """

    target: str
    status: str
    model_uri: str
    model_version: str
    service_name: str
    namespace: str = ""
    canary_traffic_percent: int = 0
    previous_version: str = ""
    checks: dict[str, Any] = field(default_factory=dict)
    endpoint: str = ""
    started: str = ""
    finished: str = ""
    events: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialises the record.

        Returns:
            Indented JSON.
        """
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- contract check


def check_v1_answer(status: int, body: Any, item_bank: set[str] | None, version: str) -> None:
    """Checks one v1 answer against the predictor contract.

    Args:
        status: HTTP status.
        body: Decoded body.
        item_bank: Items the answer may name (None: not checked).
        version: Expected ``policy_version`` (None-like "" skips the check).

    Raises:
        DeploymentError: The answer breaks the contract.
    """
    if status != 200:
        raise DeploymentError(f"smoke prediction answered HTTP {status}: {body}")
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != 1:
        raise DeploymentError(f"smoke prediction: expected one prediction, got {body!r}")
    answer = predictions[0]
    if set(answer) != {"item_id", "propensity", "policy_version"}:
        raise DeploymentError(f"smoke prediction: unexpected fields {sorted(answer)}")
    if not isinstance(answer["item_id"], str) or (
        item_bank is not None and answer["item_id"] not in item_bank
    ):
        raise DeploymentError(f"smoke prediction: item_id {answer['item_id']!r} not in the bank")
    propensity = answer["propensity"]
    if not isinstance(propensity, float | int) or not 0.0 < float(propensity) <= 1.0:
        raise DeploymentError(f"smoke prediction: propensity {propensity!r} not in (0, 1]")
    if version and answer["policy_version"] != version:
        raise DeploymentError(
            f"smoke prediction: policy_version {answer['policy_version']!r}, expected {version!r}"
        )


# ----------------------------------------------------------------------------- MLflow


def promote_in_registry(model_version: str, tracking_uri: str = "") -> str:
    """Makes a registered version the champion; the former champion becomes ``previous``.

    Args:
        model_version: The registered version of ``quiz-policy``.
        tracking_uri: Tracking URI ("" = ``MLFLOW_TRACKING_URI``).

    Returns:
        The former champion's version ("" if none, or if it is this version).

    Raises:
        ModelNotFoundError: The version is not registered.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from quizops.tracking import (
        CHAMPION_ALIAS,
        PREVIOUS_ALIAS,
        REGISTERED_MODEL,
        resolve_tracking_uri,
    )

    uri = resolve_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.get_model_version(REGISTERED_MODEL, model_version)
    except MlflowException as exc:
        raise ModelNotFoundError(
            f"{REGISTERED_MODEL} version {model_version!r} is not registered in {uri}"
        ) from exc
    previous = ""
    try:
        previous = str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version)
    except MlflowException:
        previous = ""
    if previous and previous != str(model_version):
        client.set_registered_model_alias(REGISTERED_MODEL, PREVIOUS_ALIAS, previous)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, str(model_version))
    logger.info("%s version %s is champion (previous: %s)", REGISTERED_MODEL, model_version,
                previous or "-")  # fmt: skip
    return previous if previous != str(model_version) else ""


# ----------------------------------------------------------------------------- local target


def deploy_local(
    model_dir: str | Path,
    model_version: str,
    tracking_uri: str = "",
    ready_timeout: float = 90.0,
    promote: bool = True,
) -> DeploymentRecord:
    """Local target: smoke-test the predictor process on the policy, then promote in MLflow.

    Args:
        model_dir: The saved policy folder.
        model_version: Registered version ("" skips the promotion).
        tracking_uri: MLflow tracking URI.
        ready_timeout: Seconds to wait for readiness.
        promote: Set the ``champion`` alias after the checks pass.

    Returns:
        The record (status ``promoted``).

    Raises:
        DeploymentError: The process did not start or answered against the contract.
        ModelNotFoundError: The folder holds no policy.
    """
    from quizops.policy import QuizPolicy
    from quizops.serving import PredictorProcess, PredictorStartError, http_json

    model_dir = Path(model_dir)
    policy = QuizPolicy.load(model_dir)
    bank = policy.item_bank
    record = DeploymentRecord(
        target="local",
        status="failed",
        model_uri=str(model_dir),
        model_version=str(model_version),
        service_name=SERVICE_NAME,
        started=_now(),
    )
    with tempfile.TemporaryDirectory(prefix="quizops-deploy-") as scratch:
        # The smoke decision goes to a scratch log: it must not enter the real decision log.
        process = PredictorProcess(model_dir=model_dir, decisions_dir=Path(scratch) / "decisions")
        try:
            process.start(ready_timeout=ready_timeout)
        except PredictorStartError as exc:
            raise DeploymentError(f"local predictor did not start: {exc}") from exc
        try:
            record.events.append(f"{_now()} predictor ready on {process.base_url}")
            status, body = http_json("GET", f"{process.base_url}/v2/health/ready")
            record.checks["health_ready"] = status == 200
            if status != 200:
                raise DeploymentError(f"/v2/health/ready answered {status}: {body}")
            instance = {
                "student_id": SMOKE_INSTANCE_ID,
                "history": [{"item_id": bank[0], "correct": 1}],
                "candidates": bank[: min(5, len(bank))],
            }
            started = time.perf_counter()
            status, body = process.predict_v1([instance])
            record.checks["v1_latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
            check_v1_answer(status, body, set(instance["candidates"]), policy.version)
            record.checks["v1_contract"] = True
            record.events.append(f"{_now()} smoke prediction {body['predictions'][0]}")
        finally:
            code = process.stop()
            record.events.append(f"{_now()} predictor stopped (exit {code})")
    if promote and model_version:
        record.previous_version = promote_in_registry(str(model_version), tracking_uri)
        record.events.append(f"{_now()} MLflow alias champion -> version {model_version}")
    record.status = "promoted"
    record.finished = _now()
    return record


# ----------------------------------------------------------------------------- manifests


@cache
def load_crd_schema(path: str | None = None) -> dict[str, Any]:
    """Loads the InferenceService v1beta1 ``openAPIV3Schema``.

    Args:
        path: A JSON schema file, or a CRD YAML (default: the copy shipped with quizops).

    Returns:
        The schema.
    """
    source = Path(path) if path else SCHEMA_PATH
    if source.suffix in (".yaml", ".yml"):
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        crd = yaml.load(source.read_text(), Loader=loader)
        [served] = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
        return served["schema"]["openAPIV3Schema"]
    return json.loads(source.read_text())


def unknown_fields(value: Any, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Lists fields the schema does not declare (what a strict API server rejects).

    Args:
        value: The object.
        schema: Its structural schema.
        path: Path of ``value`` for messages.

    Returns:
        Dotted paths of undeclared fields.
    """
    found: list[str] = []
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return found
    if isinstance(value, Mapping):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            where = f"{path}.{key}" if path else str(key)
            if properties is not None and key in properties:
                found += unknown_fields(child, properties[key], where)
            elif isinstance(extra, Mapping):
                found += unknown_fields(child, extra, where)
            elif properties is not None or extra is False:
                found.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, child in enumerate(value):
            found += unknown_fields(child, schema["items"], f"{path}[{i}]")
    return found


def validate_inference_service(manifest: Mapping[str, Any], schema_path: str | None = None) -> None:
    """Validates a manifest against the CRD schema, rejecting undeclared fields too.

    Args:
        manifest: The InferenceService.
        schema_path: Schema source (see :func:`load_crd_schema`).

    Raises:
        ManifestInvalidError: The manifest violates the schema.
    """
    import jsonschema

    schema = load_crd_schema(schema_path)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path)
    )
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "<root>"
        raise ManifestInvalidError(f"InferenceService {where}: {first.message}")
    extra = unknown_fields(manifest, schema)
    if extra:
        raise ManifestInvalidError(f"InferenceService {extra[0]}: field not declared by the CRD")
    if manifest.get("apiVersion") != f"{GROUP}/{VERSION}" or manifest.get("kind") != (
        "InferenceService"
    ):
        raise ManifestInvalidError(
            "InferenceService: apiVersion/kind must be serving.kserve.io/v1beta1"
        )


def render_inference_service(
    service_name: str,
    namespace: str,
    storage_uri: str,
    image: str,
    model_version: str = "",
    canary_traffic_percent: int | None = None,
) -> dict[str, Any]:
    """Renders the InferenceService of the predictor and validates it.

    The predictor is a custom container (``quizops_predictor``) whose model is mounted from
    ``storage_uri`` by KServe's storage initializer (``storageUris``) at ``/mnt/models``.

    Args:
        service_name: InferenceService name.
        namespace: Namespace.
        storage_uri: Policy folder URI (``gs://...``).
        image: Predictor image.
        model_version: Registered version, recorded as a label and annotation.
        canary_traffic_percent: Share of traffic for this revision (None: full rollout).

    Returns:
        The manifest.

    Raises:
        ManifestInvalidError: Bad arguments or the manifest violates the CRD schema.
    """
    if not image:
        raise ManifestInvalidError("image: the predictor image is required (PREDICTOR_IMAGE)")
    if not storage_uri:
        raise ManifestInvalidError("storage_uri: the model URI is required")
    if canary_traffic_percent is not None and not 0 <= canary_traffic_percent <= 100:
        raise ManifestInvalidError(
            f"canary_traffic_percent must be within 0..100, got {canary_traffic_percent}"
        )
    labels = {"app.kubernetes.io/name": SERVICE_NAME, "app.kubernetes.io/part-of": "quizops"}
    if model_version:
        labels["quizops.io/model-version"] = str(model_version)
    predictor: dict[str, Any] = {
        "minReplicas": 1,
        "storageUris": [{"uri": storage_uri, "mountPath": MODEL_MOUNT}],
        "containers": [
            {
                "name": "kserve-container",
                "image": image,
                "args": [
                    "--model-dir",
                    MODEL_MOUNT,
                    "--host",
                    "0.0.0.0",  # in the pod the kube-proxy / queue-proxy must reach it
                    "--port",
                    "8080",
                    "--decisions-dir",
                    "/var/log/quizops/decisions",
                ],
                "ports": [{"containerPort": 8080, "name": "http1", "protocol": "TCP"}],
                "env": [
                    {
                        "name": PII_KEY_ENV,
                        "valueFrom": {
                            "secretKeyRef": {
                                "name": PII_KEY_SECRET,
                                "key": PII_KEY_SECRET_KEY,
                                "optional": True,
                            }
                        },
                    }
                ],
                "readinessProbe": {
                    "httpGet": {"path": "/v2/health/ready", "port": 8080},
                    "periodSeconds": 5,
                },
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "securityContext": {
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": False,
                },
            }
        ],
    }
    if canary_traffic_percent is not None:
        predictor["canaryTrafficPercent"] = int(canary_traffic_percent)
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {
            "name": service_name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {"quizops.io/storage-uri": storage_uri},
        },
        "spec": {"predictor": predictor},
    }
    validate_inference_service(manifest)
    return manifest


# ----------------------------------------------------------------------------- kserve target


@dataclass(frozen=True)
class CanaryVerdict:
    """Outcome of one canary analysis.

    Attributes:
        healthy: The new revision became ready with its share of traffic.
        reason: Why, in words.
        revision: The revision analysed.
    """

    healthy: bool
    reason: str
    revision: str = ""


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def analyse_canary(
    get_status: Callable[[], Mapping[str, Any]],
    timeout: float = 300.0,
    interval: float = 5.0,
    max_polls: int = 120,
    sleep: Callable[[float], None] = time.sleep,
) -> CanaryVerdict:
    """Polls an InferenceService's status (bounded) until the latest revision is ready or fails.

    Healthy: ``Ready`` is True and the predictor's latest ready revision is its latest created
    one. Failed: ``Ready`` (or ``PredictorReady``) is False with a failure reason, or the bounds
    run out.

    Args:
        get_status: Returns the current ``status`` object.
        timeout: Seconds at most.
        interval: Seconds between polls.
        max_polls: Polls at most.
        sleep: The sleep function (tests pass a fake clock).

    Returns:
        The verdict.
    """
    started = time.monotonic()
    slept = 0.0
    last = "no status yet"
    for _ in range(max_polls):
        status = get_status() or {}
        predictor = (status.get("components") or {}).get("predictor") or {}
        created = predictor.get("latestCreatedRevision", "")
        ready_rev = predictor.get("latestReadyRevision", "")
        ready = _condition(status, "Ready")
        for kind in ("PredictorReady", "Ready"):
            failed = _condition(status, kind)
            if (
                failed
                and failed.get("status") == "False"
                and failed.get("reason")
                not in (
                    None,
                    "",
                    "Unknown",
                )
            ):
                return CanaryVerdict(
                    False, f"{kind}=False: {failed.get('reason')} {failed.get('message', '')}",
                    created,
                )  # fmt: skip
        if ready and ready.get("status") == "True" and created and created == ready_rev:
            return CanaryVerdict(True, f"revision {created} ready", created)
        last = f"Ready={ready.get('status') if ready else '?'} created={created} ready={ready_rev}"
        # Bounded by the wall clock and by the time slept (an injected sleep may not pass time).
        if max(time.monotonic() - started, slept) + interval > timeout:
            break
        sleep(interval)
        slept += interval
    return CanaryVerdict(False, f"not ready within the analysis bounds ({last})")


def deploy_kserve_target(
    api: Any,
    manifest: dict[str, Any],
    canary_traffic_percent: int,
    analysis_timeout: float = 600.0,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentRecord:
    """Applies an InferenceService as a canary, analyses it, and promotes or rolls back.

    A first deployment has nothing to split traffic with, so it rolls out fully and fails
    outright when unhealthy. Otherwise the new predictor gets ``canary_traffic_percent`` of the
    traffic; a healthy canary is promoted (canary field removed: 100% to the latest revision),
    an unhealthy one is rolled back by restoring the previous predictor spec.

    Args:
        api: A ``kubernetes.client.CustomObjectsApi``.
        manifest: Output of :func:`render_inference_service` without ``canaryTrafficPercent``.
        canary_traffic_percent: Canary share (1..99; 0 or 100 roll out fully).
        analysis_timeout: Seconds each analysis may take.
        poll_interval: Seconds between status polls.
        sleep: Sleep function.

    Returns:
        The record (``promoted`` or ``rolled_back``).

    Raises:
        DeploymentError: The rollout failed (after rolling back when there was a previous one).
    """
    from kubernetes.client.exceptions import ApiException

    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"]["namespace"]
    labels = manifest["metadata"].get("labels", {})
    record = DeploymentRecord(
        target="kserve",
        status="failed",
        model_uri=manifest["spec"]["predictor"]["storageUris"][0]["uri"],
        model_version=labels.get("quizops.io/model-version", ""),
        service_name=name,
        namespace=namespace,
        started=_now(),
    )
    coordinates = {"group": GROUP, "version": VERSION, "namespace": namespace, "plural": PLURAL}

    def get_status() -> Mapping[str, Any]:
        return api.get_namespaced_custom_object(name=name, **coordinates).get("status") or {}

    try:
        existing = api.get_namespaced_custom_object(name=name, **coordinates)
    except ApiException as exc:
        if exc.status != 404:
            raise
        existing = None
    bounds = {"timeout": analysis_timeout, "interval": poll_interval, "sleep": sleep}
    if existing is None:
        record.events.append(f"{_now()} creating {namespace}/{name} (first rollout, no canary)")
        validate_inference_service(manifest)
        api.create_namespaced_custom_object(body=manifest, **coordinates)
        verdict = analyse_canary(get_status, **bounds)
        record.checks["rollout"] = asdict(verdict)
        if not verdict.healthy:
            raise DeploymentError(f"first rollout of {namespace}/{name} failed: {verdict.reason}")
        record.status = "promoted"
        record.finished = _now()
        return record

    previous_predictor = copy.deepcopy(existing["spec"]["predictor"])
    previous_predictor.pop("canaryTrafficPercent", None)
    record.previous_version = (existing["metadata"].get("labels") or {}).get(
        "quizops.io/model-version", ""
    )
    canary = 0 < canary_traffic_percent < 100
    new_predictor = copy.deepcopy(manifest["spec"]["predictor"])
    if canary:
        new_predictor["canaryTrafficPercent"] = int(canary_traffic_percent)
        record.canary_traffic_percent = int(canary_traffic_percent)
    patch = {
        "metadata": {"labels": labels, "annotations": manifest["metadata"].get("annotations", {})},
        "spec": {"predictor": new_predictor},
    }
    _validate_merged(existing, patch)
    record.events.append(
        f"{_now()} patching {namespace}/{name}: "
        + (f"canary {canary_traffic_percent}%" if canary else "full rollout")
    )
    api.patch_namespaced_custom_object(name=name, body=patch, **coordinates)
    verdict = analyse_canary(get_status, **bounds)
    record.checks["canary"] = asdict(verdict)
    if verdict.healthy:
        if canary:
            promote = {"spec": {"predictor": {"canaryTrafficPercent": None}}}
            record.events.append(f"{_now()} canary healthy: promoting to 100%")
            api.patch_namespaced_custom_object(name=name, body=promote, **coordinates)
            final = analyse_canary(get_status, **bounds)
            record.checks["promotion"] = asdict(final)
            if not final.healthy:
                _roll_back(api, name, coordinates, existing, previous_predictor, record)
                raise DeploymentError(f"promotion of {namespace}/{name} failed: {final.reason}")
        record.status = "promoted"
        record.finished = _now()
        return record
    _roll_back(api, name, coordinates, existing, previous_predictor, record)
    raise DeploymentError(
        f"canary of {namespace}/{name} failed ({verdict.reason}); rolled back to the previous "
        f"predictor (version {record.previous_version or '?'})"
    )


def _validate_merged(existing: Mapping[str, Any], patch: Mapping[str, Any]) -> None:
    """Validates what the object becomes after a JSON merge patch (status left out)."""
    merged = _merge_patch({k: v for k, v in existing.items() if k not in ("status",)}, patch)
    metadata = merged.get("metadata", {})
    merged["metadata"] = {k: metadata[k] for k in ("name", "namespace", "labels", "annotations")
                          if k in metadata}  # fmt: skip
    validate_inference_service(merged)


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _roll_back(
    api: Any,
    name: str,
    coordinates: Mapping[str, str],
    existing: Mapping[str, Any],
    previous_predictor: dict[str, Any],
    record: DeploymentRecord,
) -> None:
    """Restores the previous predictor spec and labels (canary field removed)."""
    restore_predictor = dict(previous_predictor)
    restore_predictor["canaryTrafficPercent"] = None
    restore = {
        "metadata": {"labels": existing["metadata"].get("labels") or {}},
        "spec": {"predictor": restore_predictor},
    }
    record.events.append(f"{_now()} rolling back to the previous predictor spec")
    api.patch_namespaced_custom_object(name=name, body=restore, **coordinates)
    record.status = "rolled_back"
    record.finished = _now()


def kubernetes_api() -> Any:
    """A ``CustomObjectsApi`` from the in-cluster config, else the local kubeconfig.

    Returns:
        The API object.
    """
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        # The kubernetes package reads $KUBECONFIG at import time only; read it now.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
    return client.CustomObjectsApi()


# ----------------------------------------------------------------------------- report


def render_report(record: DeploymentRecord) -> str:
    """Renders a deployment record as Markdown.

    Args:
        record: The record.

    Returns:
        The Markdown text.
    """
    lines = [
        f"# Deployment of quiz-policy version {record.model_version or '(unregistered)'}",
        "",
        f"- target: `{record.target}`",
        f"- status: **{record.status}**",
        f"- model: `{record.model_uri}`",
    ]
    if record.namespace:
        lines.append(f"- InferenceService: `{record.namespace}/{record.service_name}`")
    if record.canary_traffic_percent:
        lines.append(f"- canary traffic: {record.canary_traffic_percent}%")
    lines.append(f"- previous champion: {record.previous_version or '(none)'}")
    lines += ["", "## Checks", "", "| check | result |", "|---|---|"]
    lines += [f"| {k} | {json.dumps(v)} |" for k, v in record.checks.items()]
    lines += ["", "## Events", ""] + [f"- {e}" for e in record.events]
    if record.target == "local":
        lines += ["", "Serve it: `make serve` (the champion on 127.0.0.1:$(PORT))."]
    return "\n".join(lines) + "\n"


def run_deploy_stage(
    model_dir: str,
    model_uri: str,
    model_version: str,
    target: str,
    namespace: str,
    service_name: str,
    canary_traffic_percent: int,
    tracking_uri: str,
    image: str,
    deployment_path: str,
    report_path: str,
    api: Any | None = None,
) -> DeploymentRecord:
    """The deploy stage: deploy to the target, then write the record and the report.

    Nothing is written when the deployment fails.

    Args:
        model_dir: Local policy folder (the ``model`` artifact's path).
        model_uri: The artifact's URI (``gs://...`` on a cluster).
        model_version: Registered MLflow version.
        target: ``local`` or ``kserve``.
        namespace: Kubernetes namespace (kserve).
        service_name: InferenceService name (kserve).
        canary_traffic_percent: Canary share (kserve).
        tracking_uri: MLflow tracking URI.
        image: Predictor image (kserve).
        deployment_path: Where the JSON record goes.
        report_path: Where the Markdown report goes.
        api: ``CustomObjectsApi`` (default: from the cluster config).

    Returns:
        The record.

    Raises:
        DeploymentError: Unknown target or a failed deployment.
    """
    if target == "local":
        record = deploy_local(model_dir, model_version, tracking_uri)
    elif target == "kserve":
        manifest = render_inference_service(
            service_name, namespace, model_uri, image, model_version
        )
        record = deploy_kserve_target(api or kubernetes_api(), manifest, canary_traffic_percent)
        if model_version:
            record.previous_version = (
                promote_in_registry(model_version, tracking_uri) or record.previous_version
            )
    else:
        raise DeploymentError(f"target: must be 'local' or 'kserve', got {target!r}")
    Path(deployment_path).parent.mkdir(parents=True, exist_ok=True)
    Path(deployment_path).write_text(record.to_json())
    Path(report_path).parent.mkdir(parents=True, exist_ok=True)
    Path(report_path).write_text(render_report(record))
    return record
