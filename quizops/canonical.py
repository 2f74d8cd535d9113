"""The canonical interaction table every stage after ingest reads and writes.

One row is one first attempt of one student at one item, tagged with one skill. Item, skill and
student ids are the source's own ids as strings, never re-indexed. ``timestamp`` is the source's
ordering key: milliseconds since the epoch where the source has a clock (EdNet), the source's
monotonic order id where it does not (ASSISTments ``order_id``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

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
        try:
            out[column] = df[column].astype(dtype)
        except (TypeError, ValueError) as exc:
            raise InputDataError(
                f"{source}: column '{column}' cannot be read as {dtype}: {exc}"
            ) from exc
    for column in REQUIRED_COLUMNS:
        nulls = int(out[column].isna().sum())
        if nulls:
            raise InputDataError(f"{source}: column '{column}' has {nulls} empty value(s)")
    bad = ~out["correct"].isin([0, 1])
    if bad.any():
        raise InputDataError(
            f"{source}: column 'correct' must be 0 or 1; {int(bad.sum())} row(s) are not"
        )
    return out.reset_index(drop=True)


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
        raise InputDataError(f"{path}: not a readable Parquet file: {exc}") from exc
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
