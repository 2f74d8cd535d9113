"""The predictor's online state: what it reads equals the offline pass, answers sent one at a
time end in the offline recomputation, and a retried request applies its answer once."""

import dataclasses

import numpy as np
import pytest

from quizops.errors import FeatureStoreError, InputDataError
from quizops.featurestore.online import OnlineStateStore
from tests.featurestore.conftest import KEY, history_of


@pytest.fixture(scope="module")
def online(materialized, feature_set):
    repo, _ = materialized
    return OnlineStateStore(repo, feature_set.tracer, KEY)


def session(feature_set, length: int, seed: int) -> list[tuple[str, int]]:
    rng = np.random.default_rng(seed)
    bank = sorted(feature_set.tracer.item_skill)
    return [(bank[int(rng.integers(len(bank)))], int(rng.integers(2))) for _ in range(length)]


def test_state_read_for_a_student_equals_the_offline_pass(online, raw_log, feature_set):
    for student in sorted(set(raw_log["student_id"]))[:10]:
        history = history_of(raw_log, student)
        state, applied = online.advance(student)  # no answer: read only
        assert not applied and state.found
        np.testing.assert_allclose(
            state.state, feature_set.tracer.state_after(history), rtol=0, atol=1e-12
        )
        assert state.n_answers == len(history)
        assert state.n_correct == sum(c for _, c in history)
        assert state.last_item_id == history[-1][0]


def test_unknown_student_starts_from_the_prior(online, feature_set):
    state, applied = online.advance("never-seen-student")
    assert not state.found and not applied and state.n_answers == 0
    np.testing.assert_array_equal(state.state, feature_set.tracer.initial_state())


def test_twenty_answers_one_at_a_time_end_in_the_offline_recomputation(online, feature_set):
    answers = session(feature_set, 20, seed=1)
    for n, answer in enumerate(answers):
        _, applied = online.advance("new-student-20", answer, request_id=f"r{n}")
        assert applied
    # Read back from the store (not the returned object) and recompute offline from scratch.
    stored, _ = online.advance("new-student-20")
    np.testing.assert_allclose(
        stored.state, feature_set.tracer.state_after(answers), rtol=0, atol=1e-12
    )
    assert stored.n_answers == 20
    assert stored.n_correct == sum(c for _, c in answers)
    assert stored.recent_request_ids[-1] == "r19"


def test_a_known_student_continues_from_the_materialized_state(online, raw_log, feature_set):
    student = sorted(set(raw_log["student_id"]))[-1]
    history = history_of(raw_log, student)
    more = session(feature_set, 20, seed=2)
    for n, answer in enumerate(more):
        online.advance(student, answer, request_id=f"k{n}")
    stored, _ = online.advance(student)
    np.testing.assert_allclose(
        stored.state, feature_set.tracer.state_after(history + more), rtol=0, atol=1e-12
    )
    assert stored.n_answers == len(history) + 20


def test_a_retried_request_does_not_apply_its_answer_twice(online, feature_set):
    first, applied = online.advance("retry-student", ("i03", 1), request_id="req-1")
    assert applied
    again, applied_again = online.advance("retry-student", ("i03", 1), request_id="req-1")
    assert not applied_again
    np.testing.assert_array_equal(again.state, first.state)
    assert again.n_answers == 1
    once = feature_set.tracer.state_after([("i03", 1)])
    twice = feature_set.tracer.state_after([("i03", 1), ("i03", 1)])
    assert not np.allclose(once, twice)  # applying it twice would be visible
    np.testing.assert_allclose(again.state, once, rtol=0, atol=1e-12)
    # A new request id applies its answer; without a request id every call applies.
    after, applied = online.advance("retry-student", ("i03", 1), request_id="req-2")
    assert applied and after.n_answers == 2
    np.testing.assert_allclose(after.state, twice, rtol=0, atol=1e-12)


def test_a_bad_answer_writes_nothing(online):
    before, _ = online.advance("bad-answer-student", ("i01", 0), request_id="a")
    with pytest.raises(InputDataError) as info:
        online.advance("bad-answer-student", ("i01", 2), request_id="c")
    assert "answer.correct" in str(info.value)
    after, _ = online.advance("bad-answer-student")
    assert after.n_answers == before.n_answers == 1
    np.testing.assert_array_equal(after.state, before.state)


def test_an_answer_on_an_unknown_item_counts_but_leaves_the_state(online):
    # An item added to the bank since training has no fitted parameters: the tracer skips it
    # (as offline and in the stateless form); the answer is still counted.
    before, _ = online.advance("new-item-student", ("i01", 0), request_id="a")
    after, _ = online.advance("new-item-student", ("no-such-item-123", 1), request_id="b")
    assert after.n_answers == before.n_answers + 1
    np.testing.assert_array_equal(after.state, before.state)


def test_each_tracer_version_keeps_its_own_states(materialized, raw_log, feature_set, online):
    """A champion and a canary (different tracers) share the store without reading each
    other's states: another tracer starts from its prior and its answers leave ours alone."""
    repo, _ = materialized
    params = [
        dataclasses.replace(p, p_learn=min(0.9, p.p_learn + 0.1)) for p in feature_set.tracer.params
    ]
    other = dataclasses.replace(feature_set.tracer, params=params)
    canary = OnlineStateStore(repo, other, KEY)
    assert canary.version != online.version
    student = sorted(set(raw_log["student_id"]))[0]
    ours_before, _ = online.advance(student)
    state, _ = canary.advance(student)
    assert not state.found
    np.testing.assert_array_equal(state.state, other.initial_state())
    canary.advance(student, ("i02", 1), request_id="canary-1")
    assert canary.advance(student)[0].n_answers == 1
    ours_after, _ = online.advance(student)
    assert ours_after.n_answers == ours_before.n_answers
    np.testing.assert_array_equal(ours_after.state, ours_before.state)


def test_missing_repository_is_a_feature_store_error(tmp_path, feature_set):
    with pytest.raises(FeatureStoreError, match=r"feature_store\.yaml"):
        OnlineStateStore(tmp_path / "nothing", feature_set.tracer, KEY)
    with pytest.raises(FeatureStoreError, match="key"):
        OnlineStateStore(tmp_path, feature_set.tracer, b"short")


def test_item_parameters_are_served_online(materialized, feature_set):
    from quizops.featurestore.config import open_store
    from quizops.featurestore.offline import item_tags

    repo, result = materialized
    store = open_store(repo)
    items = sorted(feature_set.tracer.item_skill)[:4]
    got = store.get_online_features(
        features=["item_params:tag_skills", "item_params:tag_guess"],
        entity_rows=[{"item_id": i, "tracer_version": result.tracer_version} for i in items],
    ).to_dict()
    for n, item in enumerate(items):
        tags = item_tags(feature_set.tracer, item)
        assert got["tag_skills"][n] == [t[0] for t in tags]
        assert got["tag_guess"][n] == pytest.approx([t[1] for t in tags], abs=0)


def test_online_writes_and_feast_public_api_agree(online, feature_set):
    """What the predictor writes, Feast's get_online_features reads; what a Feast push writes,
    the predictor reads (the provider path is the public API's own end point)."""
    import pandas as pd
    from feast.data_source import PushMode

    written, _ = online.advance("api-student", ("i05", 1), request_id="api-1")
    pseudonym = online.pseudonym("api-student")
    got = online.store.get_online_features(
        features=["student_state:state", "student_state:n_answers",
                  "student_state:recent_request_ids"],
        entity_rows=[{"student_pseudonym": pseudonym, "tracer_version": online.version}],
    ).to_dict()  # fmt: skip
    assert got["state"][0] == list(written.state)
    assert got["n_answers"][0] == 1 and got["recent_request_ids"][0] == ["api-1"]
    pushed = feature_set.tracer.state_after([("i05", 1), ("i06", 0)])
    online.store.push(
        "student_state_push",
        pd.DataFrame(
            {
                "student_pseudonym": [pseudonym],
                "event_timestamp": [pd.Timestamp.now(tz="UTC")],
                "state": [pushed],
                "n_answers": [2],
                "n_correct": [1],
                "last_item_id": ["i06"],
                "last_answer_ms": [0],
                "recent_request_ids": [["api-1", "api-2"]],
                "tracer_version": [online.version],
            }
        ),
        to=PushMode.ONLINE,
    )
    state = online.read(pseudonym)
    np.testing.assert_array_equal(state.state, pushed)
    assert state.n_answers == 2 and state.applied("api-2")


def test_concurrent_retries_apply_the_answer_once(online, feature_set):
    """Eight threads send the same request at once (a client retrying on a timeout)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda _: online.advance("racing-student", ("i09", 0), request_id="race-1"),
                range(8),
            )
        )
    assert sum(applied for _, applied in results) == 1
    stored, _ = online.advance("racing-student")
    assert stored.n_answers == 1
    np.testing.assert_allclose(
        stored.state, feature_set.tracer.state_after([("i09", 0)]), rtol=0, atol=1e-12
    )
