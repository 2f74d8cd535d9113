"""The rollback stage: restore the ``previous`` champion in the registry and in the deployment.

Locally the predictor (``make serve``) serves the registry's champion, so moving the aliases
back is the whole rollback. On KServe the InferenceService's previous predictor spec (recorded
by the deploy stage in its annotations) is redeployed first
(:func:`quizops.deploy.rollout.rollback_kserve`); only when that succeeded are the aliases moved
(:func:`quizops.tracking.rollback_to_previous`, compare-and-set on the champion read at the
start), so a failed rollout never leaves the registry naming a version that is not served.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from quizops import storage
from quizops.errors import DeploymentError, RegistryError

logger = logging.getLogger(__name__)

TARGETS = ("local", "kserve")


@dataclass(frozen=True)
class RollbackResult:
    """What the rollback restored.

    Attributes:
        target: ``local`` or ``kserve``.
        champion: The version now champion (the former ``previous``).
        demoted: The version that was champion.
        deployment_status: ``rolled_back`` (kserve) or ``registry only`` (local).
        deployed_version: The version the redeployed predictor spec carries (kserve).
    """

    target: str
    champion: str
    demoted: str
    deployment_status: str
    deployed_version: str = ""


def render_rollback_report(result: RollbackResult) -> str:
    """The rollback as Markdown.

    Args:
        result: The result.

    Returns:
        The report.
    """
    return "\n".join(
        [
            f"# Rollback ({result.target})",
            "",
            f"- champion now: version {result.champion}",
            f"- demoted: version {result.demoted or '(none)'} (tagged rolled_back=true)",
            f"- deployment: {result.deployment_status}",
            *(
                [f"- deployed version: {result.deployed_version}"]
                if result.deployed_version
                else []
            ),
            "",
        ]
    )


def run_rollback_stage(
    *,
    tracking_uri: str,
    target: str,
    namespace: str = "",
    service_name: str = "",
    record_path: str,
    report_path: str,
    api: Any | None = None,
) -> RollbackResult:
    """Restores the previous champion (deployment first on KServe, then the registry).

    Args:
        tracking_uri: MLflow tracking URI ("" = ``MLFLOW_TRACKING_URI``).
        target: ``local`` or ``kserve``.
        namespace: Namespace of the InferenceService (kserve).
        service_name: InferenceService name (kserve).
        record_path: Where the JSON record goes.
        report_path: Where the Markdown report goes.
        api: ``CustomObjectsApi`` (kserve; default: from the cluster config).

    Returns:
        The result.

    Raises:
        DeploymentError: Unknown target, or the KServe rollback failed (registry unchanged).
        RegistryError: No previous version, or the champion changed meanwhile.
    """
    from quizops.names import PREVIOUS_ALIAS
    from quizops.tracking import read_alias, read_champion, rollback_to_previous

    if target not in TARGETS:
        raise DeploymentError(f"unknown rollback target '{target[:20]}'; use one of {TARGETS}")
    champion = read_champion(tracking_uri)
    previous = read_alias(PREVIOUS_ALIAS, tracking_uri)
    if not previous:
        raise RegistryError(
            f"no '{PREVIOUS_ALIAS}' version to restore (champion {champion or '-'})"
        )
    deployed_version = ""
    status = "registry only (make serve serves the champion)"
    if target == "kserve":
        from quizops.deploy.rollout import kubernetes_api, rollback_kserve

        record = rollback_kserve(api or kubernetes_api(), service_name, namespace)
        deployed_version = record.model_version
        status = record.status
        if deployed_version and deployed_version != previous:
            logger.warning(
                "the redeployed predictor carries version %s, the registry's previous is %s",
                deployed_version,
                previous,
            )
    promotion = rollback_to_previous(tracking_uri, expected_champion=champion or None)
    result = RollbackResult(
        target=target,
        champion=promotion.champion,
        demoted=promotion.replaced or "",
        deployment_status=status,
        deployed_version=deployed_version,
    )
    storage.write_bytes(record_path, json.dumps(asdict(result), indent=2).encode())
    storage.write_bytes(report_path, render_rollback_report(result).encode())
    logger.info("rolled back: champion %s (was %s)", result.champion, result.demoted or "-")
    return result
