"""The decision log: one JSON line per served decision, for off-policy evaluation later.

A record (layout: :data:`quizops.serving.DECISION_FIELDS`) holds the time, the request id and
the instance's position, the pseudonymized student id (the PII stage's HMAC-SHA256 pseudonym
under the project's key, so that decisions join the training data; left out when no key is
configured), the history length, the candidates (or their digest and the item-bank version),
the knowledge state the policy acted on, the chosen item, its propensity, the policy version,
the serving variant and the protocol. Raw student ids never reach a sink.

Sinks:

* :class:`LocalJsonlSink`: appends to ``decisions-<UTC date>.jsonl`` in a folder, at once.
* :class:`GcsJsonlSink`: ``gs://bucket/prefix``; records are batched in memory and uploaded as
  new objects ``date=<day>/decisions-<day>-<writer>-<n>.jsonl`` when a batch is full or old
  enough, and on :meth:`~GcsJsonlSink.close` (the server closes its sink on SIGTERM). A failed
  upload keeps its records and is retried; what still cannot be uploaded at close is spilled to
  a local folder, never dropped.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import hmac
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from quizops import storage
from quizops.errors import DecisionSinkError
from quizops.home import load_pii_key
from quizops.serving import MAX_LOGGED_CANDIDATES, decision_object_name, items_digest

logger = logging.getLogger(__name__)

Record = dict[str, Any]


def configured_pii_key() -> bytes | None:
    """Returns the pseudonymization key, or None when none is configured.

    Returns:
        The key bytes or None.
    """
    try:
        return load_pii_key()
    except RuntimeError as exc:
        logger.warning("decision log without student ids: %s", exc)
        return None


@functools.lru_cache(maxsize=16)
def _keyed_hmac(key: bytes) -> hmac.HMAC:
    # The keyed state of the PII stage's student_id domain, computed once per key.
    return hmac.new(key, b"quizops/student_id\x00", hashlib.sha256)


@functools.lru_cache(maxsize=65_536)
def pseudonymize(student_id: str, key: bytes) -> str:
    """Pseudonymizes a student id exactly as the PII stage does, so decisions join training data.

    The same HMAC as :func:`quizops.pii.deidentify.pseudonymize_values` (domain
    ``student_id``, prefix ``p_``, 24 hex characters), without a pandas Series per call; a
    test checks the two agree.

    Args:
        student_id: The raw id.
        key: The pseudonymization key (at least 16 bytes).

    Returns:
        The pseudonym.

    Raises:
        ValueError: The key is shorter than 16 bytes.
    """
    if len(key) < 16:
        raise ValueError("the pseudonymization key must be at least 16 bytes")
    mac = _keyed_hmac(key).copy()
    mac.update(student_id.encode())
    return "p_" + mac.hexdigest()[:24]


def _day(record: Record) -> str:
    return str(record["time"])[:10]


def _line(record: Record) -> bytes:
    # orjson (a KServe dependency) writes the same compact JSON as json.dumps, several times
    # faster; the scoring thread writes one line per decision.
    return orjson.dumps(record) + b"\n"


class DecisionSink(abc.ABC):
    """Where decision records go."""

    #: Human-readable location (a folder or gs:// URI), for log lines.
    location: str = ""

    @abc.abstractmethod
    def write(self, records: Sequence[Record]) -> None:
        """Accepts records (written now or batched).

        Args:
            records: Decision records.
        """

    def flush(self) -> None:  # noqa: B027 - optional for sinks that write at once
        """Writes out anything batched."""

    def close(self) -> None:
        """Flushes and releases the sink."""
        self.flush()


class LocalJsonlSink(DecisionSink):
    """Appends records to ``decisions-<UTC date>.jsonl`` under a folder (thread-safe)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        """Opens the sink.

        Args:
            directory: The decisions folder (created if missing).
        """
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.location = str(self.directory)
        self._lock = threading.Lock()
        self._day = ""
        self._handle: Any = None

    def path_for(self, day: str) -> Path:
        """The file of one UTC day.

        Args:
            day: ``YYYY-MM-DD``.

        Returns:
            The path.
        """
        return self.directory / f"decisions-{day}.jsonl"

    def write(self, records: Sequence[Record]) -> None:
        """Appends records, one line each, to their day's file.

        Args:
            records: Decision records.

        Raises:
            DecisionSinkError: The file cannot be written.
        """
        by_day: dict[str, list[bytes]] = defaultdict(list)
        for record in records:
            by_day[_day(record)].append(_line(record))
        try:
            with self._lock:
                for day, lines in by_day.items():
                    if day != self._day or self._handle is None:
                        self._close_handle()
                        # Unbuffered: each write is one append, nothing waits in memory.
                        self._handle = open(self.path_for(day), "ab", buffering=0)
                        self._day = day
                    self._handle.write(b"".join(lines))
        except OSError as exc:
            self._close_handle()
            raise DecisionSinkError(
                f"{self.directory}: cannot append decisions ({type(exc).__name__})"
            ) from exc

    def _close_handle(self) -> None:
        if self._handle is not None:
            try:
                self._handle.close()
            finally:
                self._handle, self._day = None, ""

    def close(self) -> None:
        """Closes the open file."""
        with self._lock:
            self._close_handle()


class GcsJsonlSink(DecisionSink):
    """Batches records and uploads each batch as a new JSONL object under ``gs://bucket/prefix``."""

    def __init__(
        self,
        uri: str,
        max_records: int = 1000,
        max_seconds: float = 10.0,
        spill_directory: str | os.PathLike[str] | None = None,
        writer: str | None = None,
        on_failure: Any = None,
    ) -> None:
        """Opens the sink and starts its flusher thread.

        Args:
            uri: ``gs://bucket/prefix``.
            max_records: A batch this large is uploaded at once.
            max_seconds: A batch is uploaded at the latest this long after its first record.
            spill_directory: Local folder for records that cannot be uploaded at close
                (default: ``$TMPDIR/quizops-decisions-spill``).
            writer: Id of this process in object names (default: host and pid).
            on_failure: Called with no argument after each failed upload (metrics).
        """
        if not storage.is_gcs(uri):
            raise DecisionSinkError(f"{uri}: not a gs:// URI")
        self.bucket_name, prefix = storage.split_gcs(uri.rstrip("/"))
        self.prefix = prefix.strip("/")
        self.location = uri
        self.max_records = max(1, int(max_records))
        self.max_seconds = float(max_seconds)
        self.spill_directory = Path(
            spill_directory or Path(os.environ.get("TMPDIR", "/tmp")) / "quizops-decisions-spill"
        )
        self.writer = writer or f"{socket.gethostname()}-{os.getpid()}"
        self._on_failure = on_failure
        self._client = storage.gcs_client()
        self._bucket = self._client.bucket(self.bucket_name)
        self._buffer: list[Record] = []
        self._oldest: float | None = None
        self._sequence = 0
        self._lock = threading.Lock()  # guards the buffer
        self._upload_lock = threading.Lock()  # one upload at a time, in order
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="decision-log-gcs", daemon=True)
        self._thread.start()

    def write(self, records: Sequence[Record]) -> None:
        """Adds records to the current batch (uploaded by the flusher thread).

        Args:
            records: Decision records.

        Raises:
            DecisionSinkError: The sink is closed.
        """
        with self._lock:
            if self._closed:
                raise DecisionSinkError(f"{self.location}: decision sink is closed")
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.extend(records)
            if len(self._buffer) >= self.max_records:
                self._wake.notify()

    def _due(self) -> bool:
        if not self._buffer:
            return False
        if len(self._buffer) >= self.max_records:
            return True
        return self._oldest is not None and time.monotonic() - self._oldest >= self.max_seconds

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._due():
                    wait = self.max_seconds
                    if self._oldest is not None and self._buffer:
                        wait = max(0.01, self.max_seconds - (time.monotonic() - self._oldest))
                    self._wake.wait(timeout=wait)
                if self._closed:
                    return
            try:
                self.flush()
            except DecisionSinkError:
                # Records stay in the buffer; back off before the next attempt.
                with self._lock:
                    self._wake.wait(timeout=min(self.max_seconds, 5.0))

    def _take(self) -> list[Record]:
        with self._lock:
            batch, self._buffer, self._oldest = self._buffer, [], None
            return batch

    def _give_back(self, batch: list[Record]) -> None:
        with self._lock:
            self._buffer[:0] = batch
            self._oldest = time.monotonic() if self._buffer else None

    def flush(self) -> None:
        """Uploads the current batch, one object per UTC day of its records.

        Raises:
            DecisionSinkError: An upload failed (its records are kept for the next flush).
        """
        with self._upload_lock:
            batch = self._take()
            if not batch:
                return
            by_day: dict[str, list[Record]] = defaultdict(list)
            for record in batch:
                by_day[_day(record)].append(record)
            done: set[str] = set()
            try:
                for day, records in sorted(by_day.items()):
                    name = decision_object_name(day, self.writer, self._sequence)
                    if self.prefix:
                        name = f"{self.prefix}/{name}"
                    self._bucket.blob(name).upload_from_string(
                        b"".join(_line(r) for r in records),
                        content_type="application/x-ndjson",
                    )
                    self._sequence += 1
                    done.add(day)
            except Exception as exc:
                left = [r for r in batch if _day(r) not in done]
                self._give_back(left)
                if self._on_failure is not None:
                    self._on_failure()
                logger.warning(
                    "decision log: upload to %s failed (%s); %d record(s) kept for retry",
                    self.location,
                    type(exc).__name__,
                    len(left),
                )
                raise DecisionSinkError(
                    f"{self.location}: decision upload failed ({type(exc).__name__})"
                ) from exc
            logger.debug("decision log: uploaded %d record(s) to %s", len(batch), self.location)

    def close(self, attempts: int = 3) -> None:
        """Stops the flusher and uploads what is left; spills to local files what cannot be.

        Args:
            attempts: Upload attempts before spilling.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=30.0)
        for attempt in range(attempts):
            try:
                self.flush()
                return
            except DecisionSinkError:
                time.sleep(min(2.0, 0.2 * 2**attempt))
        left = self._take()
        if left:
            LocalJsonlSink(self.spill_directory).write(left)
            logger.error(
                "decision log: %d record(s) could not be uploaded to %s; spilled to %s",
                len(left),
                self.location,
                self.spill_directory,
            )


def open_sink(uri: str | os.PathLike[str], **gcs_options: Any) -> DecisionSink:
    """Opens the sink for a location.

    Args:
        uri: A local folder or ``gs://bucket/prefix``.
        **gcs_options: Passed to :class:`GcsJsonlSink`.

    Returns:
        The sink.
    """
    if storage.is_gcs(str(uri)):
        return GcsJsonlSink(str(uri), **gcs_options)
    return LocalJsonlSink(uri)


class DecisionLog:
    """Builds decision records and hands them to a sink."""

    def __init__(
        self,
        sink: DecisionSink | str | os.PathLike[str],
        key: bytes | None,
        variant: str = "champion",
        item_bank: Sequence[str] = (),
    ) -> None:
        """Opens the log.

        Args:
            sink: A sink, or a folder / gs:// URI to open one on.
            key: Pseudonymization key; None leaves the student id out of every record.
            variant: ``champion`` or ``canary``.
            item_bank: The served policy's item bank, in policy order.
        """
        self.sink = sink if isinstance(sink, DecisionSink) else open_sink(sink)
        self._key = key
        self.variant = variant
        self.item_bank = list(item_bank)
        self.item_bank_version = items_digest(self.item_bank)

    @property
    def location(self) -> str:
        """Where the records go."""
        return self.sink.location

    def record(
        self,
        *,
        request_id: str,
        instance: int,
        student_id: str,
        history_length: int,
        candidates: Sequence[str] | None,
        state: Sequence[float] | None,
        item_id: str,
        propensity: float,
        policy_version: str,
        protocol: str,
        unknown_history: int = 0,
        unknown_candidates: int = 0,
        now: datetime | None = None,
    ) -> Record:
        """Builds one record (nothing is written).

        Args:
            request_id: The request's id (caller's, or generated).
            instance: Position of the instance in the request.
            student_id: Raw student id (pseudonymized here, or dropped without a key).
            history_length: Answers in the instance's history.
            candidates: The explicit candidate list, or None for the whole bank.
            state: The knowledge state the policy acted on (per skill), if known.
            item_id: The chosen item.
            propensity: The probability the policy gave the chosen item.
            policy_version: The served policy version.
            protocol: ``v1`` or ``v2``.
            unknown_history: Answers on items outside the item bank (state left unchanged).
            unknown_candidates: Candidates outside the item bank (left out of the choice).
            now: The decision time (default: now, UTC).

        Returns:
            The record.
        """
        now = now or datetime.now(UTC)
        chosen_from = list(candidates) if candidates is not None else self.item_bank
        record: Record = {
            "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": request_id,
            "instance": instance,
        }
        if self._key is not None:
            record["student_pseudonym"] = pseudonymize(student_id, self._key)
        record.update(
            history_length=history_length,
            unknown_history=int(unknown_history),
            candidates=(
                chosen_from
                if candidates is not None and len(chosen_from) <= MAX_LOGGED_CANDIDATES
                else None
            ),
            candidates_count=len(chosen_from),
            unknown_candidates=int(unknown_candidates),
            candidates_sha256=(
                items_digest(chosen_from) if candidates is not None else self.item_bank_version
            ),
            item_bank_version=self.item_bank_version,
            state=None if state is None else [float(x) for x in state],
            item_id=item_id,
            propensity=float(propensity),
            policy_version=policy_version,
            variant=self.variant,
            protocol=protocol,
        )
        return record

    def write(self, records: Sequence[Record]) -> None:
        """Hands records to the sink.

        Args:
            records: Records from :meth:`record`.
        """
        if records:
            self.sink.write(records)

    def close(self) -> None:
        """Flushes and closes the sink."""
        self.sink.close()
