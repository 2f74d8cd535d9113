"""The real ModelServer process on 127.0.0.1 with stock v1 and v2 clients."""

import asyncio
import http.client
import json
import re
import socket
import threading
import time

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from quizops import storage
from quizops.serving import PredictorProcess, http_json
from quizops_predictor.metrics import METRIC_NAMES
from tests.conftest import running_gcs_emulator

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
            {"student_id": "a", "history": [{"item_id": 1.5, "correct": 1}]},
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
        "request_id",
        "history_length",
        "candidates",
        "candidates_sha256",
        "item_bank_version",
        "state",
        "item_id",
        "propensity",
        "policy_version",
        "variant",
    } <= set(records[-1])
    assert records[-1]["candidates"] == ["p107", "p108"]
    assert records[-1]["variant"] == "champion"


def test_sigterm_stops_the_server(policy_dir, tmp_path):
    process = PredictorProcess(model_dir=policy_dir, decisions_dir=tmp_path)
    process.start()
    port = process.port
    assert process.stop(timeout=20) is not None
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def _post_raw(server, path, body, headers=None, timeout=5.0):
    """One POST over a fresh connection: (status, decoded JSON or text, seconds)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    started = time.monotonic()
    try:
        connection.request(
            "POST", path, body, {"content-type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    try:
        return response.status, json.loads(raw), elapsed
    except ValueError:
        return response.status, raw.decode(errors="replace"), elapsed


V1 = "/v1/models/quiz-policy:predict"
V2 = "/v2/models/quiz-policy/infer"


def _v2_body(elements):
    return json.dumps(
        {
            "inputs": [
                {"name": "request", "datatype": "BYTES", "shape": [len(elements)], "data": elements}
            ]
        }
    )


BAD_REQUESTS = [
    # (name, path, body, status, message prefix)
    ("missing history", V1, json.dumps({"instances": [{"student_id": "a"}]}), 400,
     "instances[0].history: required"),
    ("no known candidate", V1, json.dumps({"instances": [{"student_id": "a", "history": [],
        "candidates": ["p999", "p998"]}]}), 400, "instances[0].candidates: none is in"),
    ("wrong type of correct", V1, json.dumps({"instances": [{"student_id": "a", "history": [
        {"item_id": "p100", "correct": "yes"}]}]}), 400, "instances[0].history[0].correct:"),
    ("wrong type of history", V1, json.dumps({"instances": [{"student_id": "a", "history": 3}]}),
     400, "instances[0].history:"),
    ("wrong type of student", V1, json.dumps({"instances": [{"student_id": 1.5, "history": []}]}),
     400, "instances[0].student_id:"),
    ("not JSON", V1, "{nope", 400, "body: not valid JSON"),
    ("10 MB body", V1, json.dumps({"instances": [{"student_id": "a", "history": [
        {"item_id": "p100", "correct": 1}] * 300_000}]}), 413, "body: larger than"),
    ("deep nesting v1 over the size limit", V1, "[" * 600_000 + "]" * 600_000, 413, "body:"),
    ("deep nesting v1 under the size limit", V1, "[" * 100_000 + "]" * 100_000, 400, "body:"),
    ("deep nesting in the v2 body", V2, '{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}", 400,
     "request:"),
    ("deep nesting in a v2 element", V2, _v2_body(["[" * 100_000 + "]" * 100_000]), 400,
     "request[0]: JSON nested too deeply"),
    ("nested v2 data", V2, json.dumps({"inputs": [{"name": "request", "datatype": "BYTES",
     "shape": [1], "data": [[[["x"]]]]}]}), 400, "request.data:"),
    ("v2 wrong shape type", V2, json.dumps({"inputs": [{"name": "request", "datatype": "BYTES",
     "shape": "x", "data": ["x"]}]}), 400, "inputs[0].shape:"),
    ("v2 wrong datatype", V2, json.dumps({"inputs": [{"name": "request", "datatype": "FP32",
     "shape": [1], "data": [1.0]}]}), 400, "request: datatype must be BYTES"),
    ("v2 missing history", V2, _v2_body([json.dumps({"student_id": "a"})]), 400,
     "request[0].history: required"),
    ("too many instances", V1,
     json.dumps({"instances": [{"student_id": "a", "history": []}] * 257}), 413,
     "instances: more than 256"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "status", "prefix"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_are_4xx_naming_the_field_within_a_second(server, path, body, status, prefix):
    got, answer, seconds = _post_raw(server, path, body)
    assert (got, answer["error"][: len(prefix)]) == (status, prefix)
    assert seconds < 1.0
    ready, _ = http_json("GET", f"{server.base_url}/v2/health/ready", timeout=2)
    assert ready == 200


def test_chunked_body_over_the_limit_is_413(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    chunks = (b"x" * 65536 for _ in range(40))  # 2.5 MiB, no content-length
    started = time.monotonic()
    connection.request("POST", V1, chunks, {"content-type": "application/json"},
                       encode_chunked=True)  # fmt: skip
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read())["error"].startswith("body: larger than 1048576 bytes")
    assert time.monotonic() - started < 1.0
    connection.close()


def test_health_answers_while_large_requests_are_scored(server):
    history = [{"item_id": f"p{100 + i % 24}", "correct": i % 2} for i in range(9000)]
    body = json.dumps(
        {"instances": [{"student_id": f"s{i}", "history": history} for i in range(3)]}
    )
    assert len(body) < 1 << 20
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(_post_raw(server, V1, body, timeout=30)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    probes = []
    try:
        for _ in range(5):
            started = time.monotonic()
            status, _ = http_json("GET", f"{server.base_url}/v2/health/ready", timeout=2)
            probes.append((status, time.monotonic() - started))
    finally:
        for thread in threads:
            thread.join(timeout=60)
    assert [s for s, _ in probes] == [200] * 5
    assert max(t for _, t in probes) < 1.0
    assert [r[0] for r in results] == [200] * 4


def _decision_count(server):
    return sum(len(p.read_text().splitlines()) for p in server.decisions.glob("*.jsonl"))


def test_rejected_requests_are_not_logged(server):
    before = _decision_count(server)
    good = json.dumps(INSTANCE)
    for path, body in [
        (V2, _v2_body([good, json.dumps({"student_id": "a"})])),
        (V1, json.dumps({"instances": [INSTANCE, {"student_id": "a", "history": 1}]})),
        (V2, json.dumps({"inputs": json.loads(_v2_body([good]))["inputs"],
                         "outputs": [{"name": "nope"}]})),
    ]:  # fmt: skip
        status, _, _ = _post_raw(server, path, body)
        assert status == 400
    assert _decision_count(server) == before
    status, _, _ = _post_raw(server, V2, _v2_body([good, good]), {"x-request-id": "req-42"})
    assert status == 200
    assert _decision_count(server) == before + 2
    lines = "".join(p.read_text() for p in server.decisions.glob("*.jsonl")).splitlines()
    last = [json.loads(x) for x in lines[-2:]]
    assert [(r["request_id"], r["instance"], r["protocol"]) for r in last] == [
        ("req-42", 0, "v2"),
        ("req-42", 1, "v2"),
    ]


def _metrics(server):
    status, text = http_json("GET", f"{server.base_url}/metrics")
    assert status == 200
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name_labels, value = line.rsplit(" ", 1)
            samples[name_labels] = float(value)
    return text, samples


def _sample(samples, name, **labels):
    for key, value in samples.items():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})?", key)
        if match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return value
    return 0.0


def test_metrics_count_requests_decisions_and_the_model(server):
    _, before = _metrics(server)
    status, body = server.predict_v1([INSTANCE, INSTANCE, INSTANCE])
    assert status == 200
    assert server.predict_v1([{"student_id": "a"}])[0] == 400
    text, after = _metrics(server)
    for name in METRIC_NAMES:
        assert f"# TYPE {name.removesuffix('_info').removesuffix('_total')}" in text or (
            f"# TYPE {name} " in text
        ), name

    def delta(name, **labels):
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    v1 = {"protocol": "v1", "variant": "champion"}
    assert delta("quizops_predictor_requests_total", code="200", **v1) == 1
    assert delta("quizops_predictor_requests_total", code="400", **v1) == 1
    assert delta("quizops_predictor_request_duration_seconds_count", **v1) == 2
    chosen = [p["item_id"] for p in body["predictions"]]
    for item in set(chosen):
        assert delta("quizops_predictor_decisions_total", item_id=item) == chosen.count(item)
    assert delta("quizops_predictor_propensity_count", variant="champion") == 3
    assert delta("quizops_predictor_propensity_sum", variant="champion") == pytest.approx(
        sum(p["propensity"] for p in body["predictions"])
    )
    assert (
        _sample(after, "quizops_predictor_model_info", policy_version="7", variant="champion")
        == 1.0
    )
    assert delta("quizops_predictor_decision_log_records_total", variant="champion") == 3
    # each answered instance reports the answer to its previous question: INSTANCE's last is 0
    assert delta("quizops_predictor_outcomes_total", outcome="incorrect") == 3
    assert delta("quizops_predictor_outcomes_total", outcome="correct") == 0
    _, before = _metrics(server)
    right = {"student_id": "s-9", "history": [{"item_id": "p100", "correct": 1}]}
    assert server.predict_v1([right, {"student_id": "s-8", "history": []}])[0] == 200
    _, after = _metrics(server)
    assert delta("quizops_predictor_outcomes_total", outcome="correct") == 1  # empty: none
    assert delta("quizops_predictor_outcomes_total", outcome="incorrect") == 0


CANARY = "jane.canary.7731@example.org"


def test_personal_values_in_bad_fields_never_reach_the_server_log(policy_dir, tmp_path):
    log = tmp_path / "server.log"
    process = PredictorProcess(
        model_dir=policy_dir,
        decisions_dir=tmp_path / "d",
        env={"QUIZOPS_PII_KEY": PII_KEY, "QUIZOPS_HOME": str(tmp_path / "home")},
        log_path=log,
    )
    bodies = [
        (V1, json.dumps({"instances": [{"student_id": CANARY}]})),
        (V1, json.dumps({"instances": [{"student_id": "a", "history": [
            {"item_id": CANARY, "correct": 1}]}]})),
        (V1, json.dumps({"instances": [{"student_id": "a", "history": [
            {"item_id": "p100", "correct": CANARY}]}]})),
        (V1, json.dumps({"instances": [{"student_id": "a", "history": [], CANARY: 1}]})),
        (V1, json.dumps({"instances": [{"student_id": "a", "history": [],
                                        "candidates": [CANARY]}]})),
        (V1, json.dumps({"instances": [{"student_id": [CANARY], "history": []}]})),
        (V1, '{"instances": [' + CANARY + "]}"),
        (V1, json.dumps({CANARY: []})),
        (V2, _v2_body([json.dumps({"student_id": CANARY})])),
        (V2, _v2_body([CANARY])),
        (V2, json.dumps({"inputs": [{"name": CANARY, "datatype": "BYTES", "shape": [1],
                                     "data": ["x"]}]})),
        (V2, json.dumps({"inputs": [{"name": "request", "datatype": CANARY, "shape": [1],
                                     "data": ["x"]}]})),
        (V2, json.dumps({"inputs": [{"name": "request", "datatype": "BYTES", "shape": CANARY,
                                     "data": [CANARY]}]})),
        (V2, json.dumps({"inputs": [{"name": "request", "datatype": "BYTES", "shape": [1],
                                     "data": [[CANARY]]}]})),
        (V2, json.dumps({"id": CANARY, "inputs": [{"name": "request", "datatype": "BYTES",
                                                   "shape": [1], "data": ["{}"]}]})),
        ("/v1/models/" + CANARY + ":predict", json.dumps({"instances": [INSTANCE]})),
        ("/v2/models/" + CANARY + "/infer", _v2_body([json.dumps(INSTANCE)])),
    ]  # fmt: skip
    with process:
        for path, body in bodies:
            status, answer, _ = _post_raw(process, path, body)
            assert 400 <= status < 500, (path, body[:80], status)
            assert CANARY not in json.dumps(answer)
        status, _, _ = _post_raw(process, V1, json.dumps({"instances": [INSTANCE]}))
        assert status == 200
    text = log.read_text()
    assert "v1-infer 400" in text  # the log was written, and holds the failures
    assert CANARY not in text
    assert "canary.7731" not in text
    decisions = "".join(p.read_text() for p in (tmp_path / "d").glob("*.jsonl"))
    assert CANARY not in decisions and decisions.count("\n") == 1


def test_readiness_variant_and_gcs_decisions_flushed_on_sigterm(policy_dir, tmp_path):
    with running_gcs_emulator("quizops-serving") as bucket:
        uri = f"gs://{bucket}/decisions"
        process = PredictorProcess(
            model_dir=policy_dir,
            decisions_dir=uri,
            extra_args=["--decisions-batch-records", "1000", "--decisions-batch-seconds", "600"],
            env={
                "QUIZOPS_PII_KEY": PII_KEY,
                "QUIZOPS_HOME": str(tmp_path / "home"),
                "QUIZOPS_VARIANT": "canary",
            },
        )
        with process:
            status, body = http_json("GET", f"{process.base_url}/v2/health/ready")
            assert (status, body) == (200, {"ready": True})
            for _ in range(7):
                assert process.predict_v1([INSTANCE, INSTANCE])[0] == 200
            # batched: nothing uploaded before shutdown
            assert storage.list_files(uri) == []
            text = http_json("GET", f"{process.base_url}/metrics")[1]
            assert (
                'quizops_predictor_requests_total{code="200",protocol="v1",variant="canary"} 7.0'
                in text
            )
        records = [
            json.loads(line)
            for name in storage.list_files(uri)
            for line in storage.read_bytes(name).decode().splitlines()
        ]
    assert len(records) == 14
    assert {r["variant"] for r in records} == {"canary"}
    assert len({(r["request_id"], r["instance"]) for r in records}) == 14
