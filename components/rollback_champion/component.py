"""KFP component: restore the previous champion in the deployment and the registry."""

from kfp import dsl
from kfp.dsl import Artifact, Markdown, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def rollback_champion(
    record: Output[Artifact],
    report: Output[Markdown],
    tracking_uri: str = "",
    target: str = "kserve",
    namespace: str = "quizops",
    service_name: str = "quiz-policy",
) -> str:
    """Redeploys the previous predictor (KServe) and moves the champion alias back.

    Args:
        record: Output: JSON record (versions, deployment status).
        report: Output: Markdown report.
        tracking_uri: MLflow tracking URI ("" = MLFLOW_TRACKING_URI of the environment).
        target: "kserve" (InferenceService, then registry) or "local" (registry: make serve
            serves the champion).
        namespace: Namespace of the InferenceService (kserve).
        service_name: InferenceService name (kserve).

    Returns:
        The version that is champion now.
    """
    from quizops.rollback import run_rollback_stage

    result = run_rollback_stage(
        tracking_uri=tracking_uri,
        target=target,
        namespace=namespace,
        service_name=service_name,
        record_path=record.path,
        report_path=report.path,
    )
    return result.champion
