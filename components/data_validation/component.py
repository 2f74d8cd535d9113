"""KFP component: the data-validation gate (TFDV + domain checks) in the validation image."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Metrics, Output

from components.images import VALIDATION_IMAGE


@dsl.component(base_image=VALIDATION_IMAGE, install_kfp_package=False)
def data_validation(
    data: Input[Dataset],
    validated: Output[Dataset],
    statistics: Output[Artifact],
    schema: Output[Artifact],
    anomalies: Output[Artifact],
    report: Output[HTML],
    summary: Output[Markdown],
    metrics: Output[Metrics],
    statistics_store_uri: str = "",
    drift_js_threshold: float = 0.1,
    drift_linf_threshold: float = 0.1,
    skew_linf_threshold: float = 0.1,
    decisions_uri: str = "",
    beam_pipeline_args: list = [],  # noqa: B006 - KFP needs a literal default
    skew_js_threshold: float = 0.1,
    span: str = "",
    previous_span: str = "",
    source_uri: str = "",
) -> None:
    """Validates the de-identified canonical table; passes it on only if it passes.

    Args:
        data: De-identified canonical Parquet table (from the PII stage).
        validated: Output: the same table, only when the gate passes.
        statistics: Output: TFDV statistics (binary DatasetFeatureStatisticsList).
        schema: Output: the schema used (curated + this run's comparators), text format.
        anomalies: Output: TFDV Anomalies proto (text) with the domain findings added.
        report: Output: HTML view (findings, drift/skew, Facets statistics).
        summary: Output: Markdown summary.
        metrics: Output: counts, drift and skew values (every run).
        statistics_store_uri: Statistics store of previous spans ("" = no drift).
        drift_js_threshold: Jensen-Shannon threshold, numeric drift.
        drift_linf_threshold: L-infinity threshold, categorical drift.
        skew_linf_threshold: L-infinity threshold, categorical training-serving skew.
        decisions_uri: Serving decision logs ("" = no skew).
        beam_pipeline_args: Beam options for statistics ([] = in process).
        skew_js_threshold: Jensen-Shannon threshold, numeric skew.
        span: This span ("" = from the input's metadata, else unspanned).
        previous_span: The previous span ("" = from the metadata, else the store decides).
        source_uri: The data set's source URI: drift baselines are kept per source ("" = one
            baseline for the whole store).
    """
    import json

    from quizops.validation import run_validation_stage
    from quizops.validation.gate import OutputPaths, ValidationConfig

    result = run_validation_stage(
        data_path=data.path,
        outputs=OutputPaths(
            validated=validated.path,
            statistics=statistics.path,
            schema=schema.path,
            anomalies=anomalies.path,
            report=report.path,
            summary=summary.path,
        ),
        config=ValidationConfig(
            statistics_store_uri=statistics_store_uri,
            decisions_uri=decisions_uri,
            drift_js_threshold=drift_js_threshold,
            drift_linf_threshold=drift_linf_threshold,
            skew_linf_threshold=skew_linf_threshold,
            skew_js_threshold=skew_js_threshold,
            beam_pipeline_args=[str(a) for a in beam_pipeline_args],
            span=span,
            previous_span=previous_span,
            source=source_uri,
        ),
        data_uri=data.uri,
        data_metadata=dict(data.metadata),
    )
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    # The same numbers as a file: an artifact without one counts as missing in kfp.local's cache.
    with open(metrics.path, "w") as handle:
        json.dump(result.metrics, handle, sort_keys=True)
