"""Deploys a blessed policy: the local predictor process, or a KServe InferenceService canary.

One concern per module:

* :mod:`quizops.deploy.manifest`: render the InferenceService, check it against the CRD schema,
  JSON merge patches.
* :mod:`quizops.deploy.rollout`: apply on Kubernetes, analyse the canary, promote or roll back.
* :mod:`quizops.deploy.local`: the local target (the predictor process on 127.0.0.1).
* :mod:`quizops.deploy.report`: the deployment record and its Markdown report.

Registry promotion (the ``champion`` and ``previous`` aliases) lives in :mod:`quizops.tracking`.
:func:`run_deploy_stage` is the stage's entry point; ``components/deploy_kserve`` wraps it.
No kfp import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quizops.deploy.local import check_v1_answer, deploy_local, rollback_local
from quizops.deploy.manifest import (
    GROUP,
    MODEL_MOUNT,
    PLURAL,
    VERSION,
    load_crd_schema,
    merge_patch,
    render_inference_service,
    unknown_fields,
    validate_inference_service,
)
from quizops.deploy.report import DeploymentRecord, render_report
from quizops.deploy.rollout import (
    CanaryVerdict,
    analyse_canary,
    deploy_kserve_target,
    kubernetes_api,
    rollback_kserve,
)
from quizops.errors import DeploymentError, ManifestInvalidError

__all__ = [
    "GROUP",
    "MODEL_MOUNT",
    "PLURAL",
    "VERSION",
    "CanaryVerdict",
    "DeploymentError",
    "DeploymentRecord",
    "ManifestInvalidError",
    "analyse_canary",
    "check_v1_answer",
    "deploy_kserve_target",
    "deploy_local",
    "kubernetes_api",
    "load_crd_schema",
    "merge_patch",
    "render_inference_service",
    "render_report",
    "rollback_kserve",
    "rollback_local",
    "run_deploy_stage",
    "unknown_fields",
    "validate_inference_service",
]


def run_deploy_stage(
    *,
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
    prometheus_url: str = "",
    canary_window_seconds: float = 600.0,
    smoke_test_canary: bool = False,
    replay_table: str = "",
    decisions_uri: str = "",
    canary_analysis: str = "required",
) -> DeploymentRecord:
    """The deploy stage: deploy to the target, then write the record and the report.

    The champion is read from the registry before anything is deployed (an unreadable registry
    fails the stage) and the promotion is compare-and-set on it. Nothing is written when the
    deployment fails.

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
        prometheus_url: Prometheus for the canary window (kserve). A canary update without
            one is refused unless ``canary_analysis`` is ``skip``.
        canary_window_seconds: Length of the observation window (kserve).
        smoke_test_canary: Send one prediction to the canary's tagged URL (kserve).
        replay_table: De-identified interaction table replayed against champion and challenger
            (local; "" skips the comparison).
        decisions_uri: ``gs://`` prefix of the predictor's decision log (kserve; "" = in the
            pod).
        canary_analysis: ``required`` (default: a kserve canary is promoted only after the
            Prometheus window passed; no ``prometheus_url`` refuses it before any change) or
            ``skip`` (explicit opt-out: readiness and the smoke test decide). The record says
            which happened (``checks["metrics_analysis"]``).

    Returns:
        The record.

    Raises:
        ConfigurationError: ``canary_analysis`` is neither ``required`` nor ``skip``.
        DeploymentError: Unknown target or a failed deployment, or a kserve canary update
            without Prometheus while the analysis is required.
        RegistryError: The registry could not be read, or the champion changed meanwhile.
    """
    from quizops.deploy.analysis import PrometheusAnalysis
    from quizops.deploy.rollout import check_canary_analysis, revision_smoke_test
    from quizops.tracking import champion_for_promotion, promote_in_registry

    check_canary_analysis(canary_analysis)
    if target == "local":
        record = deploy_local(
            model_dir, model_version, tracking_uri, replay_table=replay_table or None
        )
    elif target == "kserve":
        # Read before touching the cluster (fails closed); promotion is compare-and-set on it.
        champion = champion_for_promotion(model_version, tracking_uri) if model_version else ""
        manifest = render_inference_service(
            service_name, namespace, model_uri, image, model_version, decisions_uri=decisions_uri
        )
        prometheus = None
        if prometheus_url:
            interval = max(1.0, min(60.0, canary_window_seconds / 5))
            prometheus = PrometheusAnalysis(
                url=prometheus_url, window_seconds=canary_window_seconds, interval=interval
            )
        record = deploy_kserve_target(
            api or kubernetes_api(),
            manifest,
            canary_traffic_percent,
            prometheus=prometheus,
            smoke_test=revision_smoke_test(model_dir) if smoke_test_canary else None,
            canary_analysis=canary_analysis,
        )
        if model_version:
            record.previous_version = (
                promote_in_registry(model_version, tracking_uri, expected_champion=champion)
                or record.previous_version
            )
    else:
        raise DeploymentError(f"target: must be 'local' or 'kserve', got {target!r}")
    Path(deployment_path).parent.mkdir(parents=True, exist_ok=True)
    Path(deployment_path).write_text(record.to_json())
    Path(report_path).parent.mkdir(parents=True, exist_ok=True)
    Path(report_path).write_text(render_report(record))
    return record
