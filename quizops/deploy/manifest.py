"""InferenceService manifests: rendering, checks against the CRD schema, JSON merge patches.

Every manifest this module renders is validated against the InferenceService CRD's v1beta1
``openAPIV3Schema`` (a copy ships in ``quizops/schemas``; tests check it against
``../shared/schemas/kserve``), including a strict check for fields the schema does not declare,
which is what an API server with ``fieldValidation=Strict`` rejects.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from quizops.errors import ManifestInvalidError
from quizops.names import (
    PII_KEY_ENV,
    PII_KEY_SECRET,
    PII_KEY_SECRET_KEY,
    PREDICTOR_SERVICE_ACCOUNT,
    SERVICE_NAME,
)

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
MODEL_MOUNT = "/mnt/models"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "inferenceservice_v1beta1.json"
#: Label that carries the registered model version on the InferenceService.
VERSION_LABEL = "quizops.io/model-version"
#: Annotation that selects KServe's deployment mode; canary traffic splitting needs Serverless
#: (``canaryTrafficPercent`` is ignored in RawDeployment mode, kserve #4074 and #5335).
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
DEPLOYMENT_MODE = "Serverless"
#: Storage URI schemes KServe's storage initializer downloads and the project supports.
STORAGE_SCHEMES = ("gs://", "s3://", "pvc://")
#: Port of the predictor (HTTP, v1 and v2 protocols, /metrics).
PREDICTOR_PORT = 8080
#: Where the predictor writes decisions (an emptyDir: the root file system is read-only).
DECISIONS_MOUNT = "/var/log/quizops"
#: UID of the image's non-root user (kserve/Dockerfile).
PREDICTOR_UID = 10001


def check_storage_uri(storage_uri: str) -> None:
    """Checks that KServe's storage initializer can download the model from this URI.

    ``gs://``, ``s3://`` and ``pvc://`` are accepted (with a bucket or claim and a path).
    ``file://``, bare paths, ``models:/`` and ``mlflow-artifacts:/`` are refused: the storage
    initializer cannot resolve them inside the cluster (resolve a registry URI to its
    ``gs://`` artifact location first).

    Args:
        storage_uri: The model's URI.

    Raises:
        ManifestInvalidError: The scheme is not supported or the URI names no object.
    """
    if not storage_uri:
        raise ManifestInvalidError("storage_uri: the model URI is required")
    scheme = storage_uri.split("://", 1)[0] + "://" if "://" in storage_uri else ""
    if scheme not in STORAGE_SCHEMES:
        shown = (
            repr(scheme)
            if scheme
            else (
                repr(storage_uri.split(":", 1)[0] + ":") if ":" in storage_uri else "(none: a path)"
            )
        )
        raise ManifestInvalidError(
            f"storage_uri: scheme {shown} is not supported; use one of "
            f"{', '.join(STORAGE_SCHEMES)} (KServe's storage initializer downloads the model)"
        )
    bucket, _, path = storage_uri[len(scheme) :].partition("/")
    if not bucket or not path.strip("/"):
        raise ManifestInvalidError(
            f"storage_uri: a {scheme} URI needs a bucket (or claim) and a path"
        )


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


def _container_security_context() -> dict[str, Any]:
    """The restricted Pod Security Standard's container settings."""
    return {
        "runAsNonRoot": True,
        "runAsUser": PREDICTOR_UID,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def render_inference_service(
    service_name: str,
    namespace: str,
    storage_uri: str,
    image: str,
    model_version: str = "",
    canary_traffic_percent: int | None = None,
    service_account: str = PREDICTOR_SERVICE_ACCOUNT,
    decisions_uri: str = "",
) -> dict[str, Any]:
    """Renders the InferenceService of the predictor and validates it.

    The predictor is a custom container (``quizops_predictor``) whose model is mounted from
    ``storage_uri`` by KServe's storage initializer (``storageUris``) at ``/mnt/models``. The
    pod runs under its own service account with the restricted security context (non-root, no
    privilege escalation, all capabilities dropped, seccomp ``RuntimeDefault``, read-only root
    file system; decisions and temporary files go to ``emptyDir`` volumes), carries Prometheus
    scrape annotations for ``/metrics``, and asks for KServe's ``Serverless`` deployment mode,
    the one in which ``canaryTrafficPercent`` splits traffic.

    Args:
        service_name: InferenceService name.
        namespace: Namespace.
        storage_uri: Policy folder URI (``gs://``, ``s3://`` or ``pvc://``).
        image: Predictor image.
        model_version: Registered version, recorded as a label.
        canary_traffic_percent: Share of traffic for this revision (None: full rollout).
        service_account: Kubernetes service account of the predictor pod.
        decisions_uri: Where the decision log goes (``gs://bucket/prefix``: batched, flushed on
            shutdown, spilled to the pod's volume if the upload fails); "" keeps it in the
            pod's ``emptyDir`` (lost with the pod).

    Returns:
        The manifest.

    Raises:
        ManifestInvalidError: Bad arguments or the manifest violates the CRD schema.
    """
    if not image:
        raise ManifestInvalidError("image: the predictor image is required (PREDICTOR_IMAGE)")
    check_storage_uri(storage_uri)
    if canary_traffic_percent is not None and not 0 <= canary_traffic_percent <= 100:
        raise ManifestInvalidError(
            f"canary_traffic_percent must be within 0..100, got {canary_traffic_percent}"
        )
    if not service_account:
        raise ManifestInvalidError("service_account: a service account name is required")
    if decisions_uri and not decisions_uri.startswith("gs://"):
        raise ManifestInvalidError("decisions_uri: must be a gs:// URI (or empty)")
    if decisions_uri:
        decision_args = [
            "--decisions-dir",
            decisions_uri,
            "--decisions-spill-dir",
            f"{DECISIONS_MOUNT}/spill",
        ]
    else:
        decision_args = ["--decisions-dir", f"{DECISIONS_MOUNT}/decisions"]
    labels = {"app.kubernetes.io/name": SERVICE_NAME, "app.kubernetes.io/part-of": "quizops"}
    if model_version:
        labels[VERSION_LABEL] = str(model_version)
    predictor: dict[str, Any] = {
        "minReplicas": 1,
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": PREDICTOR_UID,
            "fsGroup": PREDICTOR_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "annotations": {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PREDICTOR_PORT),
            "prometheus.io/path": "/metrics",
        },
        "storageUris": [{"uri": storage_uri, "mountPath": MODEL_MOUNT}],
        "volumes": [
            {"name": "decisions", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
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
                    str(PREDICTOR_PORT),
                    *decision_args,
                ],
                "ports": [{"containerPort": PREDICTOR_PORT, "name": "http1", "protocol": "TCP"}],
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
                    "httpGet": {"path": "/v2/health/ready", "port": PREDICTOR_PORT},
                    "periodSeconds": 5,
                },
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "securityContext": _container_security_context(),
                "volumeMounts": [
                    {"name": "decisions", "mountPath": DECISIONS_MOUNT},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
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
            "annotations": {
                DEPLOYMENT_MODE_ANNOTATION: DEPLOYMENT_MODE,
                "quizops.io/storage-uri": storage_uri,
            },
        },
        "spec": {"predictor": predictor},
    }
    validate_inference_service(manifest)
    return manifest


def merge_patch(target: Any, patch: Any) -> Any:
    """Applies an RFC 7386 JSON merge patch (``None`` removes a key).

    Args:
        target: The document (not modified).
        patch: The patch.

    Returns:
        The patched copy.
    """
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def validate_merged(existing: Mapping[str, Any], patch: Mapping[str, Any]) -> None:
    """Validates what an object becomes after a JSON merge patch (status left out).

    Args:
        existing: The object as the API server holds it.
        patch: The merge patch about to be sent.

    Raises:
        ManifestInvalidError: The result violates the CRD schema.
    """
    merged = merge_patch({k: v for k, v in existing.items() if k != "status"}, patch)
    metadata = merged.get("metadata", {})
    merged["metadata"] = {
        k: metadata[k] for k in ("name", "namespace", "labels", "annotations") if k in metadata
    }
    validate_inference_service(merged)
