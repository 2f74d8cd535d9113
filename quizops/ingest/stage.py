"""The ingest stage: one span of a source (local path or gs:// URI) -> canonical table.

:func:`read_source` reads one span of a source into the canonical table;
:func:`run_ingest_stage` does that and hands the table to the PII stage through the raw zone
(:mod:`quizops.quarantine`), returning an :class:`IngestStageResult`. Nothing is written unless
the whole span reads cleanly, and no value of the data is ever logged.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quizops import storage
from quizops.canonical import conform
from quizops.errors import InputDataError
from quizops.ingest import assistments, canonical_source, ednet
from quizops.ingest.parsing import AUTO_ENCODING, read_delimited
from quizops.ingest.spans import SpanSelection, select_span, visible_files
from quizops.quarantine import write_quarantined

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("assistments", "ednet", "canonical")
#: Folder created beside the source when no raw zone is given (hidden from span listing).
DEFAULT_RAW_ZONE_FOLDER = "_quizops_raw"
_DATA_SUFFIXES: dict[str, tuple[str, ...]] = {
    "assistments": (".csv", ".csv.gz"),
    "canonical": (".csv", ".csv.gz", ".parquet", ".pq"),
}


@dataclass
class IngestResult:
    """What one ingest read.

    Attributes:
        frame: The canonical table (may hold personal data: keep it in the raw zone).
        selection: The span that was read.
        files: The files read.
        counts: Rows read, dropped and changed, per reason (no values).
    """

    frame: pd.DataFrame
    selection: SpanSelection
    files: list[str]
    counts: dict[str, int] = field(default_factory=dict)


def _data_files(uri: str, source_format: str) -> list[str]:
    """Lists the data files of a file or folder for a one-file-per-chunk format.

    Args:
        uri: File or folder.
        source_format: ``assistments`` or ``canonical``.

    Returns:
        The files.

    Raises:
        InputDataError: No data file is there.
    """
    if storage.is_file(uri):
        return [uri]
    suffixes = _DATA_SUFFIXES[source_format]
    files = [f for f in visible_files(uri) if f.endswith(suffixes)]
    if not files:
        raise InputDataError(f"{uri}: no {source_format} data files ({', '.join(suffixes)})")
    return files


def read_source(
    source_uri: str, source_format: str, span: str = "", encoding: str = AUTO_ENCODING
) -> IngestResult:
    """Reads one span of a source into the canonical table.

    Args:
        source_uri: File or folder, local path or gs:// URI.
        source_format: One of :data:`FORMATS`.
        span: Span value or span folder name; ``""`` reads the whole source.
        encoding: Text encoding of CSV files (``auto``: UTF-8, or a Western code page for a
            file with no UTF-8 character; see :func:`~quizops.ingest.parsing.decode_text`).

    Returns:
        The result.

    Raises:
        InputDataError: Unknown format, missing source or span, or a bad file.
    """
    if source_format not in FORMATS:
        raise InputDataError(f"unknown source format '{source_format}'; use one of {FORMATS}")
    selection = select_span(source_uri, span)
    counts: dict[str, int] = {}
    if source_format == "ednet":
        frame, counts = ednet.read(selection.uri, selection.root, encoding)
        files = [selection.uri]
    else:
        files = _data_files(selection.uri, source_format)
        frames = []
        for uri in files:
            data = storage.read_bytes(uri)
            if source_format == "assistments":
                raw = read_delimited(
                    data,
                    uri,
                    assistments.REQUIRED,
                    encoding,
                    numeric=assistments.NUMERIC,
                    optional=assistments.OPTIONAL,
                )
                part, part_counts = assistments.to_canonical(raw, uri)
            else:
                part = canonical_source.read_file(data, uri, encoding)
                part_counts = {"rows_read": len(part)}
            for key, value in part_counts.items():
                counts[key] = counts.get(key, 0) + int(value)
            frames.append(part)
        frame = pd.concat(frames, ignore_index=True)
        if len(frames) > 1:
            if source_format == "assistments":  # copies across files (re-delivered exports)
                copies = frame.duplicated(keep="first")
                counts["verbatim_duplicates_dropped"] += int(copies.sum())
                frame = frame.loc[~copies]
            frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
        counts["files"] = len(files)
    frame = conform(frame, selection.uri)
    counts["rows"] = len(frame)
    counts["students"] = int(frame["student_id"].nunique())
    counts["items"] = int(frame["item_id"].nunique())
    counts["skills"] = int(frame["skill_id"].nunique())
    counts["rows_with_propensity"] = int(frame["propensity"].notna().sum())
    logger.info(
        "read %d rows of %s (span %r, previous %r) from %d file(s)",
        len(frame),
        source_format,
        selection.span,
        selection.previous_span,
        len(files),
    )
    return IngestResult(frame, selection, files, counts)


def raw_table_uri(
    raw_zone_uri: str, source_uri: str, source_format: str, span: str, source_identity: str = ""
) -> str:
    """Names the raw-zone Parquet table of one ingest.

    With a source identity (from the fingerprint task) each version of the data gets its own
    table, so a cached ingest's manifest never points at a table a later ingest of the same span
    replaced.

    Args:
        raw_zone_uri: The raw zone (``""`` = a hidden folder beside the source).
        source_uri: The source file or folder.
        source_format: The source format.
        span: The span value (``""`` = whole source).
        source_identity: The source's identity (``""`` = one table per span).

    Returns:
        Local path or gs:// URI of the table.
    """
    if not raw_zone_uri:
        base = storage.parent(source_uri) if storage.is_file(source_uri) else source_uri
        raw_zone_uri = storage.join(base.rstrip("/"), DEFAULT_RAW_ZONE_FOLDER)
    parts = [f"format={source_format}", f"span={span or 'all'}"]
    version = re.sub(r"[^0-9A-Za-z]", "", source_identity)[:16]
    if version:
        parts.append(f"source={version}")
    return storage.join(raw_zone_uri, *parts, "interactions.parquet")


@dataclass(frozen=True)
class IngestStageResult:
    """What the ingest stage wrote.

    Attributes:
        table_uri: The raw-zone Parquet table (holds personal data; never logged in full).
        span: The span read (``""`` = whole source).
        previous_span: The span before it (``""`` = none).
        metrics: Rows read, kept and dropped per reason; students, items, skills (numbers only).
    """

    table_uri: str
    span: str
    previous_span: str
    metrics: dict[str, float]


def run_ingest_stage(
    *,
    source_uri: str,
    source_format: str,
    span: str,
    raw_zone_uri: str,
    manifest_path: str | os.PathLike[str],
    encoding: str = AUTO_ENCODING,
    source_identity: str = "",
) -> IngestStageResult:
    """Reads a span, writes the canonical table to the raw zone and the manifest.

    Args:
        source_uri: File or folder, local path or gs:// URI.
        source_format: One of :data:`FORMATS`.
        span: Span value or folder name; ``""`` reads the whole source.
        raw_zone_uri: Where the table (with personal data) goes; ``""`` = beside the source.
        manifest_path: Local path of the manifest (the component's output artifact).
        encoding: Text encoding of CSV files (``auto``: UTF-8, or a Western code page for a
            file with no UTF-8 character; see :func:`~quizops.ingest.parsing.decode_text`).
        source_identity: The source's identity from the fingerprint task (content hashes or
            GCS generations): the task's cache key follows it, and each version of the data
            gets its own raw-zone table.

    Returns:
        The result (the metrics hold numbers only).

    Raises:
        InputDataError: The source cannot be read; nothing is written.
    """
    result = read_source(source_uri, source_format, span, encoding)
    table_uri = raw_table_uri(
        raw_zone_uri, source_uri, source_format, result.selection.span, source_identity
    )
    write_quarantined(
        result.frame,
        table_uri,
        manifest_path,
        format=source_format,
        source_uri=source_uri,
        span=result.selection.span,
        previous_span=result.selection.previous_span,
        available_spans=list(result.selection.available),
        counts=result.counts,
    )
    if source_identity:
        logger.info("source identity %s", source_identity[:16])
    logger.info("wrote the canonical table to the raw zone and the manifest")
    return IngestStageResult(
        table_uri=table_uri,
        span=result.selection.span,
        previous_span=result.selection.previous_span,
        metrics={key: float(value) for key, value in result.counts.items()},
    )


def ingest(
    source_uri: str,
    source_format: str,
    span: str,
    raw_zone_uri: str,
    manifest_path: str | os.PathLike[str],
    encoding: str = AUTO_ENCODING,
) -> dict[str, Any]:
    """Positional form of :func:`run_ingest_stage` returning only the metrics.

    Args:
        source_uri: File or folder, local path or gs:// URI.
        source_format: One of :data:`FORMATS`.
        span: Span value or folder name; ``""`` reads the whole source.
        raw_zone_uri: Where the table (with personal data) goes; ``""`` = beside the source.
        manifest_path: Local path of the manifest.
        encoding: Text encoding of CSV files (``auto``: UTF-8, or a Western code page for a
            file with no UTF-8 character; see :func:`~quizops.ingest.parsing.decode_text`).

    Returns:
        The metrics of :class:`IngestStageResult`.

    Raises:
        InputDataError: The source cannot be read; nothing is written.
    """
    return dict(
        run_ingest_stage(
            source_uri=source_uri,
            source_format=source_format,
            span=span,
            raw_zone_uri=raw_zone_uri,
            manifest_path=manifest_path,
            encoding=encoding,
        ).metrics
    )
