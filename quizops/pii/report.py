"""Renders the PII report for people: Markdown (the Kubeflow UI's Markdown view) and HTML.

The report holds counts only; suppressed cells (fewer than ten students) show as ``<10``.
"""

from __future__ import annotations

import html
import json
from typing import Any

from quizops.privacy import format_cell


def report_json(report: dict[str, Any]) -> str:
    """Serializes a report as stable, indented JSON.

    Args:
        report: The report dict.

    Returns:
        The JSON text.
    """
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


def _tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    columns = [
        [
            c["column"],
            c["classified_as"] or "-",
            c["evidence"] or "-",
            "yes" if c["free_text"] else "no",
            c["action"],
        ]
        for c in report["columns"]
    ]
    entities = [
        [
            e["column"],
            e["entity_type"],
            e["action"],
            format_cell(e["spans"]),
            format_cell(e["cells"]),
            format_cell(e["students"]),
        ]
        for e in report["entities"]
    ]
    return [
        ("Columns", ["column", "classified as", "evidence", "free text", "action"], columns),
        (
            "Personal data found and handled",
            ["column", "entity type", "action", "spans", "cells", "students"],
            entities,
        ),
    ]


def render_markdown(report: dict[str, Any]) -> str:
    """Renders a report as Markdown.

    Args:
        report: The report dict.

    Returns:
        Markdown text.
    """
    students = format_cell(report["students"])
    lines = [
        "# PII scan",
        "",
        f"**Status:** {report['status']} · rows: {report['rows']} · students: {students} · "
        f"cells of fewer than {report['min_cell_students']} students are shown as "
        f"<{report['min_cell_students']}.",
        "",
    ]
    for title, header, rows in _tables(report):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(row) + " |" for row in rows] or ["| (none) |"]
        lines.append("")
    verification = report["verification"]
    lines.append(
        f"Verification: {verification['rescanned_columns']} redacted column(s) re-scanned, "
        f"{verification['residual_cells']} cell(s) with residual personal data."
    )
    if report["dropped_columns"]:
        lines.append(f"Dropped columns: {', '.join(report['dropped_columns'])}.")
    return "\n".join(lines) + "\n"


def render_html(report: dict[str, Any]) -> str:
    """Renders a report as a standalone HTML page.

    Args:
        report: The report dict.

    Returns:
        HTML text (every value escaped).
    """
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>PII scan</title></head><body>",
        f"<h1>PII scan: {esc(report['status'])}</h1>",
        f"<p>rows: {report['rows']}, students: {esc(format_cell(report['students']))}</p>",
    ]
    for title, header, rows in _tables(report):
        parts.append(f"<h2>{esc(title)}</h2><table border='1'><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in header]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
