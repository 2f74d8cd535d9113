"""Small-cell suppression for every aggregate table the suite writes.

A count that describes fewer than :data:`MIN_CELL_STUDENTS` students can single a student out
(FERPA's and the GDPR's disclosure-avoidance practice). Reports of the PII scan, data validation
and evaluation pass their aggregate rows through :func:`suppress_small_cells` before writing them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Cells describing fewer students than this are suppressed.
MIN_CELL_STUDENTS = 10
#: What a suppressed value is replaced with (JSON null; renderers show it as ``<10``).
SUPPRESSED: None = None


def suppress_small_cells(
    rows: Iterable[Mapping[str, Any]],
    value_keys: Sequence[str],
    students_key: str = "students",
    threshold: int = MIN_CELL_STUDENTS,
    secondary: bool = True,
) -> list[dict[str, Any]]:
    """Suppresses the values of rows that describe fewer than ``threshold`` students.

    A row whose ``students_key`` is below the threshold (but above zero) gets every key in
    ``value_keys`` and ``students_key`` itself replaced by ``None`` and ``suppressed: True``.
    With ``secondary``, when exactly one non-empty row of the table is suppressed the next
    smallest row is suppressed too, so that the hidden value cannot be recovered by subtracting
    the others from a published total (complementary suppression).

    Args:
        rows: The aggregate rows (not modified).
        value_keys: Keys of the counts (or other aggregates) to hide in small rows.
        students_key: Key holding the number of distinct students a row describes.
        threshold: Smallest number of students a published row may describe.
        secondary: Apply complementary suppression.

    Returns:
        New rows, in the same order, each with a boolean ``suppressed`` key.
    """
    out = [dict(row) for row in rows]
    small = [i for i, row in enumerate(out) if 0 < int(row.get(students_key) or 0) < threshold]
    if secondary and len(small) == 1:
        others = [
            i for i, row in enumerate(out) if i not in small and int(row.get(students_key) or 0) > 0
        ]
        if others:
            small.append(min(others, key=lambda i: int(out[i][students_key])))
    hidden = set(small)
    for i, row in enumerate(out):
        row["suppressed"] = i in hidden
        if i in hidden:
            row[students_key] = SUPPRESSED
            for key in value_keys:
                if key in row:
                    row[key] = SUPPRESSED
    return out


def format_cell(value: Any) -> str:
    """Formats a possibly suppressed cell for a human-readable table.

    Args:
        value: A count, another aggregate, or ``None`` for a suppressed cell.

    Returns:
        ``<10`` for a suppressed cell, the value as text otherwise.
    """
    if value is SUPPRESSED:
        return f"<{MIN_CELL_STUDENTS}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
