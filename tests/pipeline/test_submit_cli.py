"""`quizops submit` / `quizops schedule` and the per-environment configs, through the real
kfp.Client against the boundary mock of the KFP API (tests/pipeline/mock_kfp_api.py)."""

import warnings
from pathlib import Path

import kfp
import pytest
import yaml

from pipelines.submit import (
    CONFIGS,
    ENVIRONMENTS,
    check_arguments,
    declared_parameters,
    load_config,
    parse_params,
    schedule_runs,
    start_run,
)
from quizops.cli import main as quizops_main
from quizops.errors import SubmissionError
from tests.pipeline.mock_kfp_api import MockKfpApi

REPO = Path(__file__).resolve().parents[2]
NAMES = ("quizops-training", "quizops-monitoring", "quizops-rollback")
ARGUMENTS = {"source_uri": "gs://b/src", "span": "2026-11-23"}


@pytest.fixture(autouse=True)
def _no_local_kfp_context(monkeypatch, tmp_path):
    monkeypatch.setattr(kfp.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "no-context.json"))
    monkeypatch.delenv("KFP_TOKEN", raising=False)


def client_for(api: MockKfpApi) -> kfp.Client:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=api.url)


def posted(api: MockKfpApi, suffix: str) -> list:
    return [r.body for r in api.requests if r.method == "POST" and r.path.endswith(suffix)]


# --------------------------------------------------------------------------------------------
# environments


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_config_matches_the_pipeline_signatures(env):
    config = load_config(CONFIGS / f"{env}.yaml")
    check_arguments(config["pipeline"], config["arguments"], f"{env}.yaml")
    for pipeline, arguments in config.get("pipelines", {}).items():
        check_arguments(pipeline, arguments, f"{env}.yaml pipelines.{pipeline}")


def test_environments_never_share_a_registry_a_service_or_a_bucket():
    configs = {env: load_config(CONFIGS / f"{env}.yaml") for env in ENVIRONMENTS}
    for key in ("mlflow_tracking_uri", "statistics_store_uri", "decisions_uri", "source_uri"):
        values = [c["arguments"][key] for c in configs.values()]
        assert len(set(values)) == len(values), key
    services = [
        (c["arguments"]["namespace"], c["arguments"]["service_name"]) for c in configs.values()
    ]
    assert len(set(services)) == len(services)
    assert len({c["experiment"] for c in configs.values()}) == len(configs)


def test_scheduled_environments_read_the_span_of_their_schedule():
    for env in ("staging", "prod"):
        config = load_config(CONFIGS / f"{env}.yaml")
        assert config["arguments"]["span"] == "@scheduled-1"
        assert (
            config["schedule"]["no_catchup"] is True and config["schedule"]["max_concurrency"] == 1
        )


def test_check_arguments_rejects_unknown_wrong_type_and_missing():
    with pytest.raises(ValueError, match="not parameters"):
        check_arguments("training", {**ARGUMENTS, "nope": 1})
    with pytest.raises(ValueError, match="'eval_students' must be NUMBER_INTEGER"):
        check_arguments("training", {**ARGUMENTS, "eval_students": "many"})
    with pytest.raises(ValueError, match="'eval_students' must be NUMBER_INTEGER"):
        check_arguments("training", {**ARGUMENTS, "eval_students": True})
    with pytest.raises(ValueError, match=r"required parameter\(s\) \['source_uri'\]"):
        check_arguments("training", {})


def test_parse_params_types_values_from_the_compiled_pipeline():
    parsed = parse_params(
        ["eval_students=150", "min_lift=0.1", "span=2026-11-23", 'beam_pipeline_args=["--a=1"]'],
        "training",
    )
    assert parsed == {"eval_students": 150, "min_lift": 0.1, "span": "2026-11-23",
                      "beam_pipeline_args": ["--a=1"]}  # fmt: skip
    assert declared_parameters("training")["eval_students"]["parameterType"] == "NUMBER_INTEGER"
    with pytest.raises(ValueError, match="must be NUMBER_INTEGER"):
        parse_params(["eval_students=lots"], "training")
    with pytest.raises(ValueError, match="expected name=value"):
        parse_params(["eval_students"], "training")


# --------------------------------------------------------------------------------------------
# submit


def test_submit_uploads_runs_with_the_service_account_and_waits_for_success():
    with MockKfpApi(NAMES) as api:
        ids = start_run(client_for(api), pipeline="training", version="v1", arguments=ARGUMENTS,
                        experiment="quizops-dev", service_account="quizops-pipeline",
                        wait=True, poll_seconds=0)  # fmt: skip
        assert api.rejections == []
        assert ids["state"] == "SUCCEEDED"
        (run,) = posted(api, "/runs")
        assert run["service_account"] == "quizops-pipeline"
        assert run["runtime_config"]["parameters"] == ARGUMENTS
        assert run["pipeline_version_reference"]["pipeline_version_id"] == ids["version_id"]


def test_submit_reports_a_failed_run_and_the_cli_exits_non_zero(monkeypatch, capsys):
    with MockKfpApi(NAMES, run_states=("RUNNING", "FAILED")) as api:
        monkeypatch.chdir(REPO)
        status = quizops_main(["submit", "--host", api.url, "--version", "v1", "--env", "dev",
                               "--param", "span=2026-11-23", "--wait", "--poll", "0"])  # fmt: skip
        assert status == 1
        assert api.rejections == []


def test_no_cache_runs_the_package_with_every_task_cache_off():
    with MockKfpApi(NAMES) as api:
        start_run(client_for(api), pipeline="training", version="v1", arguments=ARGUMENTS,
                  experiment="quizops-dev", enable_caching=False)  # fmt: skip
        assert api.rejections == []
        (run,) = posted(api, "/runs")
        spec = run["pipeline_spec"].get("pipeline_spec", run["pipeline_spec"])
        tasks = spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]
        assert all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks.values())


def test_bad_arguments_fail_before_any_request():
    with MockKfpApi(NAMES) as api:
        client = client_for(api)
        before = len(api.requests)
        with pytest.raises(ValueError, match="not parameters"):
            start_run(client, pipeline="training", version="v1",
                      arguments={**ARGUMENTS, "source": "x"}, experiment="e")  # fmt: skip
        assert len(api.requests) == before


def test_a_wait_is_bounded_in_time():
    with MockKfpApi(NAMES, run_states=("RUNNING",)) as api:
        with pytest.raises(SubmissionError, match="still RUNNING after 0s"):
            start_run(client_for(api), pipeline="training", version="v1", arguments=ARGUMENTS,
                      experiment="e", wait=True, timeout_seconds=0, poll_seconds=0)  # fmt: skip


# --------------------------------------------------------------------------------------------
# schedule


def test_schedule_creates_a_recurring_run_without_catch_up_and_replaces_older_ones():
    with MockKfpApi(NAMES) as api:
        client = client_for(api)
        arguments = {**ARGUMENTS, "span": "@scheduled-1"}
        first = schedule_runs(client, pipeline="training", version="v1", arguments=arguments,
                              experiment="quizops-prod", cron="0 0 3 * * *")  # fmt: skip
        second = schedule_runs(client, pipeline="training", version="v2", arguments=arguments,
                               experiment="quizops-prod", cron="0 0 3 * * *",
                               max_concurrency=2)  # fmt: skip
        assert api.rejections == []
        jobs = posted(api, "/recurringruns")
        assert jobs[0]["no_catchup"] is True and jobs[0]["max_concurrency"] in (1, "1")
        assert jobs[1]["max_concurrency"] in (2, "2")
        assert jobs[0]["runtime_config"]["parameters"]["span"] == "@scheduled-1"
        assert set(api.state.recurring_runs) == {second["recurring_run_id"]}
        assert first["recurring_run_id"] != second["recurring_run_id"]


def test_schedule_catch_up_is_opt_in():
    with MockKfpApi(NAMES) as api:
        schedule_runs(client_for(api), pipeline="training", version="v1", arguments=ARGUMENTS,
                      experiment="e", cron="0 0 3 * * *", catch_up=True)  # fmt: skip
        assert posted(api, "/recurringruns")[0]["no_catchup"] is False


def test_an_api_error_is_one_clear_line():
    with MockKfpApi(NAMES) as api:
        with pytest.raises(SubmissionError) as caught:
            schedule_runs(client_for(api), pipeline="training", version="v1", arguments=ARGUMENTS,
                          experiment="e", cron="0 0 25 * * *")  # hour 25  # fmt: skip
        message = str(caught.value)
        assert "\n" not in message and "400" in message and "cron" in message


def test_a_five_field_cron_fails_before_any_request():
    with MockKfpApi(NAMES) as api:
        client = client_for(api)
        before = len(api.requests)
        with pytest.raises(ValueError, match="6"):
            schedule_runs(client, pipeline="training", version="v1", arguments=ARGUMENTS,
                          experiment="e", cron="0 3 * * *")  # fmt: skip
        assert len(api.requests) == before


def test_cli_schedule_uses_the_environment_config(monkeypatch):
    with MockKfpApi(NAMES) as api:
        monkeypatch.chdir(REPO)
        status = quizops_main(["schedule", "--host", api.url, "--version", "v1", "--env", "prod"])
        assert status == 0 and api.rejections == []
        (job,) = posted(api, "/recurringruns")
        prod = yaml.safe_load((CONFIGS / "prod.yaml").read_text())
        assert job["trigger"]["cron_schedule"]["cron"] == prod["schedule"]["cron"]
        assert job["runtime_config"]["parameters"] == prod["arguments"]
        assert job["service_account"] == prod["service_account"]


def test_cli_config_errors_are_one_line_exit_2(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    status = quizops_main(["submit", "--host", "http://127.0.0.1:9", "--version", "v1",
                           "--param", "eval_students=lots"])  # fmt: skip
    assert status == 2
    assert "eval_students" in capsys.readouterr().err


@pytest.mark.parametrize("pipeline", ["monitoring", "rollback"])
def test_cli_submits_the_other_pipelines_with_their_config_sections(monkeypatch, pipeline):
    with MockKfpApi(NAMES) as api:
        monkeypatch.chdir(REPO)
        status = quizops_main(["submit", "--host", api.url, "--version", "v1", "--env", "prod",
                               "--pipeline", pipeline, "--wait", "--poll", "0"])  # fmt: skip
        assert status == 0 and api.rejections == []
        (run,) = posted(api, "/runs")
        prod = yaml.safe_load((CONFIGS / "prod.yaml").read_text())
        assert run["runtime_config"]["parameters"] == prod["pipelines"][pipeline]
        (upload,) = [r for r in api.requests if r.path.endswith("/pipelines/upload")]
        assert upload.query["name"] == f"quizops-{pipeline}"
