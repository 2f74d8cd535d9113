"""The monitoring pipeline: the newest span of serving decisions against the training baseline;
over a threshold it starts a training run on that span, or only reports.

Compiles to compiled/monitoring.yaml; runs locally with ``make monitor``. Never cached (the
newest span moves; starting a run is a side effect).
"""

from kfp import dsl

from components.monitor_serving.component import monitor_serving
from components.start_retraining.component import start_retraining
from pipelines.task_policies import apply_policy

PIPELINE_NAME = "quizops-monitoring"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Drift, skew and live quality of serving decisions; retrains when crossed.",
)
def monitoring_pipeline(
    decisions_uri: str,
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
    kfp_host: str = "",
    training_experiment: str = "quizops",
    training_arguments: dict = {},  # noqa: B006 - KFP needs a literal default
    training_source_uri: str = "",
) -> None:
    """Monitors the served policy and starts retraining when a threshold is crossed.

    Args:
        decisions_uri: The predictor's decision logs (gs:// prefix or local folder).
        statistics_store_uri: Statistics store of the training runs: the skew baseline.
        span: The decision span to check, e.g. 2026-11-23; empty checks the newest.
        outcomes_uri: De-identified canonical table holding the answers that followed the
            decisions (joined by pseudonym); empty skips live decision quality.
        drift_linf_threshold: L-infinity distance above which served items drifted from the
            previous span.
        drift_js_threshold: Jensen-Shannon divergence above which propensities drifted.
        skew_linf_threshold: L-infinity distance above which served items are skewed against
            the training data.
        skew_js_threshold: Jensen-Shannon divergence above which propensities are skewed.
        min_decisions: Fewer decisions than this are too few to measure.
        min_outcome_correct_rate: Floor of the correctness of answers to served items; 0
            turns the check off.
        on_threshold: retrain (start a training run on the span) or report (only report).
        kfp_host: The KFP API the training run is started on; empty means the in-cluster
            service (http://ml-pipeline.kubeflow.svc.cluster.local:8888); make monitor passes
            local and starts the run itself.
        training_experiment: Experiment of the started training run.
        training_arguments: Arguments of the started training run (its span is set to the
            monitored span).
        training_source_uri: Source URI of the training data, whose statistics are the skew
            baseline (baselines are kept per source); empty uses the store root.
    """
    monitor = apply_policy(
        monitor_serving(
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
            on_threshold=on_threshold,
            training_source_uri=training_source_uri,
        ),
        "monitor-serving",
        "Monitor the served decisions",
    )
    with dsl.If(monitor.outputs["Output"] == True, name="If a threshold is crossed"):  # noqa: E712
        with dsl.If(on_threshold == "retrain", name="If retraining is on"):
            apply_policy(
                start_retraining(
                    verdict=monitor.outputs["verdict"],
                    kfp_host=kfp_host,
                    experiment=training_experiment,
                    training_arguments=training_arguments,
                ),
                "start-retraining",
                "Start a training run",
            )
