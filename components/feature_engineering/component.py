"""KFP component: knowledge-state features (tag-level BKT by EM, prerequisites), item bank."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def feature_engineering(
    data: Input[Dataset], features: Output[Dataset], metrics: Output[Metrics]
) -> None:
    """Fits the knowledge tracer and writes the feature set.

    Args:
        data: Validated, de-identified canonical table (Parquet).
        features: Folder with tracer.json, items.parquet, examples.parquet,
            interactions.parquet and feature_spec.json.
        metrics: Counts and fitted-parameter summaries.
    """
    from quizops.features import run_features_stage

    result = run_features_stage(data_path=data.path, features_dir=features.path)
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
