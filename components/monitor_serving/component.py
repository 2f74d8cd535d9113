"""KFP component: drift, skew and live quality of the newest span of serving decisions."""

from kfp import dsl
from kfp.dsl import Artifact, Markdown, Metrics, Output

from components.images import VALIDATION_IMAGE


@dsl.component(base_image=VALIDATION_IMAGE, install_kfp_package=False)
def monitor_serving(
    decisions_uri: str,
    report: Output[Markdown],
    metrics: Output[Metrics],
    verdict: Output[Artifact],
    statistics_store_uri: str = "",
    span: str = "",
    outcomes_uri: str = "",
    drift_linf_threshold: float = 0.1,
    drift_js_threshold: float = 0.1,
    skew_linf_threshold: float = 0.1,
    skew_js_threshold: float = 0.1,
    min_decisions: int = 100,
    min_outcome_correct_rate: float = 0.0,
    on_threshold: str = "retrain",
    training_source_uri: str = "",
) -> bool:
    """Measures the newest decision span against the previous one and the training baseline.

    Args:
        decisions_uri: The predictor's decision logs (local folder or gs://).
        report: Output: the Markdown report.
        metrics: Output: drift, skew and live-quality values.
        verdict: Output: JSON with the span checked, whether a threshold was crossed and the
            reasons (what start_retraining reads).
        statistics_store_uri: Statistics store of the training runs (skew baseline).
        span: Decision span to check ("" = the newest).
        outcomes_uri: De-identified canonical table of the answers that followed ("" = none).
        drift_linf_threshold: L-infinity drift of served items vs the previous span.
        drift_js_threshold: Jensen-Shannon drift of propensities vs the previous span.
        skew_linf_threshold: L-infinity skew of served items vs training.
        skew_js_threshold: Jensen-Shannon skew of propensities vs training.
        min_decisions: Fewer decisions are too few to measure.
        min_outcome_correct_rate: Floor of served-item correctness (0 = not gated).
        on_threshold: "retrain" or "report" (recorded in the report).
        training_source_uri: Source URI of the training data (its baseline in the store).

    Returns:
        Whether a threshold was crossed (the pipeline's condition).
    """
    import json

    from quizops.monitoring import run_monitoring_stage
    from quizops.monitoring.stage import MonitoringConfig

    result = run_monitoring_stage(
        config=MonitoringConfig(
            decisions_uri=decisions_uri,
            statistics_store_uri=statistics_store_uri,
            span=span,
            outcomes_uri=outcomes_uri,
            drift_linf_threshold=drift_linf_threshold,
            drift_js_threshold=drift_js_threshold,
            skew_linf_threshold=skew_linf_threshold,
            skew_js_threshold=skew_js_threshold,
            min_decisions=min_decisions,
            min_outcome_correct_rate=min_outcome_correct_rate,
            training_source_uri=training_source_uri,
        ),
        report_path=report.path,
        action=on_threshold,
    )
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    with open(metrics.path, "w") as handle:
        json.dump(result.metrics, handle, sort_keys=True)
    with open(verdict.path, "w") as handle:
        json.dump(
            {"span": result.span, "crossed": result.crossed, "reasons": list(result.reasons)},
            handle,
        )
    return result.crossed
