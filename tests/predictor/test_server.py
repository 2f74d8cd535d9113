"""The real ModelServer process on 127.0.0.1 with stock v1 and v2 clients."""

import asyncio
import json
import socket

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from quizops.serving import PredictorProcess, http_json

PII_KEY = "00112233445566778899aabbccddeeff"

pytestmark = pytest.mark.service

INSTANCE = {
    "student_id": "s-17",
    "history": [{"item_id": "p100", "correct": 1}, {"item_id": "p101", "correct": 0}],
    "candidates": ["p107", "p108"],
}


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture(scope="module")
def server(policy_dir, tmp_path_factory):
    decisions = tmp_path_factory.mktemp("decisions")
    process = PredictorProcess(
        model_dir=policy_dir,
        decisions_dir=decisions,
        env={"QUIZOPS_PII_KEY": PII_KEY, "QUIZOPS_HOME": str(tmp_path_factory.mktemp("home"))},
    )
    with process:
        process.decisions = decisions
        yield process


def test_ready_and_v1_predict(server):
    status, body = http_json("GET", f"{server.base_url}/v2/health/ready")
    assert (status, body) == (200, {"ready": True})
    status, body = server.predict_v1([INSTANCE, {"student_id": "s-2", "history": []}])
    assert status == 200
    first, second = body["predictions"]
    assert first["item_id"] in {"p107", "p108"}
    assert 0.0 < first["propensity"] <= 1.0
    assert first["policy_version"] == second["policy_version"] == "7"


@pytest.mark.parametrize(
    ("instance", "field"),
    [
        ({"history": []}, "instances[0].student_id"),
        (
            {"student_id": "a", "history": [{"item_id": "nope", "correct": 1}]},
            "instances[0].history[0].item_id",
        ),
        ({"student_id": "a", "history": [], "candidates": "p107"}, "instances[0].candidates"),
    ],
)
def test_v1_bad_request_is_400_naming_the_field(server, instance, field):
    status, body = server.predict_v1([instance])
    assert status == 400
    assert body["error"].startswith(f"{field}:")


def test_kserve_sdk_v1_client_default_config(server):
    async def call():
        client = InferenceRESTClient()
        try:
            return await client.infer(
                server.base_url, {"instances": [INSTANCE]}, model_name="quiz-policy"
            )
        finally:
            await client._client.aclose()

    body = asyncio.run(call())
    assert body["predictions"][0]["item_id"] in {"p107", "p108"}


def test_kserve_sdk_v2_client(server):
    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v2"))
        tensor = InferInput("request", [2], "BYTES")
        tensor.set_data_from_numpy(np.array([json.dumps(INSTANCE).encode()] * 2, dtype=np.object_))
        try:
            return await client.infer(
                server.base_url,
                InferRequest(model_name="quiz-policy", infer_inputs=[tensor]),
                model_name="quiz-policy",
            )
        finally:
            await client._client.aclose()

    response = asyncio.run(call())
    outputs = {o.name: o.as_numpy() for o in response.outputs}
    assert {_text(v) for v in outputs["item_id"].tolist()} <= {"p107", "p108"}
    assert outputs["propensity"].dtype == np.float32
    assert outputs["propensity"].shape == (2,)
    assert [_text(v) for v in outputs["policy_version"].tolist()] == ["7", "7"]


def test_tritonclient_default_config(server):
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    try:
        assert client.is_server_ready()
        assert client.is_model_ready("quiz-policy")
        metadata = client.get_model_metadata("quiz-policy")
        assert [i["name"] for i in metadata["inputs"]] == ["request"]
        assert [o["name"] for o in metadata["outputs"]] == [
            "item_id",
            "propensity",
            "policy_version",
        ]
        tensor = triton.InferInput("request", [3], "BYTES")
        tensor.set_data_from_numpy(np.array([json.dumps(INSTANCE).encode()] * 3, dtype=np.object_))
        result = client.infer("quiz-policy", [tensor])
        items = result.as_numpy("item_id")
        propensity = result.as_numpy("propensity")
        assert items.shape == (3,)
        assert set(items.tolist()) <= {b"p107", b"p108"}
        assert propensity.dtype == np.float32
        assert np.all((propensity > 0) & (propensity <= 1))
        assert result.as_numpy("policy_version").tolist() == [b"7"] * 3
        # JSON (non-binary) outputs too.
        result = client.infer(
            "quiz-policy",
            [tensor],
            outputs=[triton.InferRequestedOutput("item_id", binary_data=False)],
        )
        assert {_text(v) for v in result.as_numpy("item_id").tolist()} <= {"p107", "p108"}
    finally:
        client.close()


def test_tritonclient_bad_element_is_400(server):
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    tensor = triton.InferInput("request", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([b'{"student_id": "a"}'], dtype=np.object_))
    try:
        with pytest.raises(
            InferenceServerException, match=r"request\[0\]\.history: required"
        ) as info:
            client.infer("quiz-policy", [tensor])
        assert info.value.status() == "400"
    finally:
        client.close()
    status, body = http_json(
        "POST",
        f"{server.base_url}/v2/models/quiz-policy/infer",
        {
            "inputs": [
                {
                    "name": "request",
                    "datatype": "BYTES",
                    "shape": [1],
                    "data": ['{"student_id": "a"}'],
                }
            ]
        },
    )
    assert status == 400
    assert body["error"].startswith("request[0].history:")


def test_binds_loopback_only(server):
    listening = []
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if int(port, 16) == server.port and fields[3] == "0A":
                listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, not 0.0.0.0


def test_decision_log_has_pseudonyms_not_raw_ids(server):
    server.predict_v1([INSTANCE])
    text = "".join(p.read_text() for p in server.decisions.glob("*.jsonl"))
    records = [json.loads(line) for line in text.splitlines()]
    assert records
    assert "s-17" not in text
    assert all(r["student_pseudonym"].startswith("p_") for r in records)
    assert {
        "time",
        "history_length",
        "candidates_count",
        "item_id",
        "propensity",
        "policy_version",
    } <= set(records[-1])


def test_sigterm_stops_the_server(policy_dir, tmp_path):
    process = PredictorProcess(model_dir=policy_dir, decisions_dir=tmp_path)
    process.start()
    port = process.port
    assert process.stop(timeout=20) is not None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
