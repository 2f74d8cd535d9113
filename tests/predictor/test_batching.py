"""The scoring hand-off: requests of one event-loop iteration are scored in one pass."""

import asyncio
import threading

import pytest

from quizops_predictor.batching import Batcher


class _Recorder:
    """A score_batch that answers each payload doubled and records its passes."""

    def __init__(self) -> None:
        self.passes: list[list[int]] = []
        self.threads: set[str] = set()

    def __call__(self, batch):
        self.passes.append([payload for payload, _ in batch])
        self.threads.add(threading.current_thread().name)
        return [(None, ValueError("odd")) if p == 7 else (2 * p, None) for p, _ in batch]


async def _gather(batcher, payloads):
    return await asyncio.gather(
        *(batcher.submit(p, f"r-{p}") for p in payloads), return_exceptions=True
    )


def test_requests_of_one_loop_iteration_are_scored_in_one_pass_off_the_loop():
    recorder = _Recorder()
    batcher = Batcher(recorder, name="score")
    try:
        answers = asyncio.run(asyncio.wait_for(_gather(batcher, [1, 2, 3, 4, 5]), 10))
    finally:
        batcher.close()
    assert answers == [2, 4, 6, 8, 10]
    assert recorder.passes == [[1, 2, 3, 4, 5]]
    assert recorder.threads == {"score-0"}


def test_a_pass_holds_at_most_max_requests_and_errors_stay_with_their_request():
    recorder = _Recorder()
    batcher = Batcher(recorder, max_requests=2)
    try:
        answers = asyncio.run(asyncio.wait_for(_gather(batcher, [1, 7, 3, 4, 5]), 10))
    finally:
        batcher.close()
    assert answers[0] == 2 and answers[2:] == [6, 8, 10]
    assert isinstance(answers[1], ValueError)
    assert recorder.passes == [[1, 7], [3, 4], [5]]


def test_requests_still_waiting_for_the_hand_off_at_close_fail_instead_of_hanging():
    recorder = _Recorder()
    batcher = Batcher(recorder)

    async def scenario():
        task = asyncio.ensure_future(batcher.submit(1, "r-1"))
        await asyncio.sleep(0)  # submit ran; its hand-off waits for the next loop iteration
        batcher.close()
        with pytest.raises(RuntimeError, match="stopped"):
            await asyncio.wait_for(task, 5)
        with pytest.raises(RuntimeError, match="stopped"):
            await batcher.submit(2, "r-2")

    asyncio.run(scenario())
    assert recorder.passes == []
