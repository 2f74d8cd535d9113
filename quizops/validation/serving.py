"""Serving decision logs as the SERVING side of training-serving skew.

The predictor appends one JSON line per decision to ``decisions-<UTC date>.jsonl`` under the
decisions folder (see ``kserve/quizops_predictor/decisions.py``). For span ``S`` the files whose
name or folder contains ``S`` are read (``decisions-2026-11-23.jsonl`` or
``date=2026-11-23/...``); without a span, every file. Only the SERVING columns of the schema
(``item_id``, ``propensity``) are kept: student pseudonyms never enter statistics.
JSON lines, CSV and Parquet files are accepted.
"""

from __future__ import annotations

import io
import json
import logging

import pandas as pd

from quizops import storage
from quizops.errors import InputDataError
from quizops.validation.schema import SERVING_FEATURES

logger = logging.getLogger(__name__)

_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


def _read_one(uri: str) -> pd.DataFrame:
    """Reads one decision-log file.

    Args:
        uri: The file.

    Returns:
        Its rows.

    Raises:
        InputDataError: The file cannot be parsed.
    """
    data = storage.read_bytes(uri)
    try:
        if uri.endswith(".parquet"):
            return pd.read_parquet(io.BytesIO(data))
        if uri.endswith(".csv"):
            return pd.read_csv(io.BytesIO(data), dtype={"item_id": str})
        records = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
        return pd.DataFrame.from_records(records)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{uri}: unreadable decision log ({type(exc).__name__})") from exc


def read_decisions(decisions_uri: str, span: str = "") -> pd.DataFrame | None:
    """Reads the decision logs of a span as a SERVING frame.

    Args:
        decisions_uri: Decisions folder (local or gs://), or ``""``.
        span: Span value; ``""`` reads every file.

    Returns:
        A frame with columns ``item_id`` (string) and ``propensity`` (float), or None when there
        are no decision logs for the span.

    Raises:
        InputDataError: A log lacks ``item_id`` or cannot be parsed.
    """
    if not decisions_uri:
        return None
    files = [
        f
        for f in storage.list_files(decisions_uri)
        if f.endswith(_SUFFIXES) and (not span or span in f[len(decisions_uri) :])
    ]
    if not files:
        logger.info("no decision logs for span %r: skew not computed", span)
        return None
    frames = []
    for uri in files:
        frame = _read_one(uri)
        if frame.empty:
            continue
        if "item_id" not in frame.columns:
            raise InputDataError(f"{uri}: decision log without an 'item_id' column")
        frames.append(frame)
    if not frames:
        return None
    merged = pd.concat(frames, ignore_index=True)
    out = pd.DataFrame({"item_id": merged["item_id"].astype(str).astype("string")})
    propensity = merged["propensity"] if "propensity" in merged.columns else float("nan")
    out["propensity"] = pd.to_numeric(pd.Series(propensity, index=merged.index), errors="coerce")
    logger.info("read %d serving decisions from %d file(s)", len(out), len(files))
    return out[list(SERVING_FEATURES)]
