"""KFP component: train the quiz policy, track and register it in MLflow."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def train_policy(
    features: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    tracking_uri: str = "",
    experiment: str = "quizops",
    temperature: float = 0.02,
    epsilon: float = 0.05,
    seed: int = 0,
) -> None:
    """Fits the learning-gain model and registers the policy as ``quiz-policy``.

    Args:
        features: Feature engineering output.
        model: The policy folder; metadata carries the MLflow run id and model version.
        metrics: Training metrics.
        tracking_uri: MLflow tracking URI ("" = MLFLOW_TRACKING_URI of the environment).
        experiment: MLflow experiment.
        temperature: Softmax temperature of the policy.
        epsilon: Uniform exploration share of the policy.
        seed: Learner seed.
    """
    import logging

    from quizops.policy import TrainingConfig
    from quizops.training import run_training_stage

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = run_training_stage(
        features.path,
        model.path,
        tracking_uri,
        experiment,
        TrainingConfig(temperature=temperature, epsilon=epsilon, seed=seed),
    )
    model.metadata["mlflow_run_id"] = result["run_id"]
    model.metadata["mlflow_model_version"] = result["model_version"]
    for name, value in result["metrics"].items():
        metrics.log_metric(name, value)
