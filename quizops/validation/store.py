"""The statistics store: the statistics of each validated span, for drift against the next.

Layout under the store URI (local folder or gs:// prefix)::

    source=<key>/SOURCE                    the normalized source URI the key stands for
    source=<key>/span=<span>/statistics.pb statistics of a span of that source that passed
    source=<key>/LATEST                    the key of the span written last for that source
    LATEST_SOURCE                          the source written last (monitoring's default)

Baselines are kept per source (a data set's identity: its normalized URI, see
:func:`source_key`): a second data set run in the same home is compared with its own earlier
spans, never with another data set's. A store opened without a source uses the store root
itself (the layout before sources: ``span=<span>/statistics.pb`` and ``LATEST``).

Policy:

- only statistics of spans that passed the gate are written (a failed span never becomes the
  baseline the next span is compared with);
- the previous statistics of span S are those of the greatest stored span below S (re-running
  S compares with its predecessor, never with itself); an explicit ``previous_span`` wins
  when it is stored;
- a run without a span (the whole source) is stored as ``span=unspanned`` and compares with
  whatever was written last (``LATEST``), so repeated local runs still see drift;
- writing the same span again replaces its statistics (re-runs are idempotent);
- a new baseline is accepted on purpose with :func:`accept_baseline` (on the command line:
  ``python -m quizops.validation.store accept-baseline --statistics-store STORE --source SOURCE
  --data TABLE.parquet [--span SPAN]``, in the validation environment): the statistics of the
  given de-identified table become the source's baseline; drift failures print that command
  (:func:`accept_baseline_hint`).

The store holds statistics only (identifying top values already removed), never data.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shlex
import sys
from dataclasses import dataclass

from tensorflow_metadata.proto.v0 import statistics_pb2

from quizops import storage
from quizops.errors import InputDataError, QuizopsError, exit_status
from quizops.validation import statistics as stats_lib

logger = logging.getLogger(__name__)

UNSPANNED = "unspanned"
_ENTRY = re.compile(r"span=([^/]+)/statistics\.pb")
_SPAN_FOLDER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^/]+$")

#: File at the store root naming the source written last (what monitoring compares with).
LATEST_SOURCE = "LATEST_SOURCE"


def normalize_source(source: str) -> str:
    """Normalizes a source URI so that one data set always gets the same identity.

    gs:// URIs keep their bucket and path; local paths become absolute POSIX paths; trailing
    slashes and trailing Hive span folders (``date=2026-11-23``) are removed, so every span of
    a source shares its baselines.

    Args:
        source: The source URI or path as the run was given it.

    Returns:
        The normalized URI.
    """
    text = source.strip()
    if storage.is_gcs(text):
        scheme, rest = "gs://", text[len("gs://") :]
    else:
        scheme, rest = "", os.path.abspath(os.path.expanduser(text)).replace(os.sep, "/")
    parts = [p for p in rest.split("/") if p]
    while len(parts) > 1 and _SPAN_FOLDER.match(parts[-1]):
        parts.pop()
    return scheme + ("/" if not scheme else "") + "/".join(parts)


def source_key(source: str) -> str:
    """The store key of a source: a short SHA-256 of its normalized URI.

    Args:
        source: Source URI or path.

    Returns:
        16 hex characters.
    """
    return hashlib.sha256(normalize_source(source).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StoredStatistics:
    """Statistics read back from the store.

    Attributes:
        span: The span key they belong to.
        statistics: The statistics.
    """

    span: str
    statistics: statistics_pb2.DatasetFeatureStatisticsList


class StatisticsStore:
    """A statistics store at a local folder or gs:// prefix, for one source."""

    def __init__(self, uri: str, source: str = "") -> None:
        """Opens a store (nothing is created until the first write).

        Args:
            uri: Local folder or gs:// prefix.
            source: The data set's URI: its baselines live under ``source=<key>/``. Empty:
                the store root (one baseline history for everything).
        """
        self.root = uri.rstrip("/")
        self.source = normalize_source(source) if source else ""
        self.uri = storage.join(self.root, f"source={source_key(source)}") if source else self.root

    def _entry(self, span: str) -> str:
        return storage.join(self.uri, f"span={span or UNSPANNED}", "statistics.pb")

    def spans(self) -> list[str]:
        """Lists the stored span keys, sorted.

        Returns:
            The keys (``unspanned`` included when present).
        """
        keys = []
        base = self.uri.replace("\\", "/").rstrip("/") + "/"
        for uri in storage.list_files(self.uri):
            relative = uri.replace("\\", "/")[len(base) :]
            match = _ENTRY.fullmatch(relative)  # a source's entries are not the root's
            if match:
                keys.append(match.group(1))
        return sorted(keys)

    def latest(self) -> str:
        """Returns the key written last (``""`` when the store is empty).

        Returns:
            The key.
        """
        pointer = storage.join(self.uri, "LATEST")
        if not storage.is_file(pointer):
            return ""
        return storage.read_bytes(pointer).decode().strip()

    def read(self, span: str) -> StoredStatistics:
        """Reads the statistics of one span.

        Args:
            span: The span key.

        Returns:
            The stored statistics.

        Raises:
            InputDataError: Nothing is stored for the span, or the entry is corrupt.
        """
        uri = self._entry(span)
        return StoredStatistics(
            span or UNSPANNED, stats_lib.from_bytes(storage.read_bytes(uri), uri)
        )

    def previous(self, span: str, previous_span: str = "") -> StoredStatistics | None:
        """Finds the baseline statistics for a span (see the module's policy).

        Args:
            span: The current span (``""`` = unspanned).
            previous_span: The previous span as ingest reported it (``""`` = unknown).

        Returns:
            The baseline, or None when the store holds none.
        """
        stored = self.spans()
        if previous_span and previous_span in stored:
            return self.read(previous_span)
        if span:
            earlier = [s for s in stored if s < span and s != UNSPANNED]
            return self.read(earlier[-1]) if earlier else None
        latest = self.latest()
        if latest and latest in stored:
            return self.read(latest)
        return None

    def write(self, span: str, statistics: statistics_pb2.DatasetFeatureStatisticsList) -> str:
        """Stores the statistics of a span that passed and points LATEST at it.

        Args:
            span: The span (``""`` = unspanned).
            statistics: The statistics.

        Returns:
            The URI written.
        """
        uri = self._entry(span)
        storage.write_bytes(uri, stats_lib.to_bytes(statistics))
        storage.write_bytes(storage.join(self.uri, "LATEST"), (span or UNSPANNED).encode())
        if self.source:
            storage.write_bytes(storage.join(self.uri, "SOURCE"), self.source.encode())
            storage.write_bytes(storage.join(self.root, LATEST_SOURCE), self.source.encode())
        logger.info("stored statistics of span %r", span or UNSPANNED)
        return uri


def latest_source(uri: str) -> str:
    """The source whose statistics a store received last (``""`` when none or no store).

    Monitoring compares serving with the training data: without an explicit training source it
    takes the one trained on last.

    Args:
        uri: Local folder, gs:// prefix or ``""``.

    Returns:
        The normalized source URI, or ``""``.
    """
    if not uri:
        return ""
    pointer = storage.join(uri.rstrip("/"), LATEST_SOURCE)
    if not storage.is_file(pointer):
        return ""
    return storage.read_bytes(pointer).decode().strip()


def open_store(uri: str, source: str = "") -> StatisticsStore | None:
    """Opens a store, or returns None for ``""``.

    Args:
        uri: Local folder, gs:// prefix or ``""``.
        source: The data set's URI (baselines per source); ``""`` = the store root.

    Returns:
        The store or None.

    Raises:
        InputDataError: The URI names a file.
    """
    if not uri:
        return None
    if storage.is_file(uri):
        raise InputDataError(f"{uri}: the statistics store must be a folder, not a file")
    return StatisticsStore(uri, source)


def accept_baseline_hint(store_uri: str, source: str, data_uri: str, span: str = "") -> str:
    """The sentence a drift failure ends with: how to accept this data as the new baseline.

    Args:
        store_uri: The statistics store.
        source: The data set's URI (``""`` = the store root).
        data_uri: The de-identified table that failed on drift.
        span: Its span (``""`` = unspanned).

    Returns:
        The hint, with the command to run.
    """
    command = (
        "python -m quizops.validation.store accept-baseline "
        f"--statistics-store {shlex.quote(store_uri)}"
        + (f" --source {shlex.quote(source)}" if source else "")
        + f" --data {shlex.quote(data_uri)}"
        + (f" --span {shlex.quote(span)}" if span else "")
    )
    return (
        "if the change is expected (a new data set or a new course), accept this data as the "
        f"new drift baseline with: {command} (validation environment), then run again"
    )


def accept_baseline(store_uri: str, source: str, data_uri: str, span: str = "") -> str:
    """Makes a de-identified table's statistics the drift baseline of a source.

    Args:
        store_uri: The statistics store (local folder or gs:// prefix).
        source: The data set's URI (``""`` = the store root).
        data_uri: A de-identified canonical Parquet table (local or gs://).
        span: The span to store it as (``""`` = unspanned, which every later unspanned run of
            the source compares with).

    Returns:
        The URI of the statistics written.

    Raises:
        InputDataError: The store names a file, or the table cannot be read.
    """
    store = open_store(store_uri, source)
    if store is None:
        raise InputDataError("accept-baseline: --statistics-store is empty")
    statistics = stats_lib.generate_statistics(stats_lib.read_table(data_uri))
    uri = store.write(span, statistics)
    logger.info("accepted a new drift baseline for span %r", span or UNSPANNED)
    return uri


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``accept-baseline`` subcommand (for a dispatcher that lists this module).

    Args:
        subparsers: The dispatcher's subparsers.
    """
    parser = subparsers.add_parser(
        "accept-baseline",
        help="make a de-identified table's statistics the drift baseline of its source",
    )
    parser.add_argument("--statistics-store", required=True, help="store folder or gs:// prefix")
    parser.add_argument("--source", default="", help="the data set's URI (baselines per source)")
    parser.add_argument("--data", required=True, help="de-identified canonical Parquet table")
    parser.add_argument("--span", default="", help="span to store it as (default: unspanned)")
    parser.set_defaults(handler=_accept_baseline_command)


def _accept_baseline_command(args: argparse.Namespace) -> int:
    uri = accept_baseline(args.statistics_store, args.source, args.data, args.span)
    print(f"new drift baseline: {uri}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m quizops.validation.store accept-baseline ...``.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status (2 on bad input).
    """
    parser = argparse.ArgumentParser(prog="python -m quizops.validation.store")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except QuizopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
