"""pipelines/submit.py against a boundary mock of the KFP API, through the real kfp.Client.

No KFP API server can run here; tests/pipeline/mock_kfp_api.py is a small HTTP server on
127.0.0.1 that checks every request against kfp_server_api's models, the compiled IR and KFP's
cron, and answers with model-shaped JSON. The client under test is the real kfp 2.17 Client.
"""

import json
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import kfp
import kfp_server_api
import pytest
import yaml
from kfp import compiler, dsl

from pipelines.submit import load_config, main, submit
from tests.pipeline.mock_kfp_api import ApiError, MockKfpApi, validate_cron

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = REPO / "pipelines" / "configs" / "prod.yaml"
COMPILED = REPO / "compiled" / "training.yaml"


@pytest.fixture(autouse=True)
def _no_local_kfp_context(monkeypatch, tmp_path):
    # kfp.Client reads ~/.config/kfp/context.json; a developer's file must not change the tests.
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "no-context.json"))
    monkeypatch.delenv("KFP_TOKEN", raising=False)


@pytest.fixture
def kfp_api():
    with MockKfpApi() as api:
        yield api


def make_client(api: MockKfpApi, token: str | None = None) -> kfp.Client:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP 2.0.0-beta.2+"
        return kfp.Client(host=api.url, existing_token=token)


@pytest.fixture
def client(kfp_api):
    return make_client(kfp_api)


@pytest.fixture
def config():
    return load_config(PRODUCTION)


def write_config(tmp_path: Path, config: dict, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def posts(api: MockKfpApi) -> list[str]:
    return [r.path.removeprefix("/apis/v2beta1/") for r in api.requests if r.method == "POST"]


# --------------------------------------------------------------------------------------------
# submit()


def test_first_submission_uploads_pipeline_version_experiment_and_recurring_run(
    kfp_api, client, config
):
    ids = submit(client, config, "v0.1.0")

    assert set(ids) == {"pipeline_id", "version_id", "experiment_id", "recurring_run_id"}
    assert kfp_api.rejections == []
    assert posts(kfp_api) == [
        "pipelines/upload",
        "pipelines/upload_version",
        "experiments",
        "recurringruns",
    ]
    state = kfp_api.state
    [pipeline] = state.pipelines.values()
    assert (pipeline.pipeline_id, pipeline.display_name) == (ids["pipeline_id"], "quizops-training")
    version = state.versions[ids["version_id"]]
    assert version.display_name == "quizops-training-v0.1.0"
    assert version.pipeline_id == ids["pipeline_id"]
    # What was uploaded is the committed compiled IR, byte for byte in meaning.
    assert state.specs[ids["version_id"]] == next(yaml.safe_load_all(COMPILED.read_text()))
    assert state.experiments[ids["experiment_id"]].display_name == config["experiment"]
    assert state.runs == {}

    [job] = state.recurring_runs.values()
    assert job.recurring_run_id == ids["recurring_run_id"]
    assert job.display_name == "quizops-training-daily"
    assert job.experiment_id == ids["experiment_id"]
    assert job.trigger.cron_schedule.cron == "0 0 3 * * *"
    assert job.trigger.periodic_schedule is None
    assert (job.mode, job.status, job.max_concurrency, job.no_catchup) == (
        "ENABLE",
        "ENABLED",
        "1",
        True,
    )
    assert job.pipeline_version_reference.pipeline_id == ids["pipeline_id"]
    assert job.pipeline_version_reference.pipeline_version_id == ids["version_id"]
    assert job.runtime_config.parameters == config["arguments"]


def test_second_submission_reuses_pipeline_uploads_only_a_version_and_replaces_schedule(
    kfp_api, client, config
):
    first = submit(client, config, "v0.1.0")
    second = submit(make_client(kfp_api), config, "v0.2.0")

    assert kfp_api.rejections == []
    assert second["pipeline_id"] == first["pipeline_id"]  # found by get_pipeline_id
    assert second["experiment_id"] == first["experiment_id"]  # found, not created again
    assert second["version_id"] != first["version_id"]
    assert posts(kfp_api).count("pipelines/upload") == 1
    assert posts(kfp_api).count("pipelines/upload_version") == 2
    assert posts(kfp_api).count("experiments") == 1
    assert len(kfp_api.state.pipelines) == 1
    # One schedule, on the new version: the earlier version's schedule is gone.
    [job] = kfp_api.state.recurring_runs.values()
    assert job.recurring_run_id == second["recurring_run_id"]
    assert job.pipeline_version_reference.pipeline_version_id == second["version_id"]
    deletes = [r.path for r in kfp_api.requests if r.method == "DELETE"]
    assert deletes == [f"/apis/v2beta1/recurringruns/{first['recurring_run_id']}"]


def test_same_version_twice_is_refused_and_keeps_the_schedule(kfp_api, client, config):
    first = submit(client, config, "v0.1.0")
    with pytest.raises(kfp_server_api.ApiException) as caught:
        submit(client, config, "v0.1.0")
    assert caught.value.status == 409
    assert "quizops-training-v0.1.0" in caught.value.body
    assert list(kfp_api.state.recurring_runs) == [first["recurring_run_id"]]


def test_run_now_creates_a_run_with_the_config_arguments(kfp_api, client, config):
    ids = submit(client, config, "v0.1.0", run_now=True)

    assert kfp_api.rejections == []
    assert posts(kfp_api).index("runs") < posts(kfp_api).index("recurringruns")
    run = kfp_api.state.runs[ids["run_id"]]
    assert run.display_name == "quizops-training-v0.1.0"
    assert run.experiment_id == ids["experiment_id"]
    assert run.pipeline_version_reference.pipeline_id == ids["pipeline_id"]
    assert run.pipeline_version_reference.pipeline_version_id == ids["version_id"]
    assert run.runtime_config.parameters == config["arguments"]
    assert run.pipeline_spec is None  # runs the uploaded version, not an inline copy


def test_no_schedule_creates_no_recurring_run(kfp_api, client, config):
    ids = submit(client, config, "v0.1.0", run_now=True, schedule=False)
    assert "recurring_run_id" not in ids
    assert kfp_api.state.recurring_runs == {}
    unscheduled = {k: v for k, v in config.items() if k != "schedule"}
    ids = submit(client, unscheduled, "v0.2.0")
    assert set(ids) == {"pipeline_id", "version_id", "experiment_id"}
    assert kfp_api.state.recurring_runs == {}


@pytest.mark.parametrize("run_now", [True, False], ids=["run", "recurring-run"])
def test_undeclared_parameter_is_rejected_by_the_api(kfp_api, client, config, run_now):
    config["arguments"]["learning_rate"] = 0.1
    with pytest.raises(kfp_server_api.ApiException) as caught:
        submit(client, config, "v0.1.0", run_now=run_now)

    assert caught.value.status == 400
    status = json.loads(caught.value.body)
    assert "['learning_rate'] are not declared by pipeline 'quizops-training'" in status["message"]
    assert status["code"] == 3  # INVALID_ARGUMENT
    assert len(kfp_api.rejections) == 1
    assert kfp_api.state.runs == {}
    assert kfp_api.state.recurring_runs == {}


def test_parameter_of_the_wrong_type_is_rejected(kfp_api, client, config):
    config["arguments"]["canary_traffic_percent"] = "ten"
    with pytest.raises(kfp_server_api.ApiException, match="canary_traffic_percent' is NUMBER_INT"):
        submit(client, config, "v0.1.0")


def test_missing_required_parameter_is_rejected(kfp_api, client, config):
    del config["arguments"]["source_uri"]  # the one parameter without a default
    with pytest.raises(kfp_server_api.ApiException, match=r"required parameter\(s\) \['source_uri"):
        submit(client, config, "v0.1.0")


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 3 * * *", "KFP cron has 6 fields"),  # a 5-field Unix cron
        ("0 0 25 * * *", "hour 25 outside [0, 23]"),
        ("0 0 3 * * MON-", "bad day-of-week value"),
        ("0 0 3 * * */0", "bad day-of-week step"),
        ("@fortnightly", "unknown descriptor"),
    ],
)
def test_bad_cron_is_rejected_by_the_api(kfp_api, client, config, cron, message):
    config["schedule"]["cron"] = cron  # past load_config: the server's check is the last line
    with pytest.raises(kfp_server_api.ApiException, match="invalid cron schedule") as caught:
        submit(client, config, "v0.1.0")
    assert message in caught.value.body
    assert kfp_api.state.recurring_runs == {}


def test_bad_cron_field_count_fails_in_load_config_before_any_upload(tmp_path, kfp_api):
    config = load_config(PRODUCTION)
    config["schedule"]["cron"] = "0 3 * * *"
    path = write_config(tmp_path, config)
    with pytest.raises(ValueError, match="has 5 fields; KFP cron has 6"):
        main(["--host", kfp_api.url, "--version", "v0.1.0", "--config", str(path)])
    assert kfp_api.requests == []


def test_missing_compiled_package_fails_before_any_request(kfp_api, client, config):
    config["pipeline"] = "no-such-pipeline"
    with pytest.raises(FileNotFoundError, match="run `make compile`"):
        submit(client, config, "v0.1.0")
    assert [r.path for r in kfp_api.requests] == ["/apis/v2beta1/healthz"]  # the client's probe


# --------------------------------------------------------------------------------------------
# main()


def test_main_prints_the_ids_and_sends_the_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KFP_TOKEN", "t0ken")
    path = write_config(tmp_path, load_config(PRODUCTION))
    with MockKfpApi(token="t0ken") as api, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        code = main(["--host", api.url, "--version", "v0.1.0", "--config", str(path), "--run-now"])
    assert code == 0
    assert api.rejections == []  # every request carried "Bearer t0ken"
    printed = dict(
        line.split(": ", 1)
        for line in capsys.readouterr().out.splitlines()
        if line.split(":")[0] in {"pipeline_id", "version_id", "experiment_id", "run_id"}
        or line.startswith("recurring_run_id")
    )
    assert printed == {
        "pipeline_id": next(iter(api.state.pipelines)),
        "version_id": next(
            v.pipeline_version_id
            for v in api.state.versions.values()
            if v.display_name == "quizops-training-v0.1.0"
        ),
        "experiment_id": next(iter(api.state.experiments)),
        "run_id": next(iter(api.state.runs)),
        "recurring_run_id": next(iter(api.state.recurring_runs)),
    }


def test_main_without_the_token_is_refused_by_a_server_that_wants_one(tmp_path):
    path = write_config(tmp_path, load_config(PRODUCTION))
    with MockKfpApi(token="t0ken") as api, warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(kfp_server_api.ApiException) as caught:
            main(["--host", api.url, "--version", "v0.1.0", "--config", str(path)])
    assert caught.value.status == 401


# --------------------------------------------------------------------------------------------
# load_config()


def test_load_config_reads_the_production_config():
    config = load_config(PRODUCTION)
    assert config["pipeline"] == "training"
    assert config["schedule"]["cron"] == "0 0 3 * * *"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing field 'pipeline'"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("experiment: q\narguments: {}\n", "missing field 'pipeline'"),
        ("pipeline: training\narguments: {}\n", "missing field 'experiment'"),
        ("pipeline: training\nexperiment: q\n", "missing field 'arguments'"),
        ("pipeline: ''\nexperiment: q\narguments: {}\n", "'pipeline' must be a non-empty"),
        ("pipeline: training\nexperiment: q\narguments: [1]\n", "'arguments' must be a mapping"),
        (
            "pipeline: training\nexperiment: q\narguments: {}\nschedule: daily\n",
            "'schedule' must be a mapping with a 'cron' string",
        ),
        (
            "pipeline: training\nexperiment: q\narguments: {}\nschedule: {max_concurrency: 1}\n",
            "'schedule' must be a mapping with a 'cron' string",
        ),
        (
            "pipeline: training\nexperiment: q\narguments: {}\nschedule: {cron: '0 3 * * *'}\n",
            "has 5 fields; KFP cron has 6",
        ),
    ],
)
def test_load_config_errors(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_load_config_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------------------------
# the mock itself is strict (it is the oracle of the tests above)


def _post(api: MockKfpApi, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        api.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_mock_rejects_unknown_and_output_only_fields(kfp_api):
    status, answer = _post(kfp_api, "/apis/v2beta1/experiments", {"display_name": "x", "nme": 1})
    assert status == 400
    assert "unknown field(s) ['nme'] for V2beta1Experiment" in answer["message"]
    status, answer = _post(
        kfp_api, "/apis/v2beta1/experiments", {"display_name": "x", "experiment_id": "e"}
    )
    assert status == 400
    assert "'experiment_id' is output only" in answer["message"]
    status, answer = _post(kfp_api, "/apis/v2beta1/experiments", {"description": "no name"})
    assert (status, "required field 'display_name'" in answer["message"]) == (400, True)
    status, answer = _post(
        kfp_api, "/apis/v2beta1/recurringruns", {"display_name": "x", "mode": "ON"}
    )
    assert status == 400
    assert "'ON' is not one of" in answer["message"]
    status, _ = _post(kfp_api, "/apis/v2beta1/nothing", {})
    assert status == 404


def test_mock_rejects_packages_that_are_not_the_compiled_pipeline(kfp_api, client, tmp_path):
    @dsl.component(base_image="python:3.11")
    def hello() -> str:
        return "hi"

    @dsl.pipeline(name="another-pipeline")
    def another() -> None:
        hello()

    other = tmp_path / "other.yaml"
    compiler.Compiler().compile(another, str(other))
    with pytest.raises(kfp_server_api.ApiException, match=r"pipelineInfo\.name is 'another-pipel"):
        client.upload_pipeline(str(other), pipeline_name="quizops-training")
    with pytest.raises(kfp_server_api.ApiException, match="is not a KFP pipeline spec"):
        client.upload_pipeline(str(PRODUCTION), pipeline_name="quizops-training")
    assert kfp_api.state.pipelines == {}


@pytest.mark.parametrize(
    "cron",
    ["0 0 3 * * *", "0 */15 * * * ?", "0 0 9 ? * 2-6", "0 30 1 1,15 JAN-JUN MON", "@daily"],
)
def test_mock_cron_accepts_kfp_six_field_cron(cron):
    validate_cron(cron)


@pytest.mark.parametrize(
    "cron", ["", "* * * * *", "0 0 3 * * * *", "60 * * * * *", "0 0 0 0 * *", "0 0 3 * * 7"]
)
def test_mock_cron_rejects_malformed_cron(cron):
    with pytest.raises(ApiError, match="invalid cron schedule"):
        validate_cron(cron)
