"""The model in process: v1 dicts and v2 InferRequests through QuizPolicyModel.predict."""

import json

import numpy as np
import pytest
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest, InferResponse

from quizops.policy import QuizPolicy
from quizops_predictor.decisions import DecisionLog
from quizops_predictor.model import QuizPolicyModel


@pytest.fixture
def model(policy_dir, tmp_path):
    policy = QuizPolicy.load(policy_dir)
    m = QuizPolicyModel(policy, "7", DecisionLog(tmp_path / "decisions", b"k" * 32), seed=1)
    m.load()
    return m


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


def test_v1_bytes_body_is_decoded(model):
    body = json.dumps({"instances": [{"student_id": "a", "history": []}]}).encode()
    assert len(model.predict(body)["predictions"]) == 1
    with pytest.raises(InvalidInput, match=r"^body: not valid JSON"):
        model.predict(b"{nope")


def test_v1_bad_request_names_the_field(model):
    with pytest.raises(InvalidInput, match=r"instances\[0\]\.candidates\[0\]: unknown item 'nope'"):
        model.predict({"instances": [{"student_id": "a", "history": [], "candidates": ["nope"]}]})


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
    with pytest.raises(InvalidInput, match="inputs: no input named 'request'"):
        model.predict(_v2_request([b"{}"], name="instances"))
    with pytest.raises(InvalidInput, match=r"request\[0\]\.history: required"):
        model.predict(_v2_request([json.dumps({"student_id": "a"}).encode()]))


def test_every_decision_is_logged(model, tmp_path):
    model.predict(
        {"instances": [{"student_id": "s-1", "history": []}, {"student_id": "s-2", "history": []}]}
    )
    lines = model.decision_log.path.read_text().splitlines()
    assert len(lines) == 2
    assert all("s-1" not in line and "s-2" not in line for line in lines)
