"""The committed compiled/ YAML is what `make compile` writes, and it is a valid KFP IR whose tasks
cache, retry, ask for resources and time out as pipelines/task_policies.py says."""

import json
from pathlib import Path

import yaml
from google.protobuf import json_format
from kfp import components
from kfp.pipeline_spec import pipeline_spec_pb2

from pipelines.compile import PIPELINES, compile_all
from pipelines.task_policies import POLICIES
from quizops.names import CORE_IMAGE, PREDICTOR_IMAGE, VALIDATION_IMAGE

REPO = Path(__file__).resolve().parents[2]


def _without_sdk_version(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("sdkVersion:"))


def load(stem: str) -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all((REPO / "compiled" / f"{stem}.yaml").read_text()))
    return docs[0], (docs[1] if len(docs) > 1 else {})


def all_tasks(spec: dict) -> dict[str, dict]:
    """Every task of the pipeline, at any depth (exit handler, conditions)."""
    found = {}

    def walk(dag):
        for name, task in dag.get("tasks", {}).items():
            found[name] = task
            inner = spec["components"].get(task["componentRef"]["name"], {})
            if "dag" in inner:
                walk(inner["dag"])

    walk(spec["root"]["dag"])
    return found


def test_compiled_yaml_is_up_to_date(tmp_path):
    for path in compile_all(tmp_path):
        committed = REPO / "compiled" / path.name
        assert committed.exists(), f"{committed} missing: run `make compile`"
        assert _without_sdk_version(path.read_text()) == _without_sdk_version(
            committed.read_text()
        ), f"{committed} is stale: run `make compile` and commit it"


def test_every_compiled_pipeline_parses_strictly_into_the_pipeline_spec_proto():
    for stem in PIPELINES:
        spec, platform = load(stem)
        message = pipeline_spec_pb2.PipelineSpec()
        json_format.ParseDict(json.loads(json.dumps(spec)), message)  # unknown fields raise
        assert message.pipeline_info.name == f"quizops-{stem}"
        if platform:
            json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())


def test_compiled_training_pipeline_loads_and_wires_every_stage():
    path = REPO / "compiled" / "training.yaml"
    loaded = components.load_component_from_file(str(path))
    assert loaded.name == "quizops-training"
    spec, _ = load("training")
    tasks = all_tasks(spec)
    assert {"fingerprint", "ingest", "pii-scan", "data-validation", "feature-engineering",
            "train-policy", "evaluate-policy", "deploy-kserve",
            "run-summary"} <= set(tasks)  # fmt: skip
    body = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    condition = next(t for t in body.values() if "triggerPolicy" in t)
    assert "evaluate-policy" in condition["triggerPolicy"]["condition"]
    deploy_group = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    assert deploy_group["deploy-kserve"]["componentRef"]["name"] == "comp-deploy-kserve"
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
    assert images == {CORE_IMAGE, VALIDATION_IMAGE}


def test_ingest_is_cached_on_the_sources_identity_and_the_fingerprint_never():
    spec, _ = load("training")
    tasks = all_tasks(spec)
    identity = tasks["ingest"]["inputs"]["parameters"]["source_identity"]
    assert identity["taskOutputParameter"] == {"outputParameterKey": "identity",
                                               "producerTask": "fingerprint"}  # fmt: skip
    span = tasks["ingest"]["inputs"]["parameters"]["span"]["taskOutputParameter"]
    assert span == {"outputParameterKey": "span", "producerTask": "fingerprint"}
    scheduled = tasks["fingerprint"]["inputs"]["parameters"]["scheduled_time"]
    assert scheduled["runtimeValue"]["constant"] == "{{$.pipeline_job_schedule_time_utc}}"
    assert tasks["ingest"]["cachingOptions"] == {"enableCache": True}
    assert tasks["fingerprint"]["cachingOptions"] == {}  # KFP's "never cache"
    # Feature engineering and data validation (its skew check) read the decision logs, which
    # no fingerprint covers: never cached.
    assert tasks["feature-engineering"].get("cachingOptions", {}) == {}
    assert tasks["data-validation"].get("cachingOptions", {}) == {}
    assert tasks["feature-engineering"]["retryPolicy"]["maxRetryCount"] == 2


def test_side_effect_tasks_never_cache_and_are_not_retried():
    for stem in PIPELINES:
        spec, _ = load(stem)
        for name, task in all_tasks(spec).items():
            if name in ("deploy-kserve", "train-policy", "rollback-champion", "start-retraining"):
                assert task.get("cachingOptions", {}).get("enableCache") is not True, name
                assert "retryPolicy" not in task, name


def test_network_tasks_retry_with_back_off():
    spec, _ = load("training")
    tasks = all_tasks(spec)
    for name in ("fingerprint", "ingest", "pii-scan", "data-validation", "evaluate-policy"):
        retry = tasks[name]["retryPolicy"]
        assert retry["maxRetryCount"] >= 2 and retry["backoffFactor"] > 1, name
        assert retry["backoffDuration"] == "30s", name


def test_every_task_has_requests_limits_and_a_timeout():
    for stem in PIPELINES:
        spec, platform = load(stem)
        k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        for name, task in all_tasks(spec).items():
            if name not in POLICIES:
                continue  # groups (exit handler, conditions)
            executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
            resources = spec["deploymentSpec"]["executors"][executor]["container"]["resources"]
            for key in ("resourceCpuRequest", "resourceCpuLimit", "resourceMemoryRequest",
                        "resourceMemoryLimit"):  # fmt: skip
                assert resources.get(key), f"{stem}/{name} lacks {key}"
            assert int(k8s[executor]["activeDeadlineSeconds"]) == POLICIES[name].timeout_seconds


def test_the_training_run_has_an_exit_handler_writing_the_summary():
    spec, _ = load("training")
    summary = spec["root"]["dag"]["tasks"]["run-summary"]
    assert summary["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert summary["dependentTasks"] == ["exit-handler-1"]
    status = summary["inputs"]["parameters"]["status"]["taskFinalStatus"]
    assert status == {"producerTask": "exit-handler-1"}


def test_every_parameter_is_documented_and_display_names_read_as_words():
    for stem in PIPELINES:
        spec, _ = load(stem)
        parameters = spec["root"]["inputDefinitions"]["parameters"]
        undocumented = [n for n, p in parameters.items() if not p.get("description")]
        assert not undocumented, f"{stem}: {undocumented}"
        for name, task in all_tasks(spec).items():
            shown = task["taskInfo"]["name"]
            assert " " in shown and "-" not in shown and "_" not in shown, f"{name}: {shown}"


def test_beam_args_and_predictor_image_are_parameters():
    spec, _ = load("training")
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["beam_pipeline_args"]["parameterType"] == "LIST"
    assert parameters["predictor_image"]["defaultValue"] == PREDICTOR_IMAGE


def test_secrets_come_from_kubernetes_not_parameters():
    text = (REPO / "compiled" / "training.yaml").read_text()
    platform = yaml.safe_load(text.split("\n---\n")[1])
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    pii = executors["exec-pii-scan"]["secretAsEnv"][0]
    assert pii["keyToEnv"] == [{"envVar": "QUIZOPS_PII_KEY", "secretKey": "key"}]
    spec = yaml.safe_load(text.split("\n---\n")[0])
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert not [p for p in parameters if "key" in p.lower() or "password" in p.lower()]
    # Nothing from the compiling machine leaks into the YAML.
    for path in (REPO / "compiled").glob("*.yaml"):
        text = path.read_text()
        for marker in ("/work/", "/tmp/", "/root/", ".quizops", "sqlite:"):
            assert marker not in text, f"{path.name} holds {marker}"


def test_every_pipeline_is_compiled():
    assert set(PIPELINES) == {p.stem for p in (REPO / "compiled").glob("*.yaml")}
