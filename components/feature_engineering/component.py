"""KFP component: knowledge-state features (BKT per skill), item bank and training examples."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def feature_engineering(
    data: Input[Dataset], features: Output[Dataset], metrics: Output[Metrics]
) -> None:
    """Fits BKT per skill and writes the feature set.

    Args:
        data: Validated, de-identified canonical table (Parquet).
        features: Folder with tracer.json, items.parquet, examples.parquet.
        metrics: Counts and fitted-parameter summaries.
    """
    import logging

    from quizops.features import run_feature_stage

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    summary = run_feature_stage(data.path, features.path)
    for name, value in summary.items():
        metrics.log_metric(name, value)
