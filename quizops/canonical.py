"""The canonical interaction table every stage after ingest reads and writes.

One row is one first attempt of one student at one item, tagged with one skill. Item, skill and
student ids are the source's own ids as strings, never re-indexed. ``timestamp`` is the source's
ordering key: milliseconds since the epoch where the source has a clock (EdNet), the source's
monotonic order id where it does not (ASSISTments ``order_id``).

Timestamps a canonical source may carry (:func:`parse_timestamps`), all stored as integer
milliseconds since 1970-01-01T00:00:00Z:

* ISO 8601 text, with or without a zone: ``2026-11-23T08:15:00Z``, ``2026-11-23T09:15:00+01:00``,
  ``2026-11-23 08:15:00.250``, ``2026-11-23``. A time without a zone is taken as UTC.
* Epoch numbers, told apart by magnitude: from 10^9 to below 10^11 they are seconds
  (2001-09-09 to the year 5138; fractions kept to the millisecond), from 10^11 on milliseconds.
* Whole numbers below 10^9 are not a clock but an order key (an ``order_id``) and stay as they
  are; so do a column's numbers when every one of them is below 10^9.

A value that is none of these fails the run with the column, the kind of problem and the data
row numbers, never the value.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from quizops.errors import InputDataError

logger = logging.getLogger(__name__)

#: Column name -> pandas dtype of the canonical table, in order.
CANONICAL_DTYPES: dict[str, str] = {
    "interaction_id": "string",
    "student_id": "string",
    "item_id": "string",
    "skill_id": "string",
    "skill_name": "string",
    "correct": "int64",
    "timestamp": "int64",
    "attempt_count": "int64",
    "response_time_ms": "float64",
    "hint_count": "int64",
    "answer_text": "string",
    "propensity": "float64",
}
CANONICAL_COLUMNS: list[str] = list(CANONICAL_DTYPES)
#: Columns that must hold a value in every row.
REQUIRED_COLUMNS: list[str] = ["student_id", "item_id", "skill_id", "correct", "timestamp"]


def conform(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Checks and casts a frame to the canonical layout.

    Args:
        df: A frame holding at least the canonical columns.
        source: Name of the file or artifact the frame came from, used in error messages.

    Returns:
        A new frame with exactly the canonical columns, in order, with canonical dtypes.

    Raises:
        InputDataError: A column is missing, a required column has nulls, or a column cannot be
            cast to its canonical type.
    """
    missing = [c for c in CANONICAL_COLUMNS if c not in df.columns]
    if missing:
        raise InputDataError(f"{source}: missing canonical column(s) {missing}")
    out = pd.DataFrame(index=df.index)
    for column, dtype in CANONICAL_DTYPES.items():
        values = df[column]
        if column == "timestamp" and not pd.api.types.is_integer_dtype(values):
            values = parse_timestamps(values, source, column)
        try:
            out[column] = values.astype(dtype)
        except (TypeError, ValueError):
            # The cast's own message quotes the cell: name the rows instead.
            raise InputDataError(
                f"{source}: column '{column}' cannot be read as {dtype}: "
                f"{_cast_problem(values, dtype)}"
            ) from None
    for column in REQUIRED_COLUMNS:
        nulls = int(out[column].isna().sum())
        if nulls:
            raise InputDataError(f"{source}: column '{column}' has {nulls} empty value(s)")
    bad = ~out["correct"].isin([0, 1])
    if bad.any():
        raise InputDataError(
            f"{source}: column 'correct' must be 0 or 1; {int(bad.sum())} row(s) are not "
            f"({row_numbers(bad)})"
        )
    return out.reset_index(drop=True)


#: How many offending data row numbers a message lists.
MAX_ROWS_IN_MESSAGE = 5
#: Epoch numbers from here on are seconds (2001-09-09T01:46:40Z); below, order keys.
EPOCH_SECONDS_FROM = 1_000_000_000
#: Epoch numbers from here on are milliseconds (1973-03-03T09:46:40Z).
EPOCH_MILLISECONDS_FROM = 100_000_000_000


def row_numbers(mask: pd.Series | np.ndarray) -> str:
    """Formats the 1-based data row numbers of the true entries of a mask (never values).

    Args:
        mask: Boolean series or array aligned with a frame's rows.

    Returns:
        Text such as ``"data row(s) [3, 9] and 4 more"``.
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool)) + 1
    shown = positions[:MAX_ROWS_IN_MESSAGE].tolist()
    more = len(positions) - len(shown)
    return f"data row(s) {shown}" + (f" and {more} more" if more else "")


def _cast_problem(values: pd.Series, dtype: str) -> str:
    """Says which rows of a column do not cast to a dtype, without quoting them."""
    if dtype == "string":
        return "the values are not text"
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        return f"{int(bad.sum())} value(s) are not numbers ({row_numbers(bad)})"
    if dtype.startswith("int"):
        empty = values.isna()
        if empty.any():
            return f"{int(empty.sum())} empty value(s) ({row_numbers(empty)})"
        fractional = numbers.notna() & (numbers != np.floor(numbers))
        if fractional.any():
            shown = row_numbers(fractional)
            return f"{int(fractional.sum())} value(s) are not whole numbers ({shown})"
    return "the values are out of range"


def parse_timestamps(values: pd.Series, source: str, column: str = "timestamp") -> pd.Series:
    """Reads timestamps as epoch milliseconds: ISO 8601 text or epoch seconds/milliseconds.

    See the module docstring for the accepted forms. Missing values stay missing.

    Args:
        values: The column (text, numbers, or datetimes).
        source: File or artifact name, for messages.
        column: Column name, for messages.

    Returns:
        A float64 series of epoch milliseconds (order keys unchanged), NaN where missing.

    Raises:
        InputDataError: Some values are neither a number nor an ISO 8601 date-time (the
            message names the rows, never the values).
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values, utc=True)
        return _stamp_ms(stamps)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return _epoch_ms(values.astype("float64"))
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    numbers = pd.to_numeric(text, errors="coerce")
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    is_number = numbers.notna()
    if is_number.any():
        out[is_number] = _epoch_ms(numbers[is_number].astype("float64"))
    rest = text.notna() & ~is_number
    if rest.any():
        stamps = pd.to_datetime(text[rest], errors="coerce", utc=True, format="ISO8601")
        bad = stamps.isna()
        if bad.any():
            rows = pd.Series(False, index=values.index)
            rows[bad[bad].index] = True
            raise InputDataError(
                f"{source}: column '{column}' must hold ISO 8601 date-times or epoch seconds or "
                f"milliseconds; {int(bad.sum())} value(s) do not ({row_numbers(rows.to_numpy())})"
            )
        out[rest] = _stamp_ms(stamps)
    return out


def _stamp_ms(stamps: pd.Series) -> pd.Series:
    """Epoch milliseconds of timezone-aware datetimes (NaT stays NaN)."""
    epoch = pd.Timestamp("1970-01-01", tz="UTC")
    return ((stamps - epoch) // pd.Timedelta(milliseconds=1)).astype("float64")


def _epoch_ms(numbers: pd.Series) -> pd.Series:
    """Epoch milliseconds of epoch numbers, by magnitude (order keys kept as they are)."""
    magnitude = numbers.abs()
    if not (magnitude >= EPOCH_SECONDS_FROM).any():
        return numbers  # every value is an order key
    seconds = (magnitude >= EPOCH_SECONDS_FROM) & (magnitude < EPOCH_MILLISECONDS_FROM)
    out = numbers.copy()
    out[seconds] = np.round(numbers[seconds] * 1000.0)
    return out


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Reads a canonical table from Parquet and checks it.

    Args:
        path: Path of a Parquet file written by :func:`write_table`.

    Returns:
        The canonical frame.

    Raises:
        InputDataError: The file is missing, unreadable or not canonical.
    """
    path = Path(path)
    if not path.is_file():
        raise InputDataError(f"{path}: no such file")
    try:
        df = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InputDataError(
            f"{path}: not a readable Parquet file ({type(exc).__name__})"
        ) from None
    return conform(df, str(path))


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Writes a canonical table to Parquet atomically (no partial file on failure).

    Args:
        df: A canonical frame (see :func:`conform`).
        path: Destination path; parent folders are created.
    """
    write_parquet_atomic(conform(df, "table to write"), path)


def write_parquet_atomic(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Writes any frame to Parquet through a temporary file renamed into place.

    Args:
        df: The frame.
        path: Destination path; parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote %d rows to %s", len(df), path.name)
