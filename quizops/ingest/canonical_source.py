"""Reader for sources already in the canonical layout (CSV or Parquet).

``student_id``, ``item_id``, ``skill_id``, ``correct`` and ``timestamp`` are required; the other
canonical columns are optional (``interaction_id`` defaults to ``<file>:<data row>``,
``skill_name`` to the skill id, counts to 1 attempt and 0 hints, the rest to missing).

``timestamp`` accepts ISO 8601 date-times with or without a zone (a time without a zone is UTC)
and epoch seconds or milliseconds, told apart by magnitude; it is stored as epoch milliseconds
(whole numbers below 10^9 are order keys and stay as they are). See
:func:`quizops.canonical.parse_timestamps`.
"""

from __future__ import annotations

import posixpath

import numpy as np
import pandas as pd

from quizops.canonical import (
    CANONICAL_COLUMNS,
    REQUIRED_COLUMNS,
    conform,
    parse_timestamps,
    row_numbers,
)
from quizops.errors import InputDataError
from quizops.ingest.parsing import (
    AUTO_ENCODING,
    numeric_column,
    read_delimited,
    read_parquet_bytes,
    string_column,
)

_NUMERIC: dict[str, tuple[bool, bool]] = {
    # column -> (integer, required)
    "correct": (True, True),
    "timestamp": (True, True),
    "attempt_count": (True, False),
    "hint_count": (True, False),
    "response_time_ms": (False, False),
    "propensity": (False, False),
}
_DEFAULTS: dict[str, float] = {"attempt_count": 1, "hint_count": 0}


def to_canonical(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Checks and converts a canonical-layout frame.

    Args:
        raw: The frame (strings from CSV or typed columns from Parquet).
        source: File name or URI, for messages.

    Returns:
        The canonical frame.

    Raises:
        InputDataError: A required column is missing, empty or of the wrong type.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputDataError(f"{source}: missing required column(s) {missing}")
    out = pd.DataFrame(index=raw.index)
    for column in CANONICAL_COLUMNS:
        if column in _NUMERIC:
            integer, required = _NUMERIC[column]
            if column == "timestamp":
                values = _timestamp_column(raw, source)
            elif column in raw.columns:
                values = numeric_column(raw, column, source, integer=integer, required=required)
            else:
                values = pd.Series(np.nan, index=raw.index)
            if column in _DEFAULTS:
                values = values.fillna(_DEFAULTS[column])
            out[column] = values
        elif column in raw.columns:
            out[column] = string_column(raw, column)
        else:
            out[column] = pd.Series(pd.NA, index=raw.index, dtype="string")
    name = posixpath.basename(source.replace("\\", "/"))
    rows = pd.Series(np.arange(1, len(raw) + 1), index=raw.index).astype(str)
    out["interaction_id"] = out["interaction_id"].fillna(name + ":" + rows)
    out["skill_name"] = out["skill_name"].fillna(out["skill_id"])
    for column in ("correct", "timestamp", "attempt_count", "hint_count"):
        if out[column].notna().all():
            out[column] = out[column].astype("int64")
    return conform(out, source)


def _timestamp_column(raw: pd.DataFrame, source: str) -> pd.Series:
    """The timestamp column as epoch milliseconds (ISO 8601 or epoch numbers), all present."""
    values = parse_timestamps(raw["timestamp"], source)
    empty = values.isna()
    if empty.any():
        raise InputDataError(
            f"{source}: column 'timestamp' has {int(empty.sum())} empty value(s) "
            f"({row_numbers(empty)})"
        )
    fractional = values != np.floor(values)
    if fractional.any():
        raise InputDataError(
            f"{source}: column 'timestamp' must hold whole numbers (order keys or epoch "
            f"milliseconds); {int(fractional.sum())} value(s) do not ({row_numbers(fractional)})"
        )
    return values


def read_file(data: bytes, uri: str, encoding: str = AUTO_ENCODING) -> pd.DataFrame:
    """Reads one canonical CSV or Parquet file.

    Args:
        data: The file's bytes.
        uri: Its name or URI (``.parquet`` selects Parquet).
        encoding: Text encoding of CSV files (``auto``: UTF-8, or a Western code page for a
            file with no UTF-8 character; see :func:`~quizops.ingest.parsing.decode_text`).

    Returns:
        The canonical frame.
    """
    if uri.endswith((".parquet", ".pq")):
        raw = read_parquet_bytes(data, uri)
    else:
        raw = read_delimited(data, uri, REQUIRED_COLUMNS, encoding)
    return to_canonical(raw, uri)
