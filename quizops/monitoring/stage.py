"""The monitoring stage: the newest span of serving decisions against the training baseline.

Three kinds of checks, each against a threshold, on the newest span of decision logs:

- **skew**: the served items and propensities against the training baseline (the statistics
  store's latest span): L-infinity distance of ``item_id`` (TFDV's comparator, as in the data
  gate) and quantile-histogram Jensen-Shannon divergence of ``propensity``;
- **drift**: the same two measures against the previous span of decisions;
- **live decision quality**, when outcomes are given (a de-identified canonical table whose
  ``student_id`` is the same HMAC pseudonym the predictor logs): the share of served decisions
  whose answer arrived, and the correctness of the answers to served items, against a floor;
  plus the share of decisions made at the exploration floor (a policy that degenerates to
  uniform choice shows here first).

When a threshold is crossed, the stage says so (``crossed``) and the pipeline starts a training
run on the new span, or only reports, as configured. No data value is logged or reported:
counts, distances and rates only; counts describing fewer than 10 students are suppressed.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quizops import storage
from quizops.errors import InputDataError
from quizops.monitoring.decisions import newest_and_previous
from quizops.privacy import suppress_small_cells

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitoringConfig:
    """Parameters of one monitoring run.

    Attributes:
        decisions_uri: The predictor's decision logs (local folder or gs://).
        statistics_store_uri: The statistics store the training runs write (the baseline).
        span: The decision span to check (``""`` = the newest).
        outcomes_uri: De-identified canonical table with the answers that followed (``""`` =
            live quality not measured).
        drift_linf_threshold: L-infinity drift of served items vs the previous span.
        drift_js_threshold: Jensen-Shannon drift of propensities vs the previous span.
        skew_linf_threshold: L-infinity skew of served items vs the training baseline.
        skew_js_threshold: Jensen-Shannon skew of propensities vs the training baseline.
        min_decisions: Fewer decisions than this are too few to measure.
        min_outcome_correct_rate: Floor of the correctness of answers to served items
            (0 = not gated).
        training_source_uri: Source URI of the training data: its baseline in the statistics
            store (baselines are kept per source; ``""`` = the store root).
    """

    decisions_uri: str
    statistics_store_uri: str = ""
    span: str = ""
    outcomes_uri: str = ""
    drift_linf_threshold: float = 0.1
    drift_js_threshold: float = 0.1
    skew_linf_threshold: float = 0.1
    skew_js_threshold: float = 0.1
    min_decisions: int = 100
    min_outcome_correct_rate: float = 0.0
    training_source_uri: str = ""


@dataclass(frozen=True)
class MonitoringResult:
    """What one monitoring run found.

    Attributes:
        span: The decision span checked (``""`` = none found).
        previous_span: The decision span compared for drift (``""`` = none).
        baseline_span: The training span compared for skew (``""`` = none).
        decisions: Decisions in the span.
        crossed: Whether any threshold was crossed.
        reasons: One line per crossed threshold (names and values, no data).
        measures: ``kind:feature:type`` -> value and threshold.
        metrics: Metric name -> value.
        notes: What could not be measured and why.
        report: The Markdown report.
    """

    span: str
    previous_span: str
    baseline_span: str
    decisions: int
    crossed: bool
    reasons: tuple[str, ...]
    measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    report: str = ""


def _read_decisions(decisions_uri: str, span: str) -> pd.DataFrame | None:
    from quizops.validation.serving import _read_one

    files = [
        f
        for f in storage.list_files(decisions_uri)
        if f.endswith((".jsonl", ".json", ".csv", ".parquet")) and span in f.rsplit("/", 1)[-1]
    ]
    frames = [_read_one(f) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return None
    merged = pd.concat(frames, ignore_index=True)
    if "item_id" not in merged.columns:
        raise InputDataError(f"{decisions_uri}: decision logs of span {span} lack 'item_id'")
    return merged


def _serving_frame(decisions: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"item_id": decisions["item_id"].astype(str)})
    propensity = decisions["propensity"] if "propensity" in decisions.columns else float("nan")
    out["propensity"] = pd.to_numeric(pd.Series(propensity, index=decisions.index), errors="coerce")
    return out


def _live_quality(decisions: pd.DataFrame, outcomes_uri: str, notes: list[str]) -> dict[str, float]:
    """Share of served decisions with an answer, and the correctness of those answers."""
    from quizops.validation.statistics import read_table

    metrics: dict[str, float] = {}
    if "propensity" in decisions.columns and len(decisions):
        propensity = pd.to_numeric(decisions["propensity"], errors="coerce")
        floor = propensity.min()
        metrics["quality_share_at_exploration_floor"] = float((propensity <= floor * 1.01).mean())
        metrics["quality_mean_propensity"] = float(propensity.mean())
    if not outcomes_uri:
        notes.append("no outcomes given: live decision quality not measured")
        return metrics
    if "student_pseudonym" not in decisions.columns:
        notes.append("decision logs carry no student pseudonyms: outcomes cannot be joined")
        return metrics
    answers = read_table(outcomes_uri).to_pandas()
    for column in ("student_id", "item_id", "correct"):
        if column not in answers.columns:
            raise InputDataError(f"{outcomes_uri}: outcomes lack the column '{column}'")
    served = decisions[["student_pseudonym", "item_id"]].astype(str).drop_duplicates()
    served.columns = ["student_id", "item_id"]
    answers = answers[["student_id", "item_id", "correct"]].astype(
        {"student_id": str, "item_id": str}
    )
    joined = served.merge(answers, on=["student_id", "item_id"], how="inner")
    students = int(joined["student_id"].nunique())
    metrics["quality_served_with_outcome_share"] = float(
        joined[["student_id", "item_id"]].drop_duplicates().shape[0] / max(len(served), 1)
    )
    shown = suppress_small_cells([{"students": students, "rate": 0.0}], ["rate"])
    if shown[0].get("suppressed"):
        notes.append("outcomes of fewer than 10 students: correctness not reported")
        return metrics
    metrics["quality_outcome_students"] = float(students)
    metrics["quality_served_correct_rate"] = float(pd.to_numeric(joined["correct"]).mean())
    return metrics


def evaluate_span(config: MonitoringConfig) -> MonitoringResult:
    """Computes every monitoring measure of the newest (or given) decision span.

    Args:
        config: The parameters.

    Returns:
        The result (nothing written).

    Raises:
        InputDataError: A decision log or the outcomes cannot be read.
    """
    import tensorflow_data_validation as tfdv

    from quizops.validation import schema as schema_lib
    from quizops.validation import statistics as stats_lib
    from quizops.validation.gate import _measures, _numeric_comparisons
    from quizops.validation.store import latest_source, open_store

    notes: list[str] = []
    span, previous_span = newest_and_previous(config.decisions_uri, config.span)
    if not span:
        notes.append("no decision logs to monitor")
        return MonitoringResult("", "", "", 0, False, (), notes=tuple(notes))
    decisions = _read_decisions(config.decisions_uri, span)
    count = 0 if decisions is None else len(decisions)
    if decisions is None or count < config.min_decisions:
        notes.append(f"only {count} decision(s) in span {span}: too few to measure")
        return MonitoringResult(span, previous_span, "", count, False, (), notes=tuple(notes))
    curated = schema_lib.load_schema()
    schema = schema_lib.with_comparators(
        curated,
        config.drift_js_threshold,
        config.drift_linf_threshold,
        config.skew_linf_threshold,
        config.skew_js_threshold,
    )
    current = stats_lib.generate_statistics(_serving_frame(decisions), schema=curated)
    measures: dict[str, dict[str, Any]] = {}
    if previous_span:
        before = _read_decisions(config.decisions_uri, previous_span)
        if before is not None and len(before) >= config.min_decisions:
            previous = stats_lib.generate_statistics(_serving_frame(before), schema=curated)
            anomalies = tfdv.validate_statistics(
                current, schema, environment=schema_lib.SERVING, previous_statistics=previous
            )
            measures.update(_measures(anomalies))
            more, _ = _numeric_comparisons(
                "drift", current, previous, ["propensity"], config.drift_js_threshold, "previous"
            )
            measures.update(more)
        else:
            notes.append(f"previous span {previous_span} has too few decisions: no drift")
            previous_span = ""
    else:
        notes.append("no previous decision span: drift not measured")
    store = open_store(
        config.statistics_store_uri,
        config.training_source_uri or latest_source(config.statistics_store_uri),
    )
    baseline = store.previous("", "") if store else None
    baseline_span = baseline.span if baseline else ""
    if baseline is not None:
        anomalies = tfdv.validate_statistics(
            baseline.statistics,
            schema,
            environment=schema_lib.TRAINING,
            serving_statistics=current,
        )
        measures.update({k: v for k, v in _measures(anomalies).items() if v["kind"] == "skew"})
        more, _ = _numeric_comparisons(
            "skew",
            baseline.statistics,
            current,
            ["propensity"],
            config.skew_js_threshold,
            "serving",
        )
        measures.update(more)
    else:
        notes.append("no training baseline in the statistics store: skew not measured")
    metrics = {"decisions": float(count)}
    for m in measures.values():
        metrics[f"{m['kind']}_{m['feature']}_{m['type']}"] = m["value"]
    metrics.update(_live_quality(decisions, config.outcomes_uri, notes))
    reasons = [
        f"{m['kind']} of {m['feature']} ({m['type']}) {m['value']:.4f} > {m['threshold']:g}"
        for m in measures.values()
        if m["threshold"] is not None and m["value"] > m["threshold"]
    ]
    rate = metrics.get("quality_served_correct_rate")
    if config.min_outcome_correct_rate > 0 and rate is not None:
        if rate < config.min_outcome_correct_rate:
            reasons.append(
                f"served-item correctness {rate:.4f} < {config.min_outcome_correct_rate:g}"
            )
    return MonitoringResult(
        span=span,
        previous_span=previous_span,
        baseline_span=baseline_span,
        decisions=count,
        crossed=bool(reasons),
        reasons=tuple(reasons),
        measures=measures,
        metrics=metrics,
        notes=tuple(notes),
    )


def render_report(result: MonitoringResult, action: str) -> str:
    """The monitoring report as Markdown.

    Args:
        result: The result.
        action: What the pipeline does when a threshold is crossed (``retrain`` or ``report``).

    Returns:
        The Markdown.
    """
    verdict = "THRESHOLD CROSSED" if result.crossed else "within thresholds"
    lines = [
        f"# Monitoring, decision span {result.span or 'none'}: {verdict}",
        "",
        f"- decisions: {result.decisions:,}",
        f"- drift compared with decision span: {result.previous_span or 'none'}",
        f"- skew compared with training span: {result.baseline_span or 'none'}",
        f"- on a crossed threshold: {action}",
    ]
    if result.reasons:
        lines += ["", "Crossed:", ""] + [f"- {r}" for r in result.reasons]
    if result.measures:
        lines += ["", "| check | feature | measure | value | threshold |", "|---|---|---|---|---|"]
        for m in sorted(result.measures.values(), key=lambda m: (m["kind"], m["feature"])):
            threshold = "reference" if m["threshold"] is None else f"{m['threshold']:g}"
            lines.append(
                f"| {m['kind']} | {m['feature']} | {m['type']} | {m['value']:.4f} | {threshold} |"
            )
    quality = {k: v for k, v in result.metrics.items() if k.startswith("quality_")}
    if quality:
        lines += ["", "| live quality | value |", "|---|---|"]
        lines += [f"| {k.removeprefix('quality_')} | {v:.4f} |" for k, v in sorted(quality.items())]
    if result.notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def run_monitoring_stage(
    *, config: MonitoringConfig, report_path: str, action: str = "report"
) -> MonitoringResult:
    """The monitoring stage: measures the newest decision span and writes the report.

    Args:
        config: The parameters.
        report_path: Where the Markdown report goes.
        action: ``retrain`` or ``report`` (what the pipeline does on a crossed threshold;
            recorded in the report).

    Returns:
        The result, its report included.

    Raises:
        InputDataError: Unreadable decision logs or outcomes, or an unknown action.
    """
    if action not in ("retrain", "report"):
        raise InputDataError(f"on_threshold must be 'retrain' or 'report', got '{action[:20]}'")
    result = evaluate_span(config)
    report = render_report(result, action)
    storage.write_bytes(report_path, report.encode())
    for reason in result.reasons:
        logger.warning("monitoring: %s", reason)
    logger.info(
        "monitoring span %s: %d decisions, %s",
        result.span or "none",
        result.decisions,
        "threshold crossed" if result.crossed else "within thresholds",
    )
    return dataclasses.replace(result, report=report)
