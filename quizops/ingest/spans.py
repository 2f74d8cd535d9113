"""Spans: the partitions (for example one day) in which raw logs arrive.

A source is a file or a folder. A folder may hold Hive-style span folders ``key=value`` (for
example ``date=2026-11-23/``); a run names one span by its value (``2026-11-23``) or by its
folder name (``date=2026-11-23``) and learns the previous span, the greatest span value below
it. Folders and files whose names start with ``_`` or ``.`` are hidden (Hive and Spark
convention), so a raw zone written beside the source (``_quizops_raw/``) is never read back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from quizops import storage
from quizops.errors import InputDataError

SPAN_FOLDER = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=([^/]+)$")


@dataclass(frozen=True)
class SpanSelection:
    """What one run reads.

    Attributes:
        root: The source URI as given (file or folder).
        uri: The file or folder to read (the span folder when a span is named).
        span: The span value (``""`` for the whole source).
        previous_span: The greatest span value below ``span`` (``""`` when none).
        available: Every span value found under the source, sorted.
    """

    root: str
    uri: str
    span: str
    previous_span: str
    available: tuple[str, ...]


def relative_parts(uri: str, root: str) -> list[str]:
    """Splits the part of ``uri`` below ``root`` into path components.

    Args:
        uri: A file below ``root``.
        root: A folder.

    Returns:
        The components below the root.
    """
    rest = uri[len(root.rstrip("/")) :] if uri.startswith(root.rstrip("/")) else uri
    return [p for p in rest.replace("\\", "/").split("/") if p]


def is_hidden(uri: str, root: str) -> bool:
    """Tells whether a file below ``root`` is hidden (a component starts with ``_`` or ``.``).

    Args:
        uri: A file below ``root``.
        root: A folder.

    Returns:
        True when hidden.
    """
    return any(p.startswith(("_", ".")) for p in relative_parts(uri, root))


def visible_files(root: str) -> list[str]:
    """Lists the non-hidden files below a folder.

    Args:
        root: Local folder or gs:// prefix.

    Returns:
        Sorted file paths or URIs.
    """
    return [f for f in storage.list_files(root) if not is_hidden(f, root)]


def list_spans(root: str) -> dict[str, str]:
    """Finds the span folders directly below a source folder.

    Args:
        root: Local folder or gs:// prefix.

    Returns:
        Span value -> span folder URI, sorted by value.

    Raises:
        InputDataError: Two span folders carry the same value under different keys.
    """
    spans: dict[str, str] = {}
    for uri in visible_files(root):
        parts = relative_parts(uri, root)
        if len(parts) < 2:
            continue
        match = SPAN_FOLDER.match(parts[0])
        if not match:
            continue
        folder = storage.join(root, parts[0])
        previous = spans.setdefault(match.group(2), folder)
        if previous != folder:
            raise InputDataError(f"{root}: span value '{match.group(2)}' appears twice")
    return dict(sorted(spans.items()))


def select_span(source_uri: str, span: str) -> SpanSelection:
    """Resolves what to read for a source and a span.

    Args:
        source_uri: A file or folder, local or gs://.
        span: A span value or span folder name; ``""`` reads the whole source.

    Returns:
        The selection.

    Raises:
        InputDataError: The source does not exist, or the span is not among its spans.
    """
    source_uri = source_uri.rstrip("/") if source_uri.rstrip("/") else source_uri
    if not source_uri:
        raise InputDataError("no source given (source_uri is empty)")
    if storage.is_file(source_uri):
        if span:
            raise InputDataError(
                f"{source_uri}: a single file has no spans; point source_uri at the folder that "
                f"holds the span folders (e.g. date={span}/)"
            )
        return SpanSelection(source_uri, source_uri, "", "", ())
    if not storage.list_files(source_uri):
        kind = "object or prefix" if storage.is_gcs(source_uri) else "file or folder"
        raise InputDataError(f"{source_uri}: no such {kind}")
    spans = list_spans(source_uri)
    if not span:
        return SpanSelection(source_uri, source_uri, "", "", tuple(spans))
    match = SPAN_FOLDER.match(span)
    value = match.group(2) if match else span
    if value not in spans:
        raise InputDataError(
            f"{source_uri}: no span '{span}'; available spans: {list(spans) or 'none'}"
        )
    earlier = [v for v in spans if v < value]
    return SpanSelection(
        source_uri, spans[value], value, earlier[-1] if earlier else "", tuple(spans)
    )
