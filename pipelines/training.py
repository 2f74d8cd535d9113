"""The training pipeline: ingest -> pii_scan -> data_validation -> feature_engineering ->
train_policy -> evaluate_policy -> dsl.If(blessed) deploy_kserve.

Compiles to compiled/training.yaml. Nothing here reads the environment: the YAML is the same on
every machine. Secrets (the pseudonymization key) come from Kubernetes secrets through
kfp-kubernetes and never travel as pipeline parameters.
"""

from kfp import dsl, kubernetes

from components.data_validation.component import data_validation
from components.deploy_kserve.component import deploy_kserve
from components.evaluate_policy.component import evaluate_policy
from components.feature_engineering.component import feature_engineering
from components.images import PREDICTOR_IMAGE
from components.ingest.component import ingest
from components.pii_scan.component import pii_scan
from components.train_policy.component import train_policy
from quizops.names import (
    MLFLOW_PASSWORD_ENV,
    MLFLOW_SECRET,
    MLFLOW_USERNAME_ENV,
    PII_KEY_ENV,
    PII_KEY_SECRET,
    PII_KEY_SECRET_KEY,
    SERVICE_NAME,
)


def use_mlflow_credentials(task: dsl.PipelineTask) -> None:
    """Mounts the optional MLflow credentials secret as MLflow's environment variables.

    Args:
        task: A task that talks to the MLflow tracking server.
    """
    kubernetes.use_secret_as_env(
        task,
        secret_name=MLFLOW_SECRET,
        secret_key_to_env={
            "username": MLFLOW_USERNAME_ENV,
            "password": MLFLOW_PASSWORD_ENV,
        },
        optional=True,
    )


@dsl.pipeline(
    name="quizops-training",
    description="Trains, checks and (when blessed) deploys the adaptive-quiz selection policy.",
)
def training_pipeline(
    source_uri: str,
    source_format: str = "assistments",
    source_encoding: str = "utf-8",
    span: str = "",
    raw_zone_uri: str = "",
    mlflow_tracking_uri: str = "http://mlflow.mlflow.svc.cluster.local:5000",
    experiment: str = "quizops",
    statistics_store_uri: str = "",
    decisions_uri: str = "",
    drift_js_threshold: float = 0.1,
    drift_linf_threshold: float = 0.1,
    skew_linf_threshold: float = 0.1,
    skew_js_threshold: float = 0.1,
    pii_policy_json: str = "",
    temperature: float = 0.02,
    epsilon: float = 0.05,
    seed: int = 0,
    world_seed: int = 7,
    eval_students: int = 300,
    eval_steps: int = 30,
    min_lift: float = 0.05,
    champion_tolerance: float = 0.01,
    deploy_target: str = "kserve",
    namespace: str = "quizops",
    service_name: str = SERVICE_NAME,
    canary_traffic_percent: int = 10,
) -> None:
    ingest_task = ingest(
        source_uri=source_uri,
        source_format=source_format,
        span=span,
        raw_zone_uri=raw_zone_uri,
        encoding=source_encoding,
    ).set_display_name("ingest")

    pii_task = pii_scan(
        raw=ingest_task.outputs["manifest"], policy_json=pii_policy_json
    ).set_display_name("pii-scan")
    kubernetes.use_secret_as_env(
        pii_task, secret_name=PII_KEY_SECRET, secret_key_to_env={PII_KEY_SECRET_KEY: PII_KEY_ENV}
    )

    validation_task = data_validation(
        data=pii_task.outputs["clean"],
        statistics_store_uri=statistics_store_uri,
        drift_js_threshold=drift_js_threshold,
        drift_linf_threshold=drift_linf_threshold,
        skew_linf_threshold=skew_linf_threshold,
        skew_js_threshold=skew_js_threshold,
        decisions_uri=decisions_uri,
        span=span,
    ).set_display_name("data-validation")

    features_task = feature_engineering(data=validation_task.outputs["validated"]).set_display_name(
        "feature-engineering"
    )

    train_task = train_policy(
        features=features_task.outputs["features"],
        tracking_uri=mlflow_tracking_uri,
        experiment=experiment,
        temperature=temperature,
        epsilon=epsilon,
        seed=seed,
    ).set_display_name("train-policy")

    eval_task = evaluate_policy(
        model=train_task.outputs["model"],
        features=features_task.outputs["features"],
        tracking_uri=mlflow_tracking_uri,
        world_seed=world_seed,
        students=eval_students,
        steps=eval_steps,
        min_lift=min_lift,
        champion_tolerance=champion_tolerance,
    ).set_display_name("evaluate-policy")

    for task in (train_task, eval_task):
        use_mlflow_credentials(task)

    with dsl.If(eval_task.outputs["Output"] == True, name="blessed"):  # noqa: E712
        deploy_task = deploy_kserve(
            model=train_task.outputs["model"],
            target=deploy_target,
            namespace=namespace,
            service_name=service_name,
            canary_traffic_percent=canary_traffic_percent,
            tracking_uri=mlflow_tracking_uri,
            predictor_image=PREDICTOR_IMAGE,
        ).set_display_name("deploy-kserve")
        use_mlflow_credentials(deploy_task)
