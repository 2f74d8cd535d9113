"""KFP component: deploy a blessed policy (local predictor process or KServe canary)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Model, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def deploy_kserve(
    model: Input[Model],
    target: str,
    namespace: str,
    service_name: str,
    canary_traffic_percent: int,
    tracking_uri: str,
    deployment: Output[Artifact],
    report: Output[Markdown],
    predictor_image: str = "",
    prometheus_url: str = "",
    canary_window_seconds: float = 600.0,
    smoke_test_canary: bool = False,
    replay_data: Input[Dataset] = None,
    decisions_uri: str = "",
    canary_analysis: str = "required",
) -> None:
    """Deploys the policy, compares it with the champion, and promotes it in MLflow.

    Args:
        model: The policy folder from train_policy; metadata ``mlflow_model_version``.
        target: ``local`` (smoke-test the predictor process on 127.0.0.1) or ``kserve``.
        namespace: Kubernetes namespace of the InferenceService (kserve).
        service_name: InferenceService name (kserve).
        canary_traffic_percent: Share of traffic for the canary (kserve).
        tracking_uri: MLflow tracking URI ("" = MLFLOW_TRACKING_URI of the environment).
        deployment: JSON deployment record.
        report: Markdown report.
        predictor_image: Predictor image of the InferenceService (the pipeline passes
            components.images.PREDICTOR_IMAGE; a function default cannot name it, since only
            the function body travels to the container).
        prometheus_url: Prometheus base URL for the canary's observation window (kserve;
            a canary update without one is refused unless canary_analysis is skip).
        canary_window_seconds: Length of the observation window (kserve).
        smoke_test_canary: Send one prediction to the canary revision's tagged URL (kserve).
        replay_data: De-identified interaction table replayed against champion and challenger
            (local; absent: no comparison).
        decisions_uri: gs:// prefix of the predictor's decision log (kserve; "" = in the pod).
        canary_analysis: required (a kserve canary is promoted only after the Prometheus
            window passed; without prometheus_url it is refused before any change) or skip
            (explicit opt-out: readiness and the smoke test decide).
    """
    from quizops.deploy import run_deploy_stage

    record = run_deploy_stage(
        model_dir=model.path,
        model_uri=model.uri,
        model_version=str(model.metadata.get("mlflow_model_version", "")),
        target=target,
        namespace=namespace,
        service_name=service_name,
        canary_traffic_percent=canary_traffic_percent,
        tracking_uri=tracking_uri,
        image=predictor_image,
        deployment_path=deployment.path,
        report_path=report.path,
        prometheus_url=prometheus_url,
        canary_window_seconds=canary_window_seconds,
        smoke_test_canary=smoke_test_canary,
        replay_table=replay_data.path if replay_data is not None else "",
        decisions_uri=decisions_uri,
        canary_analysis=canary_analysis,
    )
    deployment.metadata["status"] = record.status
    deployment.metadata["model_version"] = record.model_version
    deployment.metadata["previous_version"] = record.previous_version
