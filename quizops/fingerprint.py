"""The identity of a data source, so that a cached ingest is reused only for identical data.

KFP caches a task on its component and its inputs. An ingest task whose inputs are a source URI
and a span would be served from the cache after the data under that URI changed (KFP issues
#7939, #12751). The pipeline therefore runs a never-cached fingerprint task first and passes its
identity into ingest: the cache key then follows the data.

The identity covers every visible file of the source (hidden ``_``/``.`` names excluded, as
ingest excludes them): its name relative to the source, plus, for local files, the SHA-256 of
its content (files in span folders other than the one read: their size only); for ``gs://``
objects, the generation and size the listing returns (a generation changes on every write).
File names are relative, so a copied source has the same identity. No value of the data is
read into the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from quizops import storage
from quizops.errors import InputDataError
from quizops.ingest.spans import SPAN_FOLDER, is_hidden, relative_parts, select_span

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
#: Span value of scheduled runs: the scheduled date (UTC), optionally minus N days, e.g.
#: ``@scheduled-1`` for the day before the scheduled time (a daily run reads yesterday's span).
SCHEDULED_SPAN = re.compile(r"^@scheduled(?:-(\d{1,3}))?$")


@dataclass(frozen=True)
class FingerprintResult:
    """The identity of one source.

    Attributes:
        identity: Hex SHA-256 over the listing (names and content hashes or generations).
        files: Number of visible files.
        hashed_files: Files whose content was hashed (local) or generation read (gs://).
        method: ``sha256`` (local) or ``gcs-generation``.
        span: The span read (``@scheduled`` resolved to a date).
    """

    identity: str
    files: int
    hashed_files: int
    method: str
    span: str = ""


def resolve_span(span: str, scheduled_time: str = "") -> str:
    """Resolves ``@scheduled`` / ``@scheduled-N`` to a date from the run's scheduled time.

    KFP fills the scheduled time through the ``{{$.pipeline_job_schedule_time_utc}}``
    placeholder (RFC 3339, UTC); a recurring run then reads the span of its own schedule, so a
    late or re-run run still reads the same day.

    Args:
        span: A span value, or ``@scheduled`` / ``@scheduled-N``.
        scheduled_time: The run's scheduled time (RFC 3339).

    Returns:
        The span (unchanged unless it is a scheduled span), ``YYYY-MM-DD`` otherwise.

    Raises:
        InputDataError: A scheduled span without a valid scheduled time.
    """
    match = SCHEDULED_SPAN.match(span.strip())
    if not match:
        return span
    try:
        moment = dt.datetime.fromisoformat(scheduled_time.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputDataError(
            f"span '{span}' needs the run's scheduled time (recurring runs fill it); got none "
            "that parses as RFC 3339: pass a span date for a one-off run"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    day = moment.date() - dt.timedelta(days=int(match.group(1) or 0))
    return day.isoformat()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _local_entries(root: str, selected: str) -> tuple[list[str], int]:
    """Names plus content hashes of what ingest reads, names plus sizes of other spans' files."""
    base = Path(root)
    if base.is_file():
        return [f"{base.name}\0sha256:{_file_sha256(base)}"], 1
    selected_parts = relative_parts(selected, root)
    entries = []
    hashed = 0
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        if is_hidden(str(path), root):
            continue
        parts = relative_parts(str(path), root)
        other_span = (
            bool(selected_parts)
            and len(parts) > 1
            and SPAN_FOLDER.match(parts[0]) is not None
            and parts[0] != selected_parts[0]
        )
        if other_span:
            entries.append(f"{'/'.join(parts)}\0size:{path.stat().st_size}")
        else:
            entries.append(f"{'/'.join(parts)}\0sha256:{_file_sha256(path)}")
            hashed += 1
    return entries, hashed


def _gcs_entries(root: str) -> tuple[list[str], int]:
    bucket, name = storage.split_gcs(root)
    client = storage.gcs_client()
    single = client.bucket(bucket).get_blob(name) if name and not name.endswith("/") else None
    if single is not None:
        return [f"{name.rpartition('/')[2]}\0gen:{single.generation}:{single.size}"], 1
    prefix = name.rstrip("/") + "/" if name.strip("/") else ""
    entries = []
    for blob in client.list_blobs(bucket, prefix=prefix):
        uri = f"gs://{bucket}/{blob.name}"
        if blob.name.endswith("/") or is_hidden(uri, root):
            continue
        relative = blob.name[len(prefix) :]
        entries.append(f"{relative}\0gen:{blob.generation}:{blob.size}")
    entries.sort()
    return entries, len(entries)


def fingerprint_source(source_uri: str, span: str = "") -> FingerprintResult:
    """Computes the identity of a source (and of the span ingest will read).

    Args:
        source_uri: File or folder, local path or gs:// URI (as ingest takes it).
        span: The span ingest will read (``""`` = the whole source).

    Returns:
        The identity.

    Raises:
        InputDataError: The source or span does not exist (the message names the URI).
    """
    selection = select_span(source_uri, span)
    root = source_uri.rstrip("/") or source_uri
    if storage.is_gcs(root):
        entries, hashed = _gcs_entries(root)
        method = "gcs-generation"
    else:
        entries, hashed = _local_entries(root, selection.uri)
        method = "sha256"
    if not entries:
        raise InputDataError(f"{source_uri}: no visible files to fingerprint")
    digest = hashlib.sha256()
    digest.update(f"span={selection.span}\n".encode())
    for entry in entries:
        digest.update(entry.encode() + b"\n")
    result = FingerprintResult(digest.hexdigest(), len(entries), hashed, method, selection.span)
    logger.info(
        "fingerprint %s of %d file(s) (%d hashed, %s)",
        result.identity[:16],
        result.files,
        result.hashed_files,
        method,
    )
    return result


def run_fingerprint_stage(
    *, source_uri: str, span: str = "", scheduled_time: str = ""
) -> FingerprintResult:
    """The fingerprint stage of the pipeline (never cached): see :func:`fingerprint_source`.

    Args:
        source_uri: File or folder, local path or gs:// URI.
        span: The span ingest will read (``""`` = the whole source; ``@scheduled[-N]`` = the
            run's scheduled date, minus N days).
        scheduled_time: The run's scheduled time (RFC 3339), for ``@scheduled`` spans.

    Returns:
        The identity and the resolved span.

    Raises:
        InputDataError: The source or span does not exist, or a scheduled span lacks a time.
    """
    return fingerprint_source(source_uri, resolve_span(span, scheduled_time))
