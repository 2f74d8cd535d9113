"""KFP component: knowledge-state features (tag-level BKT by EM, prerequisites), item bank,
and the served decisions' exact propensities on the answers they produced."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def feature_engineering(
    data: Input[Dataset],
    features: Output[Dataset],
    metrics: Output[Metrics],
    decisions_uri: str = "",
    span: str = "",
) -> None:
    """Joins served decisions with their answers, fits the knowledge tracer, writes the features.

    Args:
        data: Validated, de-identified canonical table (Parquet).
        features: Folder with tracer.json, items.parquet, examples.parquet,
            interactions.parquet, feature_spec.json and served_decisions.json.
        metrics: Counts, fitted-parameter summaries and the served-decision join's counts.
        decisions_uri: The predictor's decision logs (folder or gs:// prefix); each answer a
            served decision produced gets that decision's exact propensity. "" skips the join,
            and so does a table whose timestamps are order ids (ASSISTments).
        span: UTC day whose decision logs are joined ("" joins every log).
    """
    from quizops.features import run_features_stage

    result = run_features_stage(
        data_path=data.path, features_dir=features.path, decisions_uri=decisions_uri, span=span
    )
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    features.metadata["served_join"] = result.served["skipped"] or "joined"
