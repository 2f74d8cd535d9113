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
    temperature: float = 0.0,
    epsilon: float = 0.0,
    seed: int = 0,
    holdout_fraction: float = 0.2,
    min_effective_sample: float = 30.0,
    search_budget_s: float = 900.0,
    session_length: int = 20,
    span: str = "",
    kfp_run_id: str = "",
) -> None:
    """Builds the planning policy, chooses its settings in fitted simulators, registers it.

    Args:
        features: Feature engineering output.
        model: The policy folder; metadata carries the MLflow run id and model version.
        metrics: Training metrics (search figures, fitted simulators' validation).
        tracking_uri: MLflow tracking URI ("" = MLFLOW_TRACKING_URI of the environment).
        experiment: MLflow experiment.
        temperature: Softmax temperature of the policy; 0 = chosen by validation in the
            fitted simulators.
        epsilon: Uniform exploration share; 0 = chosen by validation (always positive).
        seed: Seed of the simulators' split and the policy search.
        holdout_fraction: Share of students the evaluation holds out for off-policy
            estimates; training leaves them out (the same split as evaluate_policy's).
        min_effective_sample: The evaluation gate's least effective sample of the importance
            weights on the held-out decisions: the policy search keeps twice that
            (estimated from the training decisions) so that the gate can evaluate the policy.
        search_budget_s: Wall-clock seconds of the policy search; on a large item bank the
            grid is tried in order of preference until they are spent.
        session_length: Questions per quiz session: the search simulates sessions of this
            length, and the policy's endgame counts back from it (``PlanningModel.horizon``).
        span: The data span trained on (a lineage tag of the registered version).
        kfp_run_id: The KFP run id, recorded as an MLflow tag ("" outside KFP).
    """
    from quizops.policy import TrainingConfig
    from quizops.training import run_training_stage

    result = run_training_stage(
        features_dir=features.path,
        model_dir=model.path,
        tracking_uri=tracking_uri,
        experiment=experiment,
        config=TrainingConfig(
            temperature=temperature,
            epsilon=epsilon,
            seed=seed,
            holdout_fraction=holdout_fraction,
            min_effective_sample=min_effective_sample,
            search_budget_s=search_budget_s,
            horizon=session_length,
        ),
        kfp_run_id=kfp_run_id,
        span=span,
    )
    model.metadata["mlflow_run_id"] = result.run_id
    model.metadata["mlflow_model_version"] = result.model_version
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
