"""The HTML view (Facets statistics plus findings) and the Markdown summary of a validation run.

Tables here pass through small-cell suppression: a row describing fewer than 10 students shows
``<10`` instead of its counts (``quizops.privacy.suppress_small_cells``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tensorflow_data_validation.utils import display_util
from tensorflow_metadata.proto.v0 import statistics_pb2

from quizops.validation.findings import Finding

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


def finding_lines(findings: Sequence[Finding]) -> list[str]:
    """Formats findings one per line, counts suppressed (for error messages and logs).

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


def render_html(
    title: str,
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    baseline: statistics_pb2.DatasetFeatureStatisticsList | None,
    findings: Sequence[Finding],
    measures: dict[str, dict[str, Any]],
    baseline_name: str = "previous span",
) -> str:
    """Renders the HTML view: findings, drift/skew table and the Facets statistics view.

    Args:
        title: Heading.
        statistics: Statistics of this span.
        baseline: Statistics to compare with (previous span), or None.
        findings: Every finding.
        measures: Drift and skew measurements.
        baseline_name: Label of the baseline in Facets.

    Returns:
        A complete HTML document.
    """
    facets = display_util.get_statistics_html(
        statistics, baseline, lhs_name="this span", rhs_name=baseline_name
    )
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
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<h2>Findings</h2><table><tr><th>severity</th><th>check</th><th>feature</th>"
        f"<th>description</th><th>rows</th><th>students</th></tr>{rows}</table>"
        "<h2>Drift and skew</h2><table><tr><th>kind</th><th>feature</th><th>measure</th>"
        f"<th>value / threshold</th><th>verdict</th></tr>{measure_rows}</table>"
        f"<h2>Statistics</h2>{facets}</body></html>"
    )
