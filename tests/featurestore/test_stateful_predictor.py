"""The predictor's stateful form against a real Feast store: in process (the model) and as a
real predictor process on 127.0.0.1 (v1, v2 and tritonclient)."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

KSERVE_DIR = Path(__file__).resolve().parents[2] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops.featurestore.materialize import materialize_features  # noqa: E402
from quizops.featurestore.online import OnlineStateStore  # noqa: E402
from quizops.pii.deidentify import pseudonymize_values  # noqa: E402
from quizops.policy import QuizPolicy  # noqa: E402
from quizops_predictor.demo import save_demo_policy  # noqa: E402

PII_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
KEY = bytes.fromhex(PII_KEY)


def demo_log(policy: QuizPolicy, students: int = 12, answers: int = 15) -> pd.DataFrame:
    """Canonical rows over the demo policy's item bank, raw student ids t-00..."""
    rng = np.random.default_rng(11)
    bank = policy.item_bank
    rows = []
    for s in range(students):
        for k in range(answers):
            rows.append((f"t-{s:02d}", bank[int(rng.integers(len(bank)))], int(rng.integers(2)), k))
    df = pd.DataFrame(rows, columns=["student_id", "item_id", "correct", "timestamp"])
    df["timestamp"] = df["timestamp"] * 1000 + 1_700_000_000_000
    return df


def history(df: pd.DataFrame, student: str) -> list[tuple[str, int]]:
    rows = df[df["student_id"] == student].sort_values("timestamp")
    return list(zip(rows["item_id"], rows["correct"].astype(int), strict=True))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A demo policy and a home whose feature store the 'pipeline' materialized for it."""
    root = tmp_path_factory.mktemp("stateful")
    policy_dir = save_demo_policy(root / "policy", version="7")
    policy = QuizPolicy.load(policy_dir)
    log = demo_log(policy)
    clean = log.assign(student_id=pseudonymize_values(log["student_id"], KEY).astype(str))
    home = root / "home"
    materialize_features(clean, policy.tracer, policy.items, home / "feature_store")
    return {"policy_dir": policy_dir, "policy": policy, "log": log, "home": home}


def answers_for(policy: QuizPolicy, n: int, seed: int) -> list[tuple[str, int]]:
    rng = np.random.default_rng(seed)
    bank = policy.item_bank
    return [(bank[int(rng.integers(len(bank)))], int(rng.integers(2))) for _ in range(n)]


# --- in process -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(world):
    from quizops_predictor.model import QuizPolicyModel

    store = OnlineStateStore(world["home"] / "feature_store", world["policy"].tracer, KEY)
    m = QuizPolicyModel(world["policy"], "7", seed=3, state_store=store)
    m.load()
    yield m
    m.stop()


def test_stateful_choice_is_the_policy_choice_at_the_offline_state(world, model):
    from quizops.featurestore.serving import choose_from_states

    policy = world["policy"]
    for student in ("t-01", "t-02"):
        state = policy.tracer.state_after(history(world["log"], student))
        got = choose_from_states(policy, state[None, :], ["p100", "p105", "p110"],
                                 np.random.default_rng(5))  # fmt: skip
        want = policy.choose_many([history(world["log"], student)], ["p100", "p105", "p110"],
                                  np.random.default_rng(5))  # fmt: skip
        assert got == want
    answer = model.predict_now({"instances": [{"student_id": "t-01"}]})
    (prediction,) = answer["predictions"]
    assert prediction["item_id"] in policy.item_bank and 0 < prediction["propensity"] <= 1


def test_a_rejected_request_pushes_no_state(world, model):
    from quizops_predictor.model import FieldError

    store = model.state_store
    before = store.read(store.pseudonym("t-03"))
    body = {
        "instances": [
            {"student_id": "t-03", "answer": {"item_id": "p100", "correct": 1}, "request_id": "x"},
            {"student_id": "t-04", "history": [], "candidates": ["p100", "p100"]},
        ]
    }
    with pytest.raises(FieldError, match=r"instances\[1\]\.candidates"):
        model.predict_now(body)
    after = store.read(store.pseudonym("t-03"))
    assert after.n_answers == before.n_answers
    np.testing.assert_array_equal(after.state, before.state)


def test_two_instances_of_one_student_in_one_request_apply_in_order(world, model):
    policy = world["policy"]
    body = {
        "instances": [
            {"student_id": "fresh-1", "answer": {"item_id": "p101", "correct": 1}},
            {"student_id": "fresh-1", "answer": {"item_id": "p102", "correct": 0}},
        ]
    }
    model.predict_now(body)
    store = model.state_store
    state = store.read(store.pseudonym("fresh-1"))
    assert state.n_answers == 2
    np.testing.assert_allclose(
        state.state, policy.tracer.state_after([("p101", 1), ("p102", 0)]), atol=1e-12
    )


def test_without_a_store_the_stateful_form_is_a_400_naming_history(world):
    from quizops_predictor.model import FieldError, QuizPolicyModel

    m = QuizPolicyModel(world["policy"], "7")
    with pytest.raises(FieldError, match=r"^instances\[0\]\.history: required"):
        m.predict_now({"instances": [{"student_id": "t-01"}]})
    m.stop()


# --- a real predictor process on 127.0.0.1 ----------------------------------------------------


@pytest.fixture(scope="module")
def server(world, tmp_path_factory):
    from quizops.serving import PredictorProcess

    decisions = tmp_path_factory.mktemp("decisions")
    process = PredictorProcess(
        model_dir=world["policy_dir"],
        decisions_dir=decisions,
        env={"QUIZOPS_PII_KEY": PII_KEY, "QUIZOPS_HOME": str(world["home"])},
    )
    with process:
        process.decisions = decisions
        yield process


def _post(server, body, path="/v1/models/quiz-policy:predict"):
    from quizops.serving import http_json

    return http_json("POST", server.base_url + path, body)


def _records(server):
    lines = []
    for path in sorted(Path(server.decisions).rglob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line]
    return lines


@pytest.mark.service
def test_served_state_of_a_training_student_is_the_offline_pass(world, server):
    for n, student in enumerate(("t-05", "t-06")):
        body = {"instances": [{"student_id": student, "request_id": f"read-{n}"}]}
        status, answer = _post(server, body)
        assert status == 200, answer
        (record,) = [r for r in _records(server) if r["request_id"] == f"read-{n}"]
        expected = world["policy"].tracer.state_after(history(world["log"], student))
        np.testing.assert_allclose(record["state"], expected, rtol=0, atol=1e-12)
        assert record["history_length"] == len(history(world["log"], student))
        assert student not in json.dumps(record)  # pseudonymous only


@pytest.mark.service
def test_twenty_answers_one_at_a_time_over_v1_and_v2_end_in_the_offline_state(world, server):
    import tritonclient.http as triton

    policy = world["policy"]
    session = answers_for(policy, 20, seed=8)
    client = triton.InferenceServerClient(url=server.base_url.removeprefix("http://"))
    for n, (item, correct) in enumerate(session):
        instance = {"student_id": "session-20", "answer": {"item_id": item, "correct": correct},
                    "request_id": f"s20-{n}"}  # fmt: skip
        if n % 2:
            status, answer = _post(server, {"instances": [instance]})
            assert status == 200, answer
        else:  # v2, stock tritonclient in its default configuration
            tensor = triton.InferInput("request", [1], "BYTES")
            tensor.set_data_from_numpy(np.array([json.dumps(instance).encode()], dtype=object))
            result = client.infer("quiz-policy", [tensor])
            assert result.as_numpy("item_id")[0].decode() in policy.item_bank
    store = OnlineStateStore(world["home"] / "feature_store", policy.tracer, KEY)
    stored = store.read(store.pseudonym("session-20"))
    np.testing.assert_allclose(stored.state, policy.tracer.state_after(session), rtol=0, atol=1e-12)
    assert stored.n_answers == 20


@pytest.mark.service
def test_a_retried_request_applies_its_answer_once(world, server):
    policy = world["policy"]
    instance = {"student_id": "retry-1", "answer": {"item_id": "p104", "correct": 1},
                "request_id": "same-id"}  # fmt: skip
    for _ in range(3):
        status, answer = _post(server, {"instances": [instance]})
        assert status == 200, answer
    store = OnlineStateStore(world["home"] / "feature_store", policy.tracer, KEY)
    stored = store.read(store.pseudonym("retry-1"))
    assert stored.n_answers == 1
    np.testing.assert_allclose(stored.state, policy.tracer.state_after([("p104", 1)]), atol=1e-12)


@pytest.mark.service
def test_an_answer_on_an_item_added_since_training_leaves_the_state_as_it_was(world, server):
    # The stateless form and the offline trace skip an item the tracer does not know; the
    # stateful form must too, not refuse the student's next question.
    policy = world["policy"]
    steps = [("p104", 1), ("p999-new", 0), ("p105", 0)]
    for n, (item, correct) in enumerate(steps):
        instance = {"student_id": "grows-1", "answer": {"item_id": item, "correct": correct},
                    "request_id": f"g-{n}"}  # fmt: skip
        status, answer = _post(server, {"instances": [instance]})
        assert status == 200, answer
    store = OnlineStateStore(world["home"] / "feature_store", policy.tracer, KEY)
    stored = store.read(store.pseudonym("grows-1"))
    assert stored.n_answers == 3
    expected = policy.tracer.state_after([steps[0], steps[2]])
    np.testing.assert_allclose(stored.state, expected, rtol=0, atol=1e-12)


@pytest.mark.service
def test_stateless_requests_still_work_beside_stateful_ones(server):
    body = {"instances": [{"student_id": "x", "history": [{"item_id": "p100", "correct": 1}]},
                          {"student_id": "t-07"}]}  # fmt: skip
    status, answer = _post(server, body)
    assert status == 200 and len(answer["predictions"]) == 2, Path(server.log_path).read_text()[
        -3000:
    ]
    bad = {"student_id": "y", "answer": {"item_id": "p100", "correct": 2}}
    status, answer = _post(server, {"instances": [bad]})
    assert status == 400 and "answer.correct" in json.dumps(answer)
