"""KServe target: apply an InferenceService, analyse the canary, promote it or roll back.

The sequence for an update (a first deployment has no champion and simply rolls out):

1. Read the object: the champion's predictor spec, the revision serving it and the latest
   created revision. Merge-patch the new predictor with ``canaryTrafficPercent`` (strict field
   validation), keeping the previous predictor spec in an annotation for a later rollback.
2. Wait (bounded) for the NEW revision: ``status.observedGeneration`` at least the generation
   the PATCH produced and a ``latestCreatedRevision`` different from before, ready, with its
   share of the traffic. A status from before the PATCH cannot pass this.
3. Smoke-test the canary (optional callable), then observe champion and canary over a window
   (:mod:`quizops.deploy.analysis`, Prometheus) on error rate, p99 latency and the outcome KPI.
4. Promote (remove ``canaryTrafficPercent``; wait until the canary holds 100%) or roll back:
   canary traffic to 0 first (wait until the champion holds 100% again), then the previous spec
   (with the canary field still 0, so the champion keeps all traffic while its spec's new revision
   starts), then remove the canary field; each step awaited and verified.

Any Kubernetes API error (or Prometheus failure) mid-canary ends in that rollback. Every wait is
bounded in polls and time; the sleep function is injectable.

Fail closed without metrics (what Argo Rollouts' AnalysisTemplates and Flagger's metric checks
mean): a canary update is judged by the Prometheus window unless the caller opts out of it
explicitly with ``canary_analysis="skip"`` (:data:`CANARY_ANALYSIS_SKIP`). With the default
``"required"`` and no Prometheus, the deploy refuses before the PATCH (nothing changes on the
cluster). The record's ``canary_analysis`` and ``checks["metrics_analysis"]`` say which happened.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from quizops.deploy.analysis import AnalysisResult, PrometheusAnalysis, observe_window
from quizops.deploy.manifest import (
    GROUP,
    PLURAL,
    VERSION,
    VERSION_LABEL,
    validate_inference_service,
    validate_merged,
)
from quizops.deploy.report import DeploymentRecord, now
from quizops.errors import ConfigurationError, DeploymentError

logger = logging.getLogger(__name__)

#: Annotation holding the predictor spec the current one replaced (JSON), for rollbacks.
PREVIOUS_PREDICTOR_ANNOTATION = "quizops.io/previous-predictor"
#: Annotation holding the model version of that previous spec.
PREVIOUS_VERSION_ANNOTATION = "quizops.io/previous-model-version"
#: Strict field validation: the API server rejects unknown or duplicate fields.
FIELD_VALIDATION = "Strict"

#: A smoke test of a revision: called with the object's status and the revision's name.
SmokeTest = Callable[[Mapping[str, Any], str], None]

#: The canary must pass the Prometheus observation window before promotion (the default).
CANARY_ANALYSIS_REQUIRED = "required"
#: Explicit opt-out: promote a canary on readiness (and the smoke test, when given) alone.
CANARY_ANALYSIS_SKIP = "skip"
#: Accepted values of ``canary_analysis``.
CANARY_ANALYSIS_MODES = (CANARY_ANALYSIS_REQUIRED, CANARY_ANALYSIS_SKIP)


def check_canary_analysis(canary_analysis: str) -> str:
    """Checks a ``canary_analysis`` setting.

    Args:
        canary_analysis: ``required`` or ``skip``.

    Returns:
        The setting.

    Raises:
        ConfigurationError: Any other value.
    """
    if canary_analysis not in CANARY_ANALYSIS_MODES:
        raise ConfigurationError(
            f"canary_analysis: must be one of {list(CANARY_ANALYSIS_MODES)}, got "
            f"{canary_analysis!r}"
        )
    return canary_analysis


@dataclass(frozen=True)
class CanaryVerdict:
    """Outcome of one wait for a status.

    Attributes:
        healthy: The awaited state was reached.
        reason: Why, in words.
        revision: The revision concerned.
    """

    healthy: bool
    reason: str
    revision: str = ""


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return None


def _predictor_status(status: Mapping[str, Any]) -> Mapping[str, Any]:
    return (status.get("components") or {}).get("predictor") or {}


def _traffic(status: Mapping[str, Any]) -> dict[str, int]:
    """Percent of traffic per revision name."""
    shares: dict[str, int] = {}
    for target in _predictor_status(status).get("traffic") or []:
        name = target.get("revisionName", "")
        shares[name] = shares.get(name, 0) + int(target.get("percent") or 0)
    return shares


def _failure(status: Mapping[str, Any]) -> str:
    for kind in ("PredictorReady", "Ready"):
        failed = _condition(status, kind)
        if (
            failed
            and failed.get("status") == "False"
            and failed.get("reason") not in (None, "", "Unknown")
        ):
            return f"{kind}=False: {failed.get('reason')} {failed.get('message', '')}".strip()
    return ""


def analyse_canary(
    get_status: Callable[[], Mapping[str, Any]],
    timeout: float = 300.0,
    interval: float = 5.0,
    max_polls: int = 120,
    sleep: Callable[[float], None] = time.sleep,
    *,
    min_generation: int = 0,
    previous_revision: str | None = None,
    expected_percent: int | None = None,
    require_ready: bool = True,
    stop_on_failure: bool = True,
) -> CanaryVerdict:
    """Polls an InferenceService's status (bounded) until the awaited revision is ready.

    Healthy when all hold: ``observedGeneration >= min_generation``; the latest created
    revision differs from ``previous_revision`` (when given); ``Ready`` is True and the latest
    ready revision is the latest created one (when ``require_ready``); and that revision holds
    ``expected_percent`` of the traffic (when given). Failed: a ``Ready``/``PredictorReady``
    condition False with a reason, or the bounds run out.

    Args:
        get_status: Returns the current ``status`` object.
        timeout: Seconds at most.
        interval: Seconds between polls.
        max_polls: Polls at most.
        sleep: The sleep function (tests pass a fake clock).
        min_generation: The generation the last write produced.
        previous_revision: The latest created revision before the write (a new one is awaited).
        expected_percent: Share of traffic the new revision must hold.
        require_ready: Require ``Ready=True`` on the latest created revision.
        stop_on_failure: End at once on a failed condition.

    Returns:
        The verdict.
    """
    started = time.monotonic()
    slept = 0.0
    last = "no status yet"
    for _ in range(max_polls):
        status = get_status() or {}
        predictor = _predictor_status(status)
        created = predictor.get("latestCreatedRevision", "")
        ready_rev = predictor.get("latestReadyRevision", "")
        observed = int(status.get("observedGeneration") or 0)
        ready = _condition(status, "Ready")
        fresh = observed >= min_generation and (
            previous_revision is None or (created and created != previous_revision)
        )
        if fresh and stop_on_failure:
            failure = _failure(status)
            if failure:
                return CanaryVerdict(False, failure, created)
        is_ready = bool(ready and ready.get("status") == "True" and created == ready_rev)
        share = _traffic(status).get(created, 0)
        if (
            fresh
            and created
            and (is_ready or not require_ready)
            and (expected_percent is None or share == expected_percent)
        ):
            return CanaryVerdict(True, f"revision {created} ready", created)
        last = (
            f"observedGeneration={observed}/{min_generation} "
            f"Ready={ready.get('status') if ready else '?'} created={created} ready={ready_rev} "
            f"traffic={share}%"
        )
        # Bounded by the wall clock and by the time slept (an injected sleep may not pass time).
        if max(time.monotonic() - started, slept) + interval > timeout:
            break
        sleep(interval)
        slept += interval
    return CanaryVerdict(False, f"not ready within the analysis bounds ({last})")


def await_traffic(
    get_status: Callable[[], Mapping[str, Any]],
    revision: str,
    percent: int,
    min_generation: int,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
    max_polls: int = 120,
) -> CanaryVerdict:
    """Waits until ``revision`` holds ``percent`` of the traffic in an observed status.

    Args:
        get_status: Returns the current ``status``.
        revision: The revision.
        percent: Its expected share.
        min_generation: The generation the last write produced.
        timeout: Seconds at most.
        interval: Seconds between polls.
        sleep: Sleep function.
        max_polls: Polls at most.

    Returns:
        The verdict.
    """
    started = time.monotonic()
    slept = 0.0
    last = ""
    for _ in range(max_polls):
        status = get_status() or {}
        observed = int(status.get("observedGeneration") or 0)
        shares = _traffic(status)
        if observed >= min_generation and shares.get(revision, 0) == percent:
            return CanaryVerdict(True, f"revision {revision} holds {percent}%", revision)
        last = f"observedGeneration={observed}/{min_generation} traffic={shares}"
        if max(time.monotonic() - started, slept) + interval > timeout:
            break
        sleep(interval)
        slept += interval
    return CanaryVerdict(False, f"traffic not shifted within the bounds ({last})", revision)


class _Cluster:
    """The InferenceService's API calls, with bounded retries where a rollback needs them."""

    def __init__(
        self, api: Any, name: str, namespace: str, sleep: Callable[[float], None], attempts: int
    ) -> None:
        self.api = api
        self.name = name
        self.coordinates = {
            "group": GROUP,
            "version": VERSION,
            "namespace": namespace,
            "plural": PLURAL,
        }
        self.sleep = sleep
        self.attempts = attempts

    def get(self) -> dict[str, Any]:
        return self.api.get_namespaced_custom_object(name=self.name, **self.coordinates)

    def status(self) -> Mapping[str, Any]:
        return self.get().get("status") or {}

    def tolerant_status(self) -> Mapping[str, Any]:
        """The status, or {} on an API error (a failed poll counts against the bounds)."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self.status()
        except ApiException as exc:
            logger.warning("status poll failed (HTTP %s)", exc.status)
            return {}

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.api.create_namespaced_custom_object(
            body=body, field_validation=FIELD_VALIDATION, **self.coordinates
        )

    def patch(self, body: Mapping[str, Any], retry: bool = False) -> int:
        """Merge-patches; returns the generation it produced."""
        from kubernetes.client.exceptions import ApiException

        tries = self.attempts if retry else 1
        for attempt in range(tries):
            try:
                answer = self.api.patch_namespaced_custom_object(
                    name=self.name, body=body, field_validation=FIELD_VALIDATION, **self.coordinates
                )
                return int((answer.get("metadata") or {}).get("generation") or 0)
            except ApiException as exc:
                if attempt + 1 >= tries or exc.status in (400, 404, 415, 422):
                    raise
                logger.warning("PATCH failed (HTTP %s); retrying", exc.status)
                self.sleep(1.0)
        raise AssertionError("unreachable")


def _generation(obj: Mapping[str, Any]) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 0)


def roll_back(
    cluster: _Cluster,
    previous_predictor: Mapping[str, Any],
    previous_labels: Mapping[str, Any],
    champion_revision: str,
    record: DeploymentRecord,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None],
    annotations_patch: Mapping[str, Any] | None = None,
) -> None:
    """Rolls back: canary traffic to 0, then the previous spec, each awaited and verified.

    Args:
        cluster: The API wrapper.
        previous_predictor: The champion's predictor spec (no canary field).
        previous_labels: The champion's labels.
        champion_revision: The revision serving the champion ("" if unknown).
        record: Where events and checks go; its status becomes ``rolled_back``.
        timeout: Seconds per wait.
        interval: Seconds between polls.
        sleep: Sleep function.
        annotations_patch: Merge patch of the annotations (restores the champion's).

    Raises:
        DeploymentError: A step could not be applied or verified.
    """
    from kubernetes.client.exceptions import ApiException

    record.status = "failed"
    try:
        record.event("rollback 1/3: canary traffic to 0%")
        generation = cluster.patch({"spec": {"predictor": {"canaryTrafficPercent": 0}}}, True)
        if champion_revision:
            verdict = await_traffic(
                cluster.tolerant_status,
                champion_revision,
                100,
                generation,
                timeout,
                interval,
                sleep,
            )
            record.checks["rollback_champion_traffic"] = asdict(verdict)
            if not verdict.healthy:
                raise DeploymentError(f"rollback: champion traffic not restored: {verdict.reason}")
        before = _predictor_status(cluster.tolerant_status()).get("latestCreatedRevision")
        record.event("rollback 2/3: previous predictor spec (canary field still 0%)")
        restore = dict(copy.deepcopy(previous_predictor))
        restore["canaryTrafficPercent"] = 0
        metadata: dict[str, Any] = {"labels": dict(previous_labels)}
        if annotations_patch:
            metadata["annotations"] = dict(annotations_patch)
        generation = cluster.patch({"metadata": metadata, "spec": {"predictor": restore}}, True)
        verdict = analyse_canary(
            cluster.tolerant_status,
            timeout,
            interval,
            sleep=sleep,
            min_generation=generation,
            previous_revision=before or None,
            stop_on_failure=False,
        )
        record.checks["rollback_previous_spec"] = asdict(verdict)
        if not verdict.healthy:
            raise DeploymentError(f"rollback: previous spec not ready: {verdict.reason}")
        record.event("rollback 3/3: canary field removed (100% to the previous spec)")
        generation = cluster.patch({"spec": {"predictor": {"canaryTrafficPercent": None}}}, True)
        final = await_traffic(
            cluster.tolerant_status, verdict.revision, 100, generation, timeout, interval, sleep
        )
        record.checks["rollback_final_traffic"] = asdict(final)
        if not final.healthy:
            raise DeploymentError(f"rollback: traffic not on the previous spec: {final.reason}")
        spec = cluster.get()["spec"]["predictor"]
        if {k: v for k, v in spec.items() if k != "canaryTrafficPercent"} != dict(
            previous_predictor
        ):
            raise DeploymentError("rollback: the stored predictor spec differs from the previous")
    except ApiException as exc:
        record.event(f"rollback FAILED: Kubernetes API answered HTTP {exc.status}")
        record.finished = now()
        raise DeploymentError(
            f"rollback of {cluster.coordinates['namespace']}/{cluster.name} failed: Kubernetes "
            f"API answered HTTP {exc.status}; check the InferenceService by hand"
        ) from exc
    except DeploymentError:
        record.event("rollback FAILED: not verified")
        record.finished = now()
        raise
    record.status = "rolled_back"
    record.finished = now()
    record.event("rolled back and verified")


def deploy_kserve_target(
    api: Any,
    manifest: dict[str, Any],
    canary_traffic_percent: int,
    analysis_timeout: float = 600.0,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    *,
    prometheus: PrometheusAnalysis | None = None,
    smoke_test: SmokeTest | None = None,
    api_attempts: int = 3,
    canary_analysis: str = CANARY_ANALYSIS_REQUIRED,
) -> DeploymentRecord:
    """Applies an InferenceService as a canary, analyses it, and promotes or rolls back.

    A first deployment has nothing to split traffic with, so it rolls out fully and fails
    outright when unhealthy. Otherwise see the module docstring. A canary update is promoted
    only after the Prometheus window passed; without ``prometheus`` it is refused before
    anything changes, unless ``canary_analysis`` is ``"skip"`` (then readiness and the smoke test
    alone decide, and the record says the window was skipped on request).

    Args:
        api: A ``kubernetes.client.CustomObjectsApi``.
        manifest: Output of :func:`render_inference_service` without ``canaryTrafficPercent``.
        canary_traffic_percent: Canary share (1..99; 0 or 100 roll out fully).
        analysis_timeout: Seconds each wait may take.
        poll_interval: Seconds between status polls.
        sleep: Sleep function.
        prometheus: Where and how to compare the canary with the champion.
        smoke_test: Checks the new revision answers (called with the status and revision).
        api_attempts: Tries per API write during a rollback.
        canary_analysis: ``required`` (default: a canary needs ``prometheus``) or ``skip``
            (explicit opt-out of the observation window).

    Returns:
        The record (``promoted``).

    Raises:
        ConfigurationError: ``canary_analysis`` is neither ``required`` nor ``skip``.
        DeploymentError: The rollout failed (after rolling back when there was a previous one),
            or a canary update needs an analysis and no Prometheus is configured (nothing
            changed).
    """
    from kubernetes.client.exceptions import ApiException

    check_canary_analysis(canary_analysis)
    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"]["namespace"]
    labels = manifest["metadata"].get("labels", {})
    record = DeploymentRecord(
        target="kserve",
        status="failed",
        model_uri=manifest["spec"]["predictor"]["storageUris"][0]["uri"],
        model_version=labels.get(VERSION_LABEL, ""),
        service_name=name,
        namespace=namespace,
        started=now(),
        canary_analysis=canary_analysis,
    )
    cluster = _Cluster(api, name, namespace, sleep, api_attempts)
    bounds: dict[str, Any] = {
        "timeout": analysis_timeout,
        "interval": poll_interval,
        "sleep": sleep,
    }
    try:
        existing = cluster.get()
    except ApiException as exc:
        if exc.status != 404:
            raise DeploymentError(
                f"reading {namespace}/{name} failed: Kubernetes API answered HTTP {exc.status}"
            ) from exc
        existing = None
    if existing is None:
        record.event(f"creating {namespace}/{name} (first rollout, no canary)")
        validate_inference_service(manifest)
        try:
            created = cluster.create(manifest)
            verdict = analyse_canary(
                cluster.tolerant_status, min_generation=_generation(created), **bounds
            )
        except ApiException as exc:
            raise DeploymentError(
                f"first rollout of {namespace}/{name}: Kubernetes API answered HTTP {exc.status}"
            ) from exc
        record.checks["rollout"] = asdict(verdict)
        if not verdict.healthy:
            raise DeploymentError(f"first rollout of {namespace}/{name} failed: {verdict.reason}")
        if smoke_test is not None:
            smoke_test(cluster.status(), verdict.revision)
            record.checks["smoke_test"] = True
        record.checks["metrics_analysis"] = "not applicable: first rollout, no champion to compare"
        record.status = "promoted"
        record.finished = now()
        return record

    previous_predictor = copy.deepcopy(existing["spec"]["predictor"])
    previous_predictor.pop("canaryTrafficPercent", None)
    previous_labels = dict(existing["metadata"].get("labels") or {})
    record.previous_version = previous_labels.get(VERSION_LABEL, "")
    before = _predictor_status(existing.get("status") or {})
    before_created = before.get("latestCreatedRevision", "")
    champion_revision = before.get("latestRolledoutRevision") or before.get(
        "latestReadyRevision", ""
    )
    if manifest["spec"]["predictor"] == previous_predictor and (
        before.get("latestReadyRevision") == before_created
    ):
        # The same spec again: no new revision would be created, nothing to judge.
        record.event(f"{namespace}/{name} already serves this predictor spec ({before_created})")
        record.checks["unchanged"] = True
        record.status = "promoted"
        record.finished = now()
        return record
    canary = 0 < canary_traffic_percent < 100
    if canary and prometheus is None and canary_analysis == CANARY_ANALYSIS_REQUIRED:
        # Fail closed: readiness alone says nothing about errors, latency or outcomes.
        raise DeploymentError(
            f"canary of {namespace}/{name} refused: canary_analysis='required' needs a "
            "Prometheus URL (prometheus_url) for the observation window; set one, or pass "
            "canary_analysis='skip' to promote on readiness and the smoke test alone; "
            "nothing changed"
        )
    new_predictor = copy.deepcopy(manifest["spec"]["predictor"])
    if canary:
        new_predictor["canaryTrafficPercent"] = int(canary_traffic_percent)
        record.canary_traffic_percent = int(canary_traffic_percent)
    annotations = dict(manifest["metadata"].get("annotations", {}))
    annotations[PREVIOUS_PREDICTOR_ANNOTATION] = json.dumps(previous_predictor, sort_keys=True)
    annotations[PREVIOUS_VERSION_ANNOTATION] = record.previous_version
    patch = {
        "metadata": {"labels": labels, "annotations": annotations},
        "spec": {"predictor": new_predictor},
    }
    validate_merged(existing, patch)
    record.event(
        f"patching {namespace}/{name}: "
        + (f"canary {canary_traffic_percent}%" if canary else "full rollout")
        + f" (champion revision {champion_revision or '?'})"
    )

    previous_annotations = dict(existing["metadata"].get("annotations") or {})
    restore_annotations = {
        key: previous_annotations.get(key) for key in set(annotations) | set(previous_annotations)
    }

    def fail(reason: str) -> DeploymentError:
        roll_back(
            cluster,
            previous_predictor,
            previous_labels,
            champion_revision,
            record,
            analysis_timeout,
            poll_interval,
            sleep,
            restore_annotations,
        )
        return DeploymentError(
            f"canary of {namespace}/{name} failed ({reason}); rolled back to the previous "
            f"predictor (version {record.previous_version or '?'})"
        )

    try:
        generation = cluster.patch(patch)
    except ApiException as exc:
        raise DeploymentError(
            f"patching {namespace}/{name} failed: Kubernetes API answered HTTP {exc.status}; "
            "nothing changed"
        ) from exc
    try:
        # Status reads here raise on an API error: any error mid-canary ends in the rollback.
        verdict = analyse_canary(
            cluster.status,
            min_generation=generation,
            previous_revision=before_created or None,
            expected_percent=int(canary_traffic_percent) if canary else 100,
            **bounds,
        )
        record.checks["canary"] = asdict(verdict)
        if not verdict.healthy:
            raise fail(verdict.reason)
        revision = verdict.revision
        record.event(f"new revision {revision} ready with its share of traffic")
        if smoke_test is not None:
            try:
                smoke_test(cluster.status(), revision)
            except DeploymentError as exc:
                record.checks["smoke_test"] = False
                raise fail(str(exc)) from exc
            record.checks["smoke_test"] = True
            record.event(f"smoke test of {revision} passed")
        if canary:
            if canary_analysis == CANARY_ANALYSIS_SKIP:
                record.checks["metrics_analysis"] = (
                    "skipped on request (canary_analysis='skip'): promoted on readiness"
                    + (" and the smoke test" if smoke_test is not None else " alone")
                )
                record.event("observation window skipped on request (canary_analysis='skip')")
                logger.warning("canary analysis skipped on request (canary_analysis='skip')")
            elif prometheus is None:  # refused before the PATCH; kept for safety
                raise fail("canary_analysis='required' and no Prometheus configured")
            else:
                record.event(
                    f"observing {revision} against {champion_revision} for "
                    f"{prometheus.window_seconds:.0f} s"
                )
                observe = prometheus.observer(namespace, champion_revision, revision)
                try:
                    result = observe_window(
                        observe,
                        prometheus.criteria,
                        prometheus.window_seconds,
                        prometheus.interval,
                        sleep,
                    )
                except DeploymentError as exc:  # Prometheus unreachable or answering errors
                    result = AnalysisResult(promote=False, reasons=[f"metrics: {exc}"])
                record.analysis = result.to_dict()
                record.checks["metrics_analysis"] = result.promote
                if not result.promote:
                    raise fail("; ".join(r for r in result.reasons if "FAIL" in r or "metrics" in r)
                               or result.reasons[0])  # fmt: skip
            record.event("canary passed: promoting to 100%")
            generation = cluster.patch({"spec": {"predictor": {"canaryTrafficPercent": None}}})
            final = await_traffic(
                cluster.status,
                revision,
                100,
                generation,
                analysis_timeout,
                poll_interval,
                sleep,
            )
            record.checks["promotion"] = asdict(final)
            if not final.healthy:
                raise fail(f"promotion not verified: {final.reason}")
        else:
            record.checks["metrics_analysis"] = (
                f"not applicable: full rollout (canary_traffic_percent={canary_traffic_percent})"
            )
    except ApiException as exc:
        record.event(f"Kubernetes API error mid-canary (HTTP {exc.status})")
        raise fail(f"Kubernetes API answered HTTP {exc.status} mid-canary") from exc
    record.status = "promoted"
    record.finished = now()
    record.event("promoted")
    return record


def rollback_kserve(
    api: Any,
    name: str,
    namespace: str,
    analysis_timeout: float = 600.0,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeploymentRecord:
    """Redeploys the predictor spec the current one replaced (the rollback pipeline's step).

    The previous spec and version come from the annotations :func:`deploy_kserve_target` wrote.

    Args:
        api: A ``CustomObjectsApi``.
        name: InferenceService name.
        namespace: Namespace.
        analysis_timeout: Seconds per wait.
        poll_interval: Seconds between polls.
        sleep: Sleep function.

    Returns:
        The record (``rolled_back``).

    Raises:
        DeploymentError: No previous spec recorded, or the rollback failed.
    """
    from kubernetes.client.exceptions import ApiException

    cluster = _Cluster(api, name, namespace, sleep, 3)
    try:
        current = cluster.get()
    except ApiException as exc:
        raise DeploymentError(
            f"reading {namespace}/{name} failed: Kubernetes API answered HTTP {exc.status}"
        ) from exc
    annotations = current["metadata"].get("annotations") or {}
    if PREVIOUS_PREDICTOR_ANNOTATION not in annotations:
        raise DeploymentError(
            f"{namespace}/{name}: no previous predictor recorded "
            f"(annotation {PREVIOUS_PREDICTOR_ANNOTATION})"
        )
    previous = json.loads(annotations[PREVIOUS_PREDICTOR_ANNOTATION])
    labels = dict(current["metadata"].get("labels") or {})
    version = annotations.get(PREVIOUS_VERSION_ANNOTATION, "")
    if version:
        labels[VERSION_LABEL] = version
    record = DeploymentRecord(
        target="kserve",
        status="failed",
        model_uri=(previous.get("storageUris") or [{}])[0].get("uri", ""),
        model_version=version,
        service_name=name,
        namespace=namespace,
        previous_version=labels.get(VERSION_LABEL, ""),
        started=now(),
    )
    status = current.get("status") or {}
    serving = _predictor_status(status).get("latestRolledoutRevision", "")
    validate_merged(current, {"spec": {"predictor": previous}})
    # The recorded previous spec is used up: a second rollback refuses instead of re-applying it.
    used_up = {PREVIOUS_PREDICTOR_ANNOTATION: None, PREVIOUS_VERSION_ANNOTATION: None}
    roll_back(
        cluster, previous, labels, "", record, analysis_timeout, poll_interval, sleep, used_up
    )
    record.event(f"redeployed the previous predictor spec (was serving {serving or '?'})")
    return record


def revision_smoke_test(model_dir: str | os.PathLike[str], timeout: float = 10.0) -> SmokeTest:
    """A smoke test that sends one v1 prediction to a revision's tagged URL.

    KServe (Serverless) tags the canary's traffic target (``latest``) and Knative gives a tagged
    target its own ``url`` in the status; the request goes there, so it reaches exactly the new
    revision. The answer is checked against the contract and the policy's version.

    Args:
        model_dir: The deployed policy folder (for its item bank and version).
        timeout: Seconds for the request.

    Returns:
        The smoke test.
    """
    from quizops.deploy.local import SMOKE_INSTANCE_ID, check_v1_answer
    from quizops.names import MODEL_NAME
    from quizops.policy import QuizPolicy

    policy = QuizPolicy.load(model_dir)
    bank = policy.item_bank

    def smoke(status: Mapping[str, Any], revision: str) -> None:
        from quizops.serving import http_json

        urls = [
            t.get("url")
            for t in _predictor_status(status).get("traffic") or []
            if t.get("revisionName") == revision and t.get("url")
        ]
        if not urls:
            raise DeploymentError(f"smoke test: revision {revision} has no tagged URL in status")
        candidates = list(bank[: min(5, len(bank))])
        instance = {
            "student_id": SMOKE_INSTANCE_ID,
            "history": [{"item_id": bank[0], "correct": 1}],
            "candidates": candidates,
        }
        try:
            code, body = http_json(
                "POST",
                f"{urls[0].rstrip('/')}/v1/models/{MODEL_NAME}:predict",
                {"instances": [instance]},
                timeout=timeout,
            )
        except OSError as exc:
            raise DeploymentError(
                f"smoke test: {revision} unreachable ({type(exc).__name__})"
            ) from exc
        check_v1_answer(code, body, set(candidates), policy.version)

    return smoke


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
