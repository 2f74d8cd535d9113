"""The rollback pipeline: restore the ``previous`` champion in the deployment and the registry.

Compiles to compiled/rollback.yaml; runs locally with ``make rollback``. Never cached, never
retried (it moves aliases and a deployment).
"""

from kfp import dsl

from components.rollback_champion.component import rollback_champion
from pipelines.task_policies import apply_policy
from pipelines.training import use_mlflow_credentials
from quizops.names import SERVICE_NAME

PIPELINE_NAME = "quizops-rollback"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Restores the previous champion policy in the deployment and the registry.",
)
def rollback_pipeline(
    mlflow_tracking_uri: str = "http://mlflow.mlflow.svc.cluster.local:5000",
    target: str = "kserve",
    namespace: str = "quizops",
    service_name: str = SERVICE_NAME,
) -> None:
    """Restores the previous champion (InferenceService first, then the registry aliases).

    Args:
        mlflow_tracking_uri: MLflow tracking server holding the registry.
        target: kserve (redeploy the previous predictor spec, then move the aliases) or local
            (move the aliases; make serve serves the champion).
        namespace: Kubernetes namespace of the InferenceService.
        service_name: Name of the InferenceService.
    """
    task = apply_policy(
        rollback_champion(
            tracking_uri=mlflow_tracking_uri,
            target=target,
            namespace=namespace,
            service_name=service_name,
        ),
        "rollback-champion",
        "Restore the previous champion",
    )
    use_mlflow_credentials(task)
