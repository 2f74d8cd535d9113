"""KServe target: apply an InferenceService, analyse the canary, promote it or roll back."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from quizops.deploy.manifest import (
    GROUP,
    PLURAL,
    VERSION,
    validate_inference_service,
    validate_merged,
)
from quizops.deploy.report import DeploymentRecord, now
from quizops.errors import DeploymentError


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
        started=now(),
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
        record.events.append(f"{now()} creating {namespace}/{name} (first rollout, no canary)")
        validate_inference_service(manifest)
        api.create_namespaced_custom_object(body=manifest, **coordinates)
        verdict = analyse_canary(get_status, **bounds)
        record.checks["rollout"] = asdict(verdict)
        if not verdict.healthy:
            raise DeploymentError(f"first rollout of {namespace}/{name} failed: {verdict.reason}")
        record.status = "promoted"
        record.finished = now()
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
    validate_merged(existing, patch)
    record.events.append(
        f"{now()} patching {namespace}/{name}: "
        + (f"canary {canary_traffic_percent}%" if canary else "full rollout")
    )
    api.patch_namespaced_custom_object(name=name, body=patch, **coordinates)
    verdict = analyse_canary(get_status, **bounds)
    record.checks["canary"] = asdict(verdict)
    if verdict.healthy:
        if canary:
            promote = {"spec": {"predictor": {"canaryTrafficPercent": None}}}
            record.events.append(f"{now()} canary healthy: promoting to 100%")
            api.patch_namespaced_custom_object(name=name, body=promote, **coordinates)
            final = analyse_canary(get_status, **bounds)
            record.checks["promotion"] = asdict(final)
            if not final.healthy:
                _roll_back(api, name, coordinates, existing, previous_predictor, record)
                raise DeploymentError(f"promotion of {namespace}/{name} failed: {final.reason}")
        record.status = "promoted"
        record.finished = now()
        return record
    _roll_back(api, name, coordinates, existing, previous_predictor, record)
    raise DeploymentError(
        f"canary of {namespace}/{name} failed ({verdict.reason}); rolled back to the previous "
        f"predictor (version {record.previous_version or '?'})"
    )


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
    record.events.append(f"{now()} rolling back to the previous predictor spec")
    api.patch_namespaced_custom_object(name=name, body=restore, **coordinates)
    record.status = "rolled_back"
    record.finished = now()


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
