"""Garbage-collector settings of the served process (quizops_predictor.heap)."""

import gc
import re

import pytest

from quizops.policy import QuizPolicy
from quizops.serving import PredictorProcess
from quizops_predictor import heap
from quizops_predictor.model import QuizPolicyModel


@pytest.fixture
def restore_gc():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()  # this test process keeps collecting everything, as before
    gc.set_threshold(*threshold)


def test_young_threshold_keeps_the_older_generations(restore_gc):
    _, middle, old = gc.get_threshold()
    heap.set_young_threshold(4321)
    assert gc.get_threshold() == (4321, middle, old)
    with pytest.raises(ValueError, match="at least 1"):
        heap.set_young_threshold(0)


def test_model_freezes_at_load_and_after_its_first_pass_only(policy_dir, restore_gc):
    gc.unfreeze()
    m = QuizPolicyModel(QuizPolicy.load(policy_dir), "7", seed=1, freeze_heap=True)
    try:
        m.load()
        at_load = gc.get_freeze_count()
        assert at_load > 1000
        kept = [object() for _ in range(10)] + [[n] for n in range(500)]  # long-lived, tracked
        body = {"instances": [{"student_id": "a", "history": []}]}
        m._score_pass([(body, "r-1")])
        after_first = gc.get_freeze_count()
        assert after_first >= at_load + 500
        more = [[n] for n in range(500)]
        m._score_pass([(body, "r-2")])
        # Later passes freeze nothing. The permanent generation is what gc.get_objects() leaves
        # out: the lists made before the first pass are in it, the 500 made after it are not.
        # (The count itself can only be bounded above: frozen objects that other threads of a
        # long test session free by reference counting lower it.)
        assert gc.get_freeze_count() <= after_first
        tracked = {id(o) for o in gc.get_objects()}
        assert not any(id(o) in tracked for o in kept[10:])
        assert all(id(o) in tracked for o in more)
    finally:
        m.stop()


def test_a_model_without_freeze_heap_leaves_the_collector_alone(policy_dir, restore_gc):
    gc.unfreeze()
    m = QuizPolicyModel(QuizPolicy.load(policy_dir), "7", seed=1)
    try:
        m.load()
        m._score_pass([({"instances": [{"student_id": "a", "history": []}]}, "r-1")])
        assert gc.get_freeze_count() == 0
    finally:
        m.stop()


@pytest.mark.service
def test_the_served_process_freezes_twice_and_answers(policy_dir, tmp_path):
    env = {"QUIZOPS_PII_KEY": "00" * 16, "QUIZOPS_HOME": str(tmp_path / "home")}
    process = PredictorProcess(
        model_dir=policy_dir,
        decisions_dir=tmp_path / "d",
        env=env,
        extra_args=["--gc-young-threshold", "5000"],
    )
    with process:
        status, _ = process.predict_v1([{"student_id": "a", "history": []}])
        assert status == 200
        status, _ = process.predict_v1([{"student_id": "b", "history": []}])
        assert status == 200
        process.stop()
    frozen = re.findall(r"(\d+) long-lived objects frozen", process.log_path.read_text())
    assert len(frozen) == 2 and int(frozen[1]) > int(frozen[0]) > 1000
