"""Opportunistic batching: requests that queue while the scorer works are scored together.

The event loop never scores. Each inference request is handed to a small pool of scoring
threads (one by default: the GIL serializes scoring anyway) through a queue; a scoring thread
takes everything queued (up to ``max_requests``), parses each request, scores all their
instances in one pass of the policy (one model call per distinct candidate list), then answers
each request. Nothing waits for a batch to fill: at low load a batch is one request and adds no
latency; under load the per-call cost of the gain model is shared (as Triton's dynamic batcher
does, without its delay). A request that fails to parse fails alone; if the shared pass fails,
the batch's requests are scored one by one so that each gets its own answer or error.

The hand-off is batched both ways. The requests an event loop receives in one iteration of the
loop are queued together, by one callback at the end of that iteration (``loop.call_soon``:
no timer, no added wait), so that a scoring thread is woken once per group rather than once per
request; the answers of a pass come back in one ``call_soon_threadsafe`` per loop. Waking a
thread and handing the GIL back and forth cost about as much per request as scoring it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class _Job:
    payload: Any
    request_id: str
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _resolve_all(outcomes: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        _resolve(future, result, error)


class Batcher:
    """Scoring threads fed by a queue; see the module docstring."""

    def __init__(
        self,
        score_batch: Callable[[list[tuple[Any, str]]], list[tuple[Any, BaseException | None]]],
        threads: int = 1,
        max_requests: int = 32,
        thread_setup: Callable[[], None] | None = None,
        name: str = "score",
    ) -> None:
        """Starts the scoring threads.

        Args:
            score_batch: Scores ``(payload, request_id)`` pairs; returns ``(answer, error)``
                per pair, in order.
            threads: Scoring threads.
            max_requests: Most requests scored in one pass.
            thread_setup: Called first in each scoring thread (thread-local settings such as
                the OpenMP thread count).
            name: Thread name prefix.
        """
        self._score_batch = score_batch
        self.max_requests = max(1, int(max_requests))
        self._thread_setup = thread_setup
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        #: Jobs received in the current iteration of each event loop, not yet queued. Only the
        #: loop's own thread touches its list.
        self._arrived: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{n}", daemon=True)
            for n in range(max(1, int(threads)))
        ]
        for thread in self._threads:
            thread.start()

    async def submit(self, payload: Any, request_id: str) -> Any:
        """Queues one request and waits for its answer.

        Args:
            payload: The decoded request.
            request_id: Its id.

        Returns:
            The answer.

        Raises:
            RuntimeError: The batcher is closed.
            Exception: Whatever scoring raised for this request.
        """
        loop = asyncio.get_running_loop()
        if self._closed:
            raise RuntimeError("the scorer is stopped")
        future = loop.create_future()
        arrived = self._arrived.get(loop)
        if arrived is None:  # the first request of this iteration: queue the group after it
            arrived = self._arrived[loop] = []
            loop.call_soon(self._hand_over, loop)
        arrived.append(_Job(payload, request_id, loop, future))
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Queues the jobs one loop received in an iteration (on that loop's thread)."""
        jobs = self._arrived.pop(loop, None)
        if not jobs:
            return
        with self._lock:  # never after the closing sentinel: those jobs would never be scored
            if not self._closed:
                self._queue.put(jobs)
                return
        error = RuntimeError("the scorer is stopped")
        _resolve_all([(job.future, None, error) for job in jobs])

    def _take(self, carry: list[_Job]) -> tuple[list[_Job], list[_Job]] | None:
        """Blocks for jobs, then takes what else is queued, up to ``max_requests``.

        Args:
            carry: Jobs left over from the previous pass (scored first, without blocking).

        Returns:
            ``(jobs to score now, jobs left for the next pass)``, or None when closed and
            drained.
        """
        jobs = list(carry)
        if not jobs:
            first = self._queue.get()
            if first is None:
                return None
            jobs = first
        while len(jobs) < self.max_requests:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:  # closing: score these, then stop
                self._queue.put(None)
                break
            jobs += more
        return jobs[: self.max_requests], jobs[self.max_requests :]

    def _run(self) -> None:
        if self._thread_setup is not None:
            self._thread_setup()
        carry: list[_Job] = []
        while True:
            taken = self._take(carry)
            if taken is None:
                return
            jobs, carry = taken
            try:
                results = self._score_batch([(job.payload, job.request_id) for job in jobs])
            except BaseException as exc:  # never leave a caller waiting
                logger.error("scoring pass failed (%s)", type(exc).__name__)
                results = [(None, exc)] * len(jobs)
            # One wake-up of each event loop per batch, not one per request.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future, Any, Any]]] = {}
            for job, (answer, error) in zip(jobs, results, strict=True):
                by_loop.setdefault(job.loop, []).append((job.future, answer, error))
            for loop, outcomes in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_resolve_all, outcomes)
                except RuntimeError:  # the loop is closed: nobody is waiting
                    pass

    def close(self, timeout: float = 30.0) -> None:
        """Scores what is queued, then stops the threads (bounded wait).

        Args:
            timeout: Seconds to wait for each thread.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._threads:
            self._queue.put(None)  # after every queued job: those are scored first
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=timeout)
