"""KFP component: offline student-state features and online-store materialization (Feast)."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def materialize_features(
    data: Input[Dataset],
    features: Input[Dataset],
    store: Output[Artifact],
    metrics: Output[Metrics],
    feature_store: str = "",
    offline_uri: str = "",
) -> None:
    """Writes each student's state after every answer offline and materializes the online store.

    Args:
        data: Validated, de-identified canonical table (Parquet).
        features: Feature engineering output (the fitted tracer and the item bank).
        store: JSON record of what was written (repository, files, tracer version, counts).
        metrics: Counts and timings.
        feature_store: Feast repository folder ("" = $QUIZOPS_FEATURE_STORE, else the local
            home's feature_store/, created as a local store when it has no feature_store.yaml).
        offline_uri: Where the offline Parquet files go ("" = the repository's data/).
    """
    import json
    from dataclasses import asdict

    from quizops.featurestore import run_materialize_features_stage

    result = run_materialize_features_stage(
        data_path=data.path,
        features_dir=features.path,
        repo_path=feature_store,
        offline_uri=offline_uri,
    )
    with open(store.path, "w", encoding="utf-8") as handle:
        json.dump(asdict(result), handle, indent=1)
    store.metadata["tracer_version"] = result.tracer_version
    store.metadata["repo_path"] = result.repo_path
    for name, value in result.metrics().items():
        metrics.log_metric(name, value)
