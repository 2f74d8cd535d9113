"""The HTML view (findings, drift, inline statistics) and the Markdown summary of a validation run.

The HTML page is self-contained: it renders with no network access (clusters of school
districts usually have none). Statistics are inline tables and inline SVG plots per feature:
counts, missing share, numeric summary and distribution (this span's quantile histogram, with
the baseline's drawn over it), and the top values of columns that do not identify anyone
(identifier and free-text columns show none, and say so). An empty section says why ("first
span: no previous statistics"). TFDV's Facets view, which loads its code from a public CDN, is
an option (``facets=True``).

Tables here pass through small-cell suppression: a row describing fewer than 10 students shows
``<10`` instead of its counts (``quizops.privacy.suppress_small_cells``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tensorflow_metadata.proto.v0 import statistics_pb2

from quizops.validation.findings import Finding
from quizops.validation.statistics import IDENTIFYING_FEATURES

#: Top values shown per string feature.
TOP_VALUES_SHOWN = 10
_SVG_WIDTH, _SVG_HEIGHT = 320, 90

try:  # the PII stage's helper (issue 3); a local fallback keeps this module self-contained
    from quizops.privacy import MIN_CELL_STUDENTS, suppress_small_cells
except ImportError:  # pragma: no cover - only before quizops.privacy exists
    MIN_CELL_STUDENTS = 10

    def suppress_small_cells(  # type: ignore[misc]
        rows: Sequence[dict[str, Any]],
        value_keys: Sequence[str],
        students_key: str = "students",
        threshold: int = MIN_CELL_STUDENTS,
        secondary: bool = True,
    ) -> list[dict[str, Any]]:
        """Hides counts of rows describing fewer than ``threshold`` students (fallback)."""
        out = []
        for row in rows:
            row = dict(row)
            small = 0 < int(row.get(students_key) or 0) < threshold
            row["suppressed"] = small
            if small:
                row[students_key] = None
                for key in value_keys:
                    row[key] = None
            out.append(row)
        return out


def finding_rows(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Turns findings into table rows with small cells suppressed.

    Args:
        findings: The findings.

    Returns:
        Rows (dicts) whose ``rows``/``students`` are None where suppressed.
    """
    return suppress_small_cells(
        [f.to_dict() for f in findings],
        value_keys=["rows"],
        students_key="students",
        secondary=False,
    )


def _cell(value: Any) -> str:
    """Formats a count cell (suppressed cells read ``<10``, zero reads ``-``).

    Args:
        value: The value.

    Returns:
        The text.
    """
    if value is None:
        return f"<{MIN_CELL_STUDENTS}"
    if value == 0:
        return "-"
    return f"{value:,}" if isinstance(value, int) else str(value)


#: The line a drift failure ends with: how to accept the new data as the baseline.
DRIFT_HINT = (
    "[hint] drift: if the change is expected (a new course, a new data set), accept this data "
    "as the new drift baseline of its source: python -m quizops.validation.store "
    "accept-baseline --statistics-store STORE --source SOURCE_URI --data DEIDENTIFIED.parquet "
    "[--span SPAN] (validation environment), then run again; baselines are kept per source, so "
    "another data set is never compared with this one"
)


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    """Formats findings one per line, counts suppressed (for error messages and logs).

    A drift error adds :data:`DRIFT_HINT` as a last line.

    Args:
        findings: The findings.

    Returns:
        The lines.
    """
    lines = []
    for row in finding_rows(findings):
        where = f"{row['feature']}: " if row["feature"] else ""
        counts = []
        if row["rows"] != 0:
            counts.append(f"rows {_cell(row['rows'])}")
        if row["students"] != 0:
            counts.append(f"students {_cell(row['students'])}")
        suffix = f" ({', '.join(counts)})" if counts else ""
        lines.append(f"[{row['severity']}] {row['check']}: {where}{row['description']}{suffix}")
    if any(f.check == "drift" and f.severity == "error" for f in findings):
        lines.append(DRIFT_HINT)
    return lines


def _measure_rows(measures: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """Formats drift/skew measurements as table rows.

    Args:
        measures: ``"kind:feature:type"`` -> kind, feature, type, value, threshold (None for
            reference values that do not gate).

    Returns:
        Rows of (kind, feature, measure, value / threshold, verdict).
    """
    rows = []
    for _, m in sorted(measures.items()):
        if m["threshold"] is None:
            value, verdict = f"{m['value']:.4f}", "reference"
        else:
            value = f"{m['value']:.4f} / {m['threshold']:g}"
            verdict = "FIRES" if m["value"] > m["threshold"] else "ok"
        rows.append((str(m["kind"]), str(m["feature"]), str(m["type"]), value, verdict))
    return rows


def render_markdown(
    title: str,
    passed: bool,
    overview: dict[str, Any],
    findings: Sequence[Finding],
    measures: dict[str, dict[str, Any]],
    notes: Sequence[str] = (),
) -> str:
    """Renders the Markdown summary shown in the Kubeflow UI.

    Args:
        title: Heading.
        passed: Whether the gate passed.
        overview: Name -> value pairs of the table overview.
        findings: Every finding.
        measures: Drift and skew measurements.
        notes: Extra lines (baseline used, skew skipped, ...).

    Returns:
        Markdown text.
    """
    out = [f"# {title}", "", f"**Gate: {'PASSED' if passed else 'FAILED'}**", ""]
    out += ["| quantity | value |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in overview.items()]
    out += ["", "## Findings", ""]
    if findings:
        out += ["| severity | check | feature | description | rows | students |"]
        out += ["|---|---|---|---|---|---|"]
        for row in finding_rows(findings):
            description = str(row["description"]).replace("|", "\\|")
            out.append(
                f"| {row['severity']} | {row['check']} | {row['feature'] or '-'} | "
                f"{description} | {_cell(row['rows'])} | {_cell(row['students'])} |"
            )
    else:
        out.append("No anomaly.")
    out += ["", "## Drift and skew (recorded on every run)", ""]
    if measures:
        out += [
            "| kind | feature | measure | value / threshold | verdict |",
            "|---|---|---|---|---|",
        ]
        out += [f"| {' | '.join(r)} |" for r in _measure_rows(measures)]
    else:
        out.append("No baseline: drift and skew not measured.")
    if notes:
        out += ["", *[f"- {n}" for n in notes]]
    return "\n".join(out) + "\n"


def _feature_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    return ".".join(feature.path.step) if feature.path.step else feature.name


def _features(
    statistics: statistics_pb2.DatasetFeatureStatisticsList | None,
) -> dict[str, statistics_pb2.FeatureNameStatistics]:
    if statistics is None or not statistics.datasets:
        return {}
    return {_feature_name(f): f for f in statistics.datasets[0].features}


def _common(feature: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    if feature.HasField("num_stats"):
        return feature.num_stats.common_stats
    if feature.HasField("string_stats"):
        return feature.string_stats.common_stats
    if feature.HasField("bytes_stats"):
        return feature.bytes_stats.common_stats
    return statistics_pb2.CommonStatistics()


def _quantile_masses(
    feature: statistics_pb2.FeatureNameStatistics | None,
) -> list[tuple[float, float, float]]:
    """``(low, high, share)`` of the quantile histogram (standard histogram as a fallback)."""
    if feature is None or not feature.HasField("num_stats"):
        return []
    histograms = {h.type: h for h in feature.num_stats.histograms}
    chosen = histograms.get(statistics_pb2.Histogram.STANDARD) or histograms.get(
        statistics_pb2.Histogram.QUANTILES
    )
    if chosen is None:
        return []
    total = sum(b.sample_count for b in chosen.buckets)
    if total <= 0:
        return []
    return [(b.low_value, b.high_value, b.sample_count / total) for b in chosen.buckets]


def _histogram_svg(
    current: list[tuple[float, float, float]], baseline: list[tuple[float, float, float]]
) -> str:
    """An inline SVG: this span's histogram as bars, the baseline's as an outline."""
    lows = [b[0] for b in current + baseline]
    highs = [b[1] for b in current + baseline]
    low, high = min(lows), max(highs)
    span = (high - low) or 1.0

    def bars(buckets: list[tuple[float, float, float]], style: str) -> str:
        out = []
        widths = [max(b[1] - b[0], span / 200) for b in buckets]
        densities = [b[2] / w for b, w in zip(buckets, widths, strict=True)]
        top = max(densities) or 1.0
        for (b_low, _, _), width, density in zip(buckets, widths, densities, strict=True):
            x = (b_low - low) / span * _SVG_WIDTH
            w = max(width / span * _SVG_WIDTH, 1.0)
            h = density / top * (_SVG_HEIGHT - 12)
            out.append(
                f"<rect x='{x:.1f}' y='{_SVG_HEIGHT - 12 - h:.1f}' width='{w:.1f}' "
                f"height='{h:.1f}' {style}/>"
            )
        return "".join(out)

    base = bars(baseline, "fill='none' stroke='#d62728' stroke-width='1'") if baseline else ""
    this = bars(current, "fill='#1f77b4' opacity='0.7'")
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_SVG_WIDTH}' height='{_SVG_HEIGHT}' "
        f"role='img' aria-label='distribution'>{this}"
        f"{base}<text x='0' y='{_SVG_HEIGHT - 1}' font-size='10'>{low:.4g}</text>"
        f"<text x='{_SVG_WIDTH}' y='{_SVG_HEIGHT - 1}' font-size='10' text-anchor='end'>"
        f"{high:.4g}</text></svg>"
    )


def _top_values_svg(values: list[tuple[str, float]]) -> str:
    """An inline SVG bar chart of top values (labels escaped)."""
    row = 16
    height = row * len(values) + 4
    top = max((f for _, f in values), default=1.0) or 1.0
    parts = []
    for i, (value, frequency) in enumerate(values):
        label = value if len(value) <= 28 else value[:27] + "..."
        width = frequency / top * (_SVG_WIDTH - 200)
        y = i * row + 2
        parts.append(
            f"<text x='0' y='{y + 11}' font-size='10'>{html.escape(label)}</text>"
            f"<rect x='160' y='{y}' width='{width:.1f}' height='12' fill='#1f77b4'/>"
            f"<text x='{164 + width:.1f}' y='{y + 11}' font-size='10'>{frequency:,.0f}</text>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_SVG_WIDTH}' height='{height}' "
        f"role='img' aria-label='top values'>{''.join(parts)}</svg>"
    )


def _summary_rows(feature: statistics_pb2.FeatureNameStatistics) -> list[tuple[str, str]]:
    common = _common(feature)
    present, missing = int(common.num_non_missing), int(common.num_missing)
    total = present + missing
    rows = [
        ("values", f"{present:,}"),
        ("missing", f"{missing:,} ({missing / total:.1%})" if total else "0"),
    ]
    if feature.HasField("num_stats"):
        s = feature.num_stats
        rows += [
            ("mean", f"{s.mean:.4g}"),
            ("std dev", f"{s.std_dev:.4g}"),
            ("min", f"{s.min:.4g}"),
            ("median", f"{s.median:.4g}"),
            ("max", f"{s.max:.4g}"),
            ("zeros", f"{int(s.num_zeros):,}"),
        ]
    elif feature.HasField("string_stats"):
        s = feature.string_stats
        rows += [("distinct", f"{int(s.unique):,}"), ("mean length", f"{s.avg_length:.3g}")]
    return rows


def _feature_section(
    name: str,
    feature: statistics_pb2.FeatureNameStatistics,
    baseline: statistics_pb2.FeatureNameStatistics | None,
    baseline_note: str,
) -> str:
    kind = {0: "integer", 1: "float", 2: "string", 3: "bytes", 4: "struct"}.get(feature.type, "")
    table = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td>"
        + (
            f"<td>{html.escape(dict(_summary_rows(baseline)).get(k, '-'))}</td>"
            if baseline is not None
            else ""
        )
        + "</tr>"
        for k, v in _summary_rows(feature)
    )
    head = "<tr><th></th><th>this span</th>" + (
        "<th>baseline</th></tr>" if baseline is not None else "</tr>"
    )
    parts = [
        f"<section class='feature'><h3>{html.escape(name)} <small>{kind}</small></h3>",
        f"<table>{head}{table}</table>",
    ]
    if feature.HasField("num_stats"):
        current = _quantile_masses(feature)
        if current:
            parts.append(_histogram_svg(current, _quantile_masses(baseline)))
            parts.append(
                "<p class='legend'>bars: this span; red outline: baseline</p>"
                if baseline is not None
                else f"<p class='legend'>no baseline outline: {html.escape(baseline_note)}</p>"
            )
        else:
            parts.append("<p class='empty'>no distribution: the feature has no values</p>")
    elif feature.HasField("string_stats"):
        if name in IDENTIFYING_FEATURES:
            parts.append(
                "<p class='empty'>no top values: an identifier or free-text column "
                "(its values are never shown)</p>"
            )
        else:
            top = [
                (v.value, v.frequency) for v in feature.string_stats.top_values[:TOP_VALUES_SHOWN]
            ]
            if top:
                parts.append(_top_values_svg(top))
            else:
                parts.append("<p class='empty'>no top values: none recorded</p>")
    parts.append("</section>")
    return "".join(parts)


def render_statistics(
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    baseline: statistics_pb2.DatasetFeatureStatisticsList | None,
    baseline_name: str = "previous span",
    baseline_missing_reason: str = "first span: no previous statistics",
) -> str:
    """Renders the statistics as inline HTML tables and SVG plots (no script, no network).

    Args:
        statistics: Statistics of this span.
        baseline: Statistics to compare with, or None.
        baseline_name: Label of the baseline.
        baseline_missing_reason: What the page says when there is no baseline.

    Returns:
        An HTML fragment.
    """
    current = _features(statistics)
    previous = _features(baseline)
    if not current:
        return "<p class='empty'>no statistics: the table has no rows or no features</p>"
    examples = statistics.datasets[0].num_examples
    header = f"<p>{examples:,} rows, {len(current)} features. "
    if baseline is None:
        header += f"Baseline: none ({html.escape(baseline_missing_reason)}).</p>"
    else:
        base_examples = baseline.datasets[0].num_examples if baseline.datasets else 0
        header += f"Baseline: {html.escape(baseline_name)}, {base_examples:,} rows.</p>"
    note = baseline_missing_reason if baseline is None else ""
    sections = [
        _feature_section(name, feature, previous.get(name), note)
        for name, feature in sorted(current.items())
    ]
    return header + "<div class='features'>" + "".join(sections) + "</div>"


def render_html(
    title: str,
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    baseline: statistics_pb2.DatasetFeatureStatisticsList | None,
    findings: Sequence[Finding],
    measures: dict[str, dict[str, Any]],
    baseline_name: str = "previous span",
    facets: bool = False,
    baseline_missing_reason: str = "first span: no previous statistics",
) -> str:
    """Renders the HTML view: findings, drift/skew table and the inline statistics.

    Args:
        title: Heading.
        statistics: Statistics of this span.
        baseline: Statistics to compare with (previous span), or None.
        findings: Every finding.
        measures: Drift and skew measurements.
        baseline_name: Label of the baseline.
        facets: Also embed TFDV's Facets view (it loads its code from a public CDN, so it is
            blank without internet access).
        baseline_missing_reason: Why there is no baseline, when there is none.

    Returns:
        A complete HTML document (self-contained unless ``facets``).
    """
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(c))}</td>"
            for c in (
                r["severity"],
                r["check"],
                r["feature"] or "-",
                r["description"],
                _cell(r["rows"]),
                _cell(r["students"]),
            )
        )
        + "</tr>"
        for r in finding_rows(findings)
    )
    measure_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
        for r in _measure_rows(measures)
    )
    findings_html = (
        "<table><tr><th>severity</th><th>check</th><th>feature</th>"
        f"<th>description</th><th>rows</th><th>students</th></tr>{rows}</table>"
        if rows
        else "<p class='empty'>no findings: every check passed</p>"
    )
    measures_html = (
        "<table><tr><th>kind</th><th>feature</th><th>measure</th>"
        f"<th>value / threshold</th><th>verdict</th></tr>{measure_rows}</table>"
        if measure_rows
        else "<p class='empty'>drift and skew not measured: "
        + html.escape(baseline_missing_reason if baseline is None else "no comparable feature")
        + "</p>"
    )
    statistics_html = render_statistics(
        statistics, baseline, baseline_name, baseline_missing_reason
    )
    facets_html = ""
    if facets:
        from tensorflow_data_validation.utils import display_util  # only for the option

        facets_html = (
            "<h2>Facets</h2><p>(loads its code from a public CDN: blank without internet)</p>"
            + display_util.get_statistics_html(
                statistics, baseline, lhs_name="this span", rhs_name=baseline_name
            )
        )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        ".features{display:flex;flex-wrap:wrap;gap:12px}"
        ".feature{border:1px solid #ddd;padding:6px;width:340px}"
        ".empty,.legend{color:#666;font-size:90%}h3 small{color:#888}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<h2>Findings</h2>{findings_html}"
        f"<h2>Drift and skew</h2>{measures_html}"
        f"<h2>Statistics</h2>{statistics_html}"
        f"{facets_html}</body></html>"
    )
