"""The data-validation gate: one call computes every check, then passes or fails the span.

:func:`run_validation_stage` reads the de-identified canonical table, computes TFDV statistics,
validates them against the curated schema (TRAINING environment), measures drift against the
previous span from the statistics store and skew against the serving decision logs, runs the
domain checks, and then either raises :class:`~quizops.errors.ValidationFailedError` listing
every error (writing nothing) or writes every output and stores the statistics.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from quizops import storage
from quizops.errors import ValidationFailedError
from quizops.validation import schema as schema_lib
from quizops.validation import statistics as stats_lib
from quizops.validation.domain import DomainCheckConfig, check_table
from quizops.validation.drift import numeric_divergences
from quizops.validation.findings import ERROR, WARNING, Finding
from quizops.validation.report import (
    MIN_CELL_STUDENTS,
    finding_lines,
    render_html,
    render_markdown,
)
from quizops.validation.serving import read_decisions
from quizops.validation.store import accept_baseline_hint, open_store

logger = logging.getLogger(__name__)

_MEASURE_NAMES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "linf",
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE: "js",
}


@dataclass
class ValidationConfig:
    """Parameters of one validation run.

    Attributes:
        statistics_store_uri: Statistics store (``""`` = no drift baseline, nothing stored).
        decisions_uri: Serving decision logs (``""`` = no skew).
        drift_js_threshold: Jensen-Shannon threshold for numeric drift.
        drift_linf_threshold: L-infinity threshold for categorical drift.
        skew_linf_threshold: L-infinity threshold for categorical skew.
        skew_js_threshold: Jensen-Shannon threshold for numeric skew.
        beam_pipeline_args: Beam options for the statistics (empty = in process).
        span: This span (``""`` = unspanned).
        previous_span: The previous span as ingest reported it (``""`` = ask the store).
        schema_path: Schema to validate against (``None`` = the curated one).
        domain: Domain-check thresholds.
        min_serving_decisions: Fewer decisions than this are too few to measure skew (the
            L-infinity distance of a handful of decisions over a large item bank is noise).
        source: The data set's identity (its source URI): drift baselines are kept per source,
            so another data set run in the same home is never compared with this one
            (``""`` = the store root, one baseline for everything).
    """

    statistics_store_uri: str = ""
    decisions_uri: str = ""
    drift_js_threshold: float = 0.1
    drift_linf_threshold: float = 0.1
    skew_linf_threshold: float = 0.1
    skew_js_threshold: float = 0.1
    beam_pipeline_args: Sequence[str] = ()
    span: str = ""
    previous_span: str = ""
    schema_path: str | None = None
    domain: DomainCheckConfig = field(default_factory=DomainCheckConfig)
    min_serving_decisions: int = 100
    source: str = ""


@dataclass
class ValidationOutcome:
    """Everything one run computed (in memory; nothing written yet).

    Attributes:
        profile: Rows and distinct students, items, skills of the table.
        statistics: Its statistics.
        schema: The schema used (curated + this run's comparators).
        anomalies: TFDV's anomalies of the TRAINING statistics.
        findings: Every finding (TFDV, drift, skew, serving, domain).
        measures: Drift/skew values: ``"drift:item_id:linf" -> {kind, feature, type, value,
            threshold}``.
        baseline: The previous span's statistics, if any.
        baseline_span: Its span key.
        notes: Human-readable notes for the summary.
        serving_decisions: Serving decisions compared for skew (0 when skew was not measured).
    """

    profile: dict[str, int]
    statistics: statistics_pb2.DatasetFeatureStatisticsList
    schema: Any
    anomalies: anomalies_pb2.Anomalies
    findings: list[Finding]
    measures: dict[str, dict[str, Any]]
    baseline: statistics_pb2.DatasetFeatureStatisticsList | None
    baseline_span: str
    notes: list[str]
    serving_decisions: int = 0

    @property
    def errors(self) -> list[Finding]:
        """Findings that fail the gate."""
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def passed(self) -> bool:
        """Whether the gate passes."""
        return not self.errors


def _anomaly_findings(anomalies: anomalies_pb2.Anomalies, check: str) -> list[Finding]:
    """Converts TFDV anomalies to findings, telling drift and skew reasons apart.

    Args:
        anomalies: TFDV's anomalies.
        check: Name for non-comparator reasons (``tfdv`` or ``serving``).

    Returns:
        Findings.
    """
    findings = []
    severity = {
        anomalies_pb2.AnomalyInfo.ERROR: ERROR,
        anomalies_pb2.AnomalyInfo.WARNING: WARNING,
    }
    for feature, info in sorted(anomalies.anomaly_info.items()):
        for reason in info.reason:
            text = reason.short_description.lower()
            kind = "drift" if "previous" in text else "skew" if "serving" in text else check
            findings.append(
                Finding(kind, feature, severity.get(info.severity, ERROR), reason.description)
            )
    if anomalies.HasField("dataset_anomaly_info"):
        for reason in anomalies.dataset_anomaly_info.reason:
            findings.append(Finding(check, "", ERROR, reason.description))
    return findings


def _measures(anomalies: anomalies_pb2.Anomalies) -> dict[str, dict[str, Any]]:
    """Collects every drift and skew value TFDV computed (fired or not).

    TFDV's numeric Jensen-Shannon values are kept as ``js_tfdv`` references without a
    threshold: the gate uses :mod:`quizops.validation.drift` for numeric features.

    Args:
        anomalies: TFDV's anomalies.

    Returns:
        ``"kind:feature:type"`` -> kind, feature, type, value, threshold (None: reference only).
    """
    out: dict[str, dict[str, Any]] = {}
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        for kind, measurements in (
            ("drift", info.drift_measurements),
            ("skew", info.skew_measurements),
        ):
            for m in measurements:
                kind_name = _MEASURE_NAMES.get(m.type, str(m.type))
                reference = kind_name == "js"
                kind_name = "js_tfdv" if reference else kind_name
                out[f"{kind}:{feature}:{kind_name}"] = {
                    "kind": kind,
                    "feature": feature,
                    "type": kind_name,
                    "value": float(m.value),
                    "threshold": None if reference else float(m.threshold),
                }
    return out


def _numeric_comparisons(
    kind: str,
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    other: statistics_pb2.DatasetFeatureStatisticsList,
    features: Sequence[str],
    threshold: float,
    against: str,
) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    """Quantile-histogram Jensen-Shannon drift or skew of numeric features.

    Args:
        kind: ``drift`` or ``skew``.
        statistics: This span's statistics.
        other: The previous span's or the serving statistics.
        features: Numeric features to compare.
        threshold: Divergence above which the gate fails.
        against: Words naming the other side, for descriptions.

    Returns:
        Measures and findings.
    """
    measures: dict[str, dict[str, Any]] = {}
    findings = []
    for feature, value in numeric_divergences(statistics, other, list(features)).items():
        measures[f"{kind}:{feature}:js"] = {
            "kind": kind,
            "feature": feature,
            "type": "js",
            "value": value,
            "threshold": threshold,
        }
        if value > threshold:
            findings.append(
                Finding(
                    kind,
                    feature,
                    ERROR,
                    f"Jensen-Shannon divergence {value:.4f} against {against} (quantile "
                    f"histograms) is above the threshold {threshold:g}",
                )
            )
    return measures, findings


def evaluate(
    data_path: str, config: ValidationConfig, parquet_uri: str | None = None
) -> ValidationOutcome:
    """Computes statistics, anomalies, drift, skew and domain findings (writes nothing).

    Args:
        data_path: The table (Parquet; local path or gs:// URI).
        config: Run parameters.
        parquet_uri: The table's URI for Beam runners (defaults to ``data_path``).

    Returns:
        The outcome.
    """
    notes: list[str] = []
    table = stats_lib.read_table(data_path)
    curated = schema_lib.load_schema(config.schema_path)
    statistics = stats_lib.generate_statistics(
        table, parquet_uri or data_path, config.beam_pipeline_args, curated
    )
    schema = schema_lib.with_comparators(
        curated,
        config.drift_js_threshold,
        config.drift_linf_threshold,
        config.skew_linf_threshold,
        config.skew_js_threshold,
    )
    store = open_store(config.statistics_store_uri, config.source)
    baseline = store.previous(config.span, config.previous_span) if store else None
    if baseline is None:
        notes.append("no previous span in the statistics store: drift not measured")
    else:
        notes.append(f"drift measured against span '{baseline.span}'")
    serving_frame = read_decisions(config.decisions_uri, config.span)
    serving_stats = None
    findings: list[Finding] = []
    if serving_frame is None:
        notes.append("no serving decision logs for this span: skew not measured")
    elif len(serving_frame) < config.min_serving_decisions:
        notes.append(
            f"only {len(serving_frame)} serving decision(s) for this span (fewer than "
            f"{config.min_serving_decisions}): skew not measured"
        )
    else:
        serving_stats = stats_lib.generate_statistics(serving_frame, schema=curated)
        findings += _anomaly_findings(
            tfdv.validate_statistics(serving_stats, schema, environment=schema_lib.SERVING),
            "serving",
        )
        notes.append(f"skew measured against {len(serving_frame):,} serving decisions")
    anomalies = tfdv.validate_statistics(
        statistics,
        schema,
        environment=schema_lib.TRAINING,
        previous_statistics=baseline.statistics if baseline else None,
        serving_statistics=serving_stats,
    )
    findings = _anomaly_findings(anomalies, "tfdv") + findings
    measures = _measures(anomalies)
    if baseline is not None:
        more, drifted = _numeric_comparisons(
            "drift",
            statistics,
            baseline.statistics,
            schema_lib.DRIFT_NUMERIC,
            config.drift_js_threshold,
            f"span '{baseline.span}'",
        )
        measures.update(more)
        findings += drifted
    if serving_stats is not None:
        numeric_skew = [f for f, k in schema_lib.SKEW_COMPARATORS.items() if k == "js"]
        more, skewed = _numeric_comparisons(
            "skew", statistics, serving_stats, numeric_skew, config.skew_js_threshold, "serving"
        )
        measures.update(more)
        findings += skewed
    domain_findings, table_profile = check_table(table, config.domain)
    return ValidationOutcome(
        table_profile,
        statistics,
        schema,
        anomalies,
        findings + domain_findings,
        measures,
        baseline.statistics if baseline else None,
        baseline.span if baseline else "",
        notes,
        0 if serving_stats is None or serving_frame is None else len(serving_frame),
    )


def anomalies_with_findings(outcome: ValidationOutcome) -> anomalies_pb2.Anomalies:
    """Returns TFDV's anomalies with the domain and serving findings added as anomaly infos.

    Keeps one standard artifact (the TFX ``Anomalies`` proto) for every finding. Domain
    findings are keyed by their column (``__table__`` for table-wide ones); counts describing
    fewer than 10 students are suppressed as in every other table.

    Args:
        outcome: The outcome.

    Returns:
        A new Anomalies proto.
    """
    out = anomalies_pb2.Anomalies()
    out.CopyFrom(outcome.anomalies)
    extra = [f for f in outcome.findings if f.check not in ("tfdv", "drift", "skew")]
    for finding, line in zip(extra, finding_lines(extra), strict=True):
        key = f"{finding.check}:{finding.feature or '__table__'}"
        info = out.anomaly_info[key]
        info.path.step.append(finding.feature or "__table__")
        info.severity = (
            anomalies_pb2.AnomalyInfo.ERROR
            if finding.severity == ERROR
            else anomalies_pb2.AnomalyInfo.WARNING
        )
        reason = info.reason.add()
        reason.type = anomalies_pb2.AnomalyInfo.UNKNOWN_TYPE
        reason.short_description = finding.check
        reason.description = line
        info.description = line
        info.short_description = finding.check
    return out


def outcome_metrics(outcome: ValidationOutcome) -> dict[str, float]:
    """Numbers logged as KFP metrics on every run (drift and skew included when measured).

    Args:
        outcome: The outcome.

    Returns:
        Metric name -> value (the student count only when it is not a small cell).
    """
    metrics: dict[str, float] = {
        "rows": float(outcome.profile["rows"]),
        "num_examples": float(outcome.statistics.datasets[0].num_examples),
        "anomalies_errors": float(len(outcome.errors)),
        "anomalies_warnings": float(sum(f.severity == WARNING for f in outcome.findings)),
        "drift_baseline_available": float(outcome.baseline is not None),
        "skew_serving_decisions": float(outcome.serving_decisions),
    }
    for name in ("students", "items", "skills"):
        value = outcome.profile.get(name)
        if value is not None and (name != "students" or value >= MIN_CELL_STUDENTS):
            metrics[name] = float(value)
    for m in outcome.measures.values():
        metrics[f"{m['kind']}_{m['feature']}_{m['type']}"] = m["value"]
    return metrics


def _overview(outcome: ValidationOutcome) -> dict[str, Any]:
    overview: dict[str, Any] = dict(outcome.profile)
    if "students" in overview and overview["students"] < MIN_CELL_STUDENTS:
        overview["students"] = None
    overview["baseline span"] = outcome.baseline_span or "none"
    return overview


@dataclass(frozen=True)
class OutputPaths:
    """Local paths of the stage's output artifacts.

    Attributes:
        validated: Copy of the table that passed.
        statistics: Binary statistics.
        schema: Text schema actually used.
        anomalies: Text anomalies proto.
        report: HTML view.
        summary: Markdown summary.
    """

    validated: str
    statistics: str
    schema: str
    anomalies: str
    report: str
    summary: str


@dataclass(frozen=True)
class ValidationStageResult:
    """What the validation stage decided and wrote.

    Attributes:
        span: The span validated (``""`` = unspanned).
        previous_span: The span compared against for drift (``""`` = none).
        metrics: The metrics (drift and skew values included whenever measured).
        warnings: Finding lines that did not fail the gate (no data values).
    """

    span: str
    previous_span: str
    metrics: dict[str, float]
    warnings: tuple[str, ...] = ()


def run_validation_stage(
    *,
    data_path: str,
    outputs: OutputPaths,
    config: ValidationConfig,
    data_uri: str = "",
    data_metadata: dict[str, Any] | None = None,
) -> ValidationStageResult:
    """Runs the gate on one table and writes the outputs if it passes.

    The caller's ``config`` is not changed: the span and previous span taken from the input's
    metadata go into a copy.

    Args:
        data_path: Local path (or gs:// URI) of the de-identified canonical Parquet table.
        outputs: Where the outputs go.
        config: Run parameters.
        data_uri: The table's remote URI (gs://), used by remote Beam runners.
        data_metadata: The input artifact's metadata; its ``span`` and ``previous_span`` fill
            the config's when those are empty (the PII stage forwards ingest's manifest fields).

    Returns:
        The result.

    Raises:
        InputDataError: The table cannot be read.
        ValidationFailedError: Any error finding; the message lists every finding and no
            output is written.
    """
    metadata = data_metadata or {}
    filled: dict[str, Any] = {}
    if not config.span and metadata.get("span"):
        filled["span"] = str(metadata["span"])
    if not config.previous_span and metadata.get("previous_span"):
        filled["previous_span"] = str(metadata["previous_span"])
    config = dataclasses.replace(config, **filled) if filled else config
    remote = bool(config.beam_pipeline_args) and data_uri.startswith("gs://")
    outcome = evaluate(data_path, config, data_uri if remote else data_path)
    lines = finding_lines(outcome.findings)
    if not outcome.passed:
        if config.statistics_store_uri and any(
            f.check == "drift" and f.severity == ERROR for f in outcome.findings
        ):
            lines.append(
                "[hint] "
                + accept_baseline_hint(
                    config.statistics_store_uri, config.source, data_uri or data_path, config.span
                )
            )
        raise ValidationFailedError(
            f"data validation failed with {len(outcome.errors)} error(s) "
            f"({len(outcome.findings)} finding(s)):\n" + "\n".join(lines)
        )
    for line in lines:
        logger.warning("%s", line)
    title = f"Data validation, span {config.span or 'unspanned'}"
    summary = render_markdown(
        title, True, _overview(outcome), outcome.findings, outcome.measures, outcome.notes
    )
    page = render_html(
        title,
        outcome.statistics,
        outcome.baseline,
        outcome.findings,
        outcome.measures,
        f"span {outcome.baseline_span}" if outcome.baseline_span else "previous span",
    )
    storage.write_bytes(outputs.validated, storage.read_bytes(data_path))
    stats_lib.write_statistics(outcome.statistics, outputs.statistics)
    storage.write_bytes(outputs.schema, schema_lib.schema_text(outcome.schema).encode())
    storage.write_bytes(outputs.anomalies, str(anomalies_with_findings(outcome)).encode())
    storage.write_bytes(outputs.report, page.encode())
    storage.write_bytes(outputs.summary, summary.encode())
    store = open_store(config.statistics_store_uri, config.source)
    if store is not None:
        store.write(config.span, outcome.statistics)
    return ValidationStageResult(
        span=config.span,
        previous_span=outcome.baseline_span,
        metrics=outcome_metrics(outcome),
        warnings=tuple(lines),
    )


def validate_data(
    data_path: str,
    outputs: OutputPaths,
    config: ValidationConfig,
    data_uri: str = "",
    data_metadata: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Positional form of :func:`run_validation_stage` returning only the metrics.

    Args:
        data_path: Local path (or gs:// URI) of the de-identified canonical Parquet table.
        outputs: Where the outputs go.
        config: Run parameters (not changed).
        data_uri: The table's remote URI (gs://), used by remote Beam runners.
        data_metadata: The input artifact's metadata (span and previous span).

    Returns:
        The metrics (drift and skew values included whenever measured).

    Raises:
        InputDataError: The table cannot be read.
        ValidationFailedError: Any error finding; no output is written.
    """
    return dict(
        run_validation_stage(
            data_path=data_path,
            outputs=outputs,
            config=config,
            data_uri=data_uri,
            data_metadata=data_metadata,
        ).metrics
    )
