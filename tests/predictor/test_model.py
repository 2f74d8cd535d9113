"""The model in process: v1 dicts and v2 InferRequests through QuizPolicyModel.predict_now."""

import asyncio
import json
import threading
from dataclasses import replace

import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from quizops.policy import QuizPolicy
from quizops_predictor.decisions import DecisionLog
from quizops_predictor.demo import save_demo_policy
from quizops_predictor.model import FieldError, QuizPolicyModel, TooLargeError


@pytest.fixture
def model(policy_dir, tmp_path):
    policy = QuizPolicy.load(policy_dir)
    log = DecisionLog(tmp_path / "decisions", b"k" * 32, item_bank=policy.item_bank)
    m = QuizPolicyModel(policy, "7", log, seed=1)
    m.load()
    m.predict = m.predict_now  # in-process tests call the scoring path directly
    yield m
    m.stop()


def _logged(model):
    folder = model.decision_log.sink.directory
    return [json.loads(x) for p in sorted(folder.glob("*.jsonl")) for x in p.read_text().split()]


def test_v1_answers_one_prediction_per_instance_from_the_candidates(model):
    body = {
        "instances": [
            {
                "student_id": "s-1",
                "history": [{"item_id": "p100", "correct": 1}],
                "candidates": ["p101", "p110"],
            },
            {"student_id": "s-2", "history": []},
        ]
    }
    answer = model.predict(body)
    first, second = answer["predictions"]
    assert first["item_id"] in {"p101", "p110"}
    assert 0.0 < first["propensity"] <= 1.0
    assert second["item_id"] in model.policy.item_bank
    assert {p["policy_version"] for p in answer["predictions"]} == {"7"}


def test_v1_propensity_is_the_policy_probability_of_the_choice(model):
    policy = model.policy
    candidates = ["p101", "p110", "p115"]
    probs = policy.probabilities(
        np.array([policy.tracer.state_after([("p100", 1)])]), policy.item_rows(candidates)
    )[0]
    for _ in range(5):
        [prediction] = model.predict(
            {
                "instances": [
                    {
                        "student_id": "a",
                        "history": [{"item_id": "p100", "correct": 1}],
                        "candidates": candidates,
                    }
                ]
            }
        )["predictions"]
        assert prediction["propensity"] == pytest.approx(
            probs[candidates.index(prediction["item_id"])]
        )


@pytest.mark.parametrize("planning, endgame", [(False, 0), (True, 0), (True, 3)])
@pytest.mark.parametrize("candidates", [None, ["p101", "p110", "p115", "p120"]])
def test_choices_are_the_policys_choose_many_under_the_same_seed(
    tmp_path, planning, endgame, candidates
):
    # The predictor traces each history once (for the choice and the log) and samples from the
    # states itself; the answers must stay those of the policy's own choose_many, also for a
    # policy whose choice depends on the history's length (an endgame in sessions of 8).
    policy = QuizPolicy.load(save_demo_policy(tmp_path / "policy", planning=planning))
    if endgame:
        policy.model = replace(policy.model, focus=2.0, endgame=endgame, horizon=8)
    bank = policy.item_bank
    rng = np.random.default_rng(5)
    histories = [
        [(bank[int(k)], int(rng.integers(0, 2))) for k in rng.integers(0, len(bank), length)]
        for length in (2, 4, 5, 6, 7, 8, 9)
    ]
    instances = [
        {
            "student_id": f"s-{n}",
            "history": [{"item_id": i, "correct": c} for i, c in h],
            **({"candidates": candidates} if candidates else {}),
        }
        for n, h in enumerate(histories)
    ]
    m = QuizPolicyModel(policy, "7", seed=11)
    m.load()
    try:
        served = [
            (p["item_id"], p["propensity"])
            for p in m.predict_now({"instances": instances})["predictions"]
        ]
    finally:
        m.stop()
    items, propensities = policy.choose_many(histories, candidates, rng=np.random.default_rng(11))
    assert [item for item, _ in served] == items
    assert [p for _, p in served] == pytest.approx(propensities, rel=1e-12)


def test_v1_bytes_body_is_decoded(model):
    body = json.dumps({"instances": [{"student_id": "a", "history": []}]}).encode()
    assert len(model.predict(body)["predictions"]) == 1
    with pytest.raises(InvalidInput, match=r"^body: not valid JSON"):
        model.predict(b"{nope")


def test_v1_bad_request_names_the_field(model):
    with pytest.raises(FieldError, match=r"instances\[0\]\.candidates: none is in the policy's"):
        model.predict({"instances": [{"student_id": "a", "history": [], "candidates": ["nope"]}]})


def test_items_outside_the_bank_are_skipped_and_counted_not_refused(tmp_path):
    # A bank that grows between trainings: answers on new items leave the state as it was
    # (the tracer's offline rule), new candidates are left out of the choice, and both are
    # counted. Independent computation: the planning policy's own choice for the history
    # without the new items, over the known candidates only, under the same seed.
    from prometheus_client import CollectorRegistry

    from quizops_predictor.metrics import create_metrics

    policy = QuizPolicy.load(save_demo_policy(tmp_path / "policy", planning=True))
    # "new-2" is an item training left out (its skill could not be traced): saved with the
    # policy, it is counted apart from the merely new items.
    policy.tracer.left_out_items = ["new-2"]
    policy.save(tmp_path / "with-left-out")
    policy = QuizPolicy.load(tmp_path / "with-left-out")
    assert policy.tracer.left_out_items == ["new-2"]
    bank = policy.item_bank
    rng = np.random.default_rng(3)
    known = [[(bank[int(k)], int(rng.integers(0, 2))) for k in rng.integers(0, len(bank), 8)]
             for _ in range(5)]  # fmt: skip
    with_new = [[*h[:3], ("new-1", 1), *h[3:], ("new-2", 0)] for h in known]
    candidates = [bank[2], "new-3", bank[7], bank[11]]
    registry = CollectorRegistry()
    log = DecisionLog(tmp_path / "decisions", None, item_bank=bank)
    m = QuizPolicyModel(policy, "7", log, seed=11, metrics=create_metrics("champion", registry))
    m.load()
    try:
        body = {"instances": [
            {"student_id": f"s-{n}", "history": [{"item_id": i, "correct": c} for i, c in h],
             "candidates": candidates}
            for n, h in enumerate(with_new)
        ]}  # fmt: skip
        served = [(p["item_id"], p["propensity"]) for p in m.predict_now(body)["predictions"]]
    finally:
        m.stop()
    expected = policy.choose_many(
        known, [c for c in candidates if c != "new-3"], rng=np.random.default_rng(11)
    )
    assert [item for item, _ in served] == expected[0]
    assert [p for _, p in served] == pytest.approx(expected[1], rel=1e-12)
    counted = {
        (s.labels["field"], s.labels["reason"]): s.value
        for family in registry.collect()
        if family.name == "quizops_predictor_unknown_items"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert counted == {
        ("history", "new"): 5.0,  # new-1
        ("history", "left_out"): 5.0,  # new-2
        ("candidates", "new"): 5.0,  # new-3
        ("candidates", "left_out"): 0.0,
    }
    # Each decision record says what its choice left out; the candidates it was made among
    # (and the propensity) are the known ones.
    records = _logged(m)
    assert [(r["unknown_history"], r["unknown_candidates"]) for r in records] == [(2, 1)] * 5
    assert all(r["candidates"] == [bank[2], bank[7], bank[11]] for r in records)
    assert [r["history_length"] for r in records] == [10] * 5


def test_integer_ids_are_their_decimal_strings(tmp_path):
    # ASSISTments numbers its problems: a client that sends 12 means the training data's "12".
    policy = QuizPolicy.load(save_demo_policy(tmp_path / "policy", planning=True))
    numeric = policy.items.copy()
    numeric["item_id"] = [str(1000 + n) for n in range(len(numeric))]
    renamed = dict(zip(policy.items["item_id"].astype(str), numeric["item_id"], strict=True))
    tracer = policy.tracer.to_dict()
    tracer["item_skill"] = {renamed[i]: k for i, k in tracer["item_skill"].items()}
    tracer["item_tags"] = {renamed[i]: t for i, t in tracer["item_tags"].items()}
    policy = QuizPolicy(type(policy.tracer).from_dict(tracer), numeric, policy.model,
                        policy.temperature, policy.epsilon)  # fmt: skip
    as_text = {"student_id": "17", "history": [{"item_id": "1003", "correct": 1}],
               "candidates": ["1001", "1005"]}  # fmt: skip
    as_numbers = {"student_id": 17, "history": [{"item_id": 1003, "correct": 1}],
                  "candidates": [1001, 1005]}  # fmt: skip
    answers = []
    for instance in (as_text, as_numbers):
        m = QuizPolicyModel(policy, "7", seed=4)
        m.load()
        try:
            answers.append(m.predict_now({"instances": [instance] * 6})["predictions"])
            with pytest.raises(FieldError, match=r"instances\[0\]\.history\[0\]\.item_id: must"):
                m.predict_now({"instances": [{"student_id": "a", "history": [
                    {"item_id": 1003.0, "correct": 1}]}]})  # fmt: skip
        finally:
            m.stop()
    assert answers[0] == answers[1]
    assert {p["item_id"] for p in answers[0]} <= {"1001", "1005"}


def _v2_request(elements, name="request", datatype="BYTES"):
    tensor = InferInput(name, [len(elements)], datatype)
    tensor.set_data_from_numpy(np.array(elements, dtype=np.object_), binary_data=False)
    return InferRequest(model_name="quiz-policy", infer_inputs=[tensor], request_id="r-1")


def test_v2_answers_three_outputs_of_n_elements(model):
    elements = [
        json.dumps({"student_id": f"s-{i}", "history": [], "candidates": ["p101", "p102"]}).encode()
        for i in range(3)
    ]
    response = model.predict(_v2_request(elements))
    assert isinstance(response, InferResponse)
    outputs = {o.name: o for o in response.outputs}
    assert [(o.datatype, o.shape) for o in response.outputs] == [
        ("BYTES", [3]),
        ("FP32", [3]),
        ("BYTES", [3]),
    ]
    assert set(outputs["item_id"].as_numpy().tolist()) <= {b"p101", b"p102"}
    assert outputs["propensity"].as_numpy().dtype == np.float32
    assert outputs["policy_version"].as_numpy().tolist() == [b"7"] * 3
    assert response.id == "r-1"


def test_v2_bad_requests_name_the_input(model):
    with pytest.raises(FieldError, match="inputs: no input named 'request'"):
        model.predict(_v2_request([b"{}"], name="instances"))
    with pytest.raises(InvalidInput, match=r"request\[0\]\.history: required"):
        model.predict(_v2_request([json.dumps({"student_id": "a"}).encode()]))


def test_every_decision_is_logged(model, tmp_path):
    model.predict(
        {"instances": [{"student_id": "s-1", "history": []}, {"student_id": "s-2", "history": []}]}
    )
    records = _logged(model)
    assert len(records) == 2
    assert [r["instance"] for r in records] == [0, 1]
    assert len({r["request_id"] for r in records}) == 1
    assert all("s-1" not in json.dumps(r) and "s-2" not in json.dumps(r) for r in records)
    # the logged state is the tracer's state after the (empty) history
    assert records[0]["state"] == pytest.approx(list(model.policy.tracer.state_after([])))


def test_logged_propensity_and_state_recompute_from_the_policy(model):
    history = [{"item_id": "p100", "correct": 1}, {"item_id": "p107", "correct": 0}]
    candidates = ["p101", "p110", "p115"]
    instance = {"student_id": "a", "history": history, "candidates": candidates}
    model.predict({"instances": [instance]})
    [record] = _logged(model)
    policy = model.policy
    state = policy.tracer.state_after([("p100", 1), ("p107", 0)])
    assert record["state"] == pytest.approx(list(state))
    rows = policy.item_rows(record["candidates"])
    probs = policy.probabilities(np.array([record["state"]]), rows)
    assert record["propensity"] == pytest.approx(probs[0][candidates.index(record["item_id"])])
    assert record["history_length"] == 2


def test_rejected_requests_log_nothing(model):
    good = json.dumps({"student_id": "s-1", "history": []}).encode()
    with pytest.raises(InvalidInput):
        model.predict(_v2_request([good, b'{"student_id": "a"}']))
    request = _v2_request([good])
    request.request_outputs = [type("Wanted", (), {"name": "nope"})()]
    with pytest.raises(FieldError, match="outputs: unknown output"):
        model.predict(request)
    with pytest.raises(FieldError):
        model.predict({"instances": [{"student_id": "a", "history": []}, {"student_id": "b"}]})
    assert _logged(model) == []


def test_limits_answer_too_large(policy_dir, tmp_path):
    from quizops_predictor.contract import Limits

    m = QuizPolicyModel(QuizPolicy.load(policy_dir), "7", limits=Limits(max_instances=2))
    m.load()
    instance = {"student_id": "a", "history": []}
    with pytest.raises(TooLargeError, match=r"^instances: more than 2"):
        m.predict_now({"instances": [instance] * 3})
    with pytest.raises(TooLargeError, match=r"^request: more than 2"):
        m.predict_now(_v2_request([json.dumps(instance).encode()] * 3))
    m.stop()


def test_predict_scores_off_the_event_loop(policy_dir):
    m = QuizPolicyModel(QuizPolicy.load(policy_dir), "7", seed=1)
    m.load()
    seen = []
    probabilities = m.policy.probabilities

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return probabilities(*args, **kwargs)

    m.policy.probabilities = spy

    async def call():
        return await m.predict({"instances": [{"student_id": "a", "history": []}]})

    answer = asyncio.run(call())
    assert len(answer["predictions"]) == 1
    assert seen and seen[0].startswith("score") and seen[0] != threading.main_thread().name
    m.stop()


def test_a_batch_answers_each_request_and_isolates_a_bad_one(model):
    good = {
        "instances": [{"student_id": "s-1", "history": []}, {"student_id": "s-2", "history": []}]
    }
    other = _v2_request([json.dumps({"student_id": "s-3", "history": []}).encode()])
    bad = {"instances": [{"student_id": "s-4"}]}
    results = model.score_batch([(good, "r-a"), (bad, "r-b"), (other, "r-c")])
    (first, e1), (none, e2), (third, e3) = results
    assert e1 is None and e3 is None and none is None
    assert isinstance(e2, FieldError) and str(e2).startswith("instances[0].history: required")
    assert len(first["predictions"]) == 2
    assert isinstance(third, InferResponse)
    records = _logged(model)
    # per-request ids and positions, not positions in the shared pass
    assert [(r["request_id"], r["instance"], r["protocol"]) for r in records] == [
        ("r-a", 0, "v1"),
        ("r-a", 1, "v1"),
        ("r-c", 0, "v2"),
    ]


def test_a_batch_whose_shared_pass_fails_is_scored_one_by_one(model, monkeypatch):
    calls = []
    choose_all = model.choose_all

    def flaky(instances, request_id="", protocol="v1"):
        calls.append(len(instances))
        if len(instances) > 1:
            raise RuntimeError("shared pass failed")
        return choose_all(instances, request_id, protocol)

    monkeypatch.setattr(model, "choose_all", flaky)
    one = {"instances": [{"student_id": "s-1", "history": []}]}
    results = model.score_batch([(one, "r-1"), (one, "r-2")])
    assert [error for _, error in results] == [None, None]
    assert calls == [2, 1, 1]
    assert [r["request_id"] for r in _logged(model)] == ["r-1", "r-2"]


def test_ready_only_between_load_and_stop(policy_dir):
    m = QuizPolicyModel(QuizPolicy.load(policy_dir), "7")
    assert m.ready is False  # the server reports not ready before the policy is loaded
    assert m.load() is True and m.ready is True
    m.stop()
    assert m.ready is False  # stopping: probes fail, traffic drains
