"""The statistics store: the statistics of each validated span, for drift against the next.

Layout under the store URI (local folder or gs:// prefix)::

    span=<span>/statistics.pb     binary DatasetFeatureStatisticsList of a span that passed
    LATEST                        the key of the span written last

Policy:

- only statistics of spans that passed the gate are written (a failed span never becomes the
  baseline the next span is compared with);
- the previous statistics of span S are those of the greatest stored span below S (re-running
  S compares with its predecessor, never with itself); an explicit ``previous_span`` wins
  when it is stored;
- a run without a span (the whole source) is stored as ``span=unspanned`` and compares with
  whatever was written last (``LATEST``), so repeated local runs still see drift;
- writing the same span again replaces its statistics (re-runs are idempotent).

The store holds statistics only (identifying top values already removed), never data.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from tensorflow_metadata.proto.v0 import statistics_pb2

from quizops import storage
from quizops.errors import InputDataError
from quizops.validation import statistics as stats_lib

logger = logging.getLogger(__name__)

UNSPANNED = "unspanned"
_ENTRY = re.compile(r"span=([^/]+)/statistics\.pb$")


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
    """A statistics store at a local folder or gs:// prefix."""

    def __init__(self, uri: str) -> None:
        """Opens a store (nothing is created until the first write).

        Args:
            uri: Local folder or gs:// prefix.
        """
        self.uri = uri.rstrip("/")

    def _entry(self, span: str) -> str:
        return storage.join(self.uri, f"span={span or UNSPANNED}", "statistics.pb")

    def spans(self) -> list[str]:
        """Lists the stored span keys, sorted.

        Returns:
            The keys (``unspanned`` included when present).
        """
        keys = []
        for uri in storage.list_files(self.uri):
            match = _ENTRY.search(uri.replace("\\", "/"))
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
        logger.info("stored statistics of span %r", span or UNSPANNED)
        return uri


def open_store(uri: str) -> StatisticsStore | None:
    """Opens a store, or returns None for ``""``.

    Args:
        uri: Local folder, gs:// prefix or ``""``.

    Returns:
        The store or None.

    Raises:
        InputDataError: The URI names a file.
    """
    if not uri:
        return None
    if storage.is_file(uri):
        raise InputDataError(f"{uri}: the statistics store must be a folder, not a file")
    return StatisticsStore(uri)
