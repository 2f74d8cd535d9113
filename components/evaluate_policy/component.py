"""KFP component: evaluate the challenger in simulation and off-policy; champion gate."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def evaluate_policy(
    model: Input[Model],
    features: Input[Dataset],
    metrics: Output[Metrics],
    report: Output[HTML],
    tracking_uri: str = "",
    world_seed: int = 7,
    students: int = 300,
    steps: int = 30,
    min_lift: float = 0.05,
    champion_tolerance: float = 0.01,
) -> bool:
    """Compares the challenger with a random policy and the champion; returns whether blessed.

    Args:
        model: The challenger policy.
        features: The features it was trained on (off-policy evaluation).
        metrics: Simulation and off-policy metrics.
        report: HTML report with learning curves.
        tracking_uri: MLflow tracking URI ("" = MLFLOW_TRACKING_URI of the environment).
        world_seed: Seed of the simulated course.
        students: Simulated students per policy.
        steps: Items per simulated student.
        min_lift: Least gain in final mastery over random to bless.
        champion_tolerance: How much worse than the champion a challenger may be.

    Returns:
        Whether the challenger is blessed.
    """
    import logging

    from quizops.evaluation import GateConfig, run_evaluation_stage

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    evaluation = run_evaluation_stage(
        model.path,
        features.path,
        report.path,
        tracking_uri,
        model.metadata.get("mlflow_run_id", ""),
        GateConfig(
            world_seed=world_seed,
            students=students,
            steps=steps,
            min_lift=min_lift,
            champion_tolerance=champion_tolerance,
        ),
    )
    for name, value in evaluation.metrics.items():
        metrics.log_metric(name, value)
    return evaluation.blessed
