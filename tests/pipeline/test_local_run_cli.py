"""`make run`'s command line: PII_POLICY reaches the pii_scan stage's parameter."""

import json
import subprocess
from pathlib import Path

import pytest

from pipelines.local_run import parse_args, pipeline_overrides, read_policy_file
from pipelines.training import training_pipeline
from quizops.errors import ConfigurationError

REPO = Path(__file__).resolve().parents[2]


def test_make_run_passes_pii_policy_to_the_runner():
    out = subprocess.run(["make", "-n", "run", "PII_POLICY=/x/policy.json"], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
    assert '--pii-policy "/x/policy.json"' in out
    out = subprocess.run(["make", "-n", "run"], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    assert "--pii-policy" not in out


def test_the_policy_file_becomes_the_pipelines_pii_policy_json(tmp_path):
    policy = {"columns": {"answer_text": "redact"}}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    overrides = pipeline_overrides(parse_args(["--pii-policy", str(path)]))
    assert json.loads(overrides["pii_policy_json"]) == policy
    # and that parameter is the one the pipeline hands to pii_scan's policy_json
    spec = training_pipeline.pipeline_spec
    task = spec.components["comp-exit-handler-1"].dag.tasks["pii-scan"]
    binding = task.inputs.parameters["policy_json"].component_input_parameter
    assert binding == "pipelinechannel--pii_policy_json"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot be read"), ("{not json", "not JSON"), ("[1, 2]", "must hold a JSON object")],
)
def test_a_bad_policy_file_is_a_clear_error_naming_no_content(tmp_path, content, message):
    path = tmp_path / "policy.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match=message) as caught:
        read_policy_file(str(path))
    if content is not None:
        assert content not in str(caught.value)  # the message names the file, not its content


def test_make_run_passes_decisions_to_the_runner():
    out = subprocess.run(["make", "-n", "run", "DECISIONS=/x/decisions"], cwd=REPO,
                         capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
    assert '--decisions "/x/decisions"' in out
    overrides = pipeline_overrides(parse_args(["--decisions", "/x/decisions"]))
    assert overrides["served_decisions_uri"] == "/x/decisions"
    assert "decisions_uri" not in overrides  # the skew check keeps the home's decisions/
    assert "served_decisions_uri" not in pipeline_overrides(parse_args([]))


def _task(name):
    """A task of the compiled training pipeline, wherever it is nested."""
    spec = training_pipeline.pipeline_spec
    found = [c.dag.tasks[name] for c in spec.components.values() if name in c.dag.tasks]
    assert len(found) == 1, name
    return found[0]


def test_served_decisions_reach_feature_engineering_and_the_deployed_predictor():
    features = _task("feature-engineering").inputs.parameters
    assert (
        features["decisions_uri"].component_input_parameter
        == "pipelinechannel--served_decisions_uri"
    )
    span = features["span"].task_output_parameter
    assert (span.producer_task, span.output_parameter_key) == ("fingerprint", "span")
    deploy = _task("deploy-kserve").inputs.parameters
    for parameter, pipeline_input in (
        ("decisions_uri", "served_decisions_uri"),
        ("canary_analysis", "canary_analysis"),
        ("prometheus_url", "prometheus_url"),
        ("canary_window_seconds", "canary_window_seconds"),
    ):
        assert deploy[parameter].component_input_parameter == f"pipelinechannel--{pipeline_input}"
    defaults = training_pipeline.pipeline_spec.root.input_definitions.parameters
    assert defaults["canary_analysis"].default_value.string_value == "required"  # safe default


def test_the_summary_says_what_happened_to_the_served_decisions(tmp_path):
    from pipelines.local_run import _served_lines

    assert _served_lines({"metrics": {}}) == []  # a run that did not reach the stage
    features = tmp_path / "feature-engineering" / "features"
    features.mkdir(parents=True)
    (features / "served_decisions.json").write_text(json.dumps({"skipped": "order ids"}))
    skipped = {"run_dir": str(tmp_path), "metrics": {"feature-engineering.served_join_skipped": 1}}
    assert _served_lines(skipped) == ["served decisions: not joined (order ids)"]
    joined = {
        "metrics": {
            "feature-engineering.served_join_skipped": 0,
            "feature-engineering.served_decisions": 12,
            "feature-engineering.served_joined": 9,
            "feature-engineering.served_followed": 7,
            "feature-engineering.served_no_answer": 3,
        }
    }
    assert _served_lines(joined) == [
        "served decisions: 12 read, 9 joined with an answer (7 followed: exact propensities), "
        "3 without one"
    ]


def test_the_summary_names_how_many_skills_the_feature_stage_left_out():
    from pipelines.local_run import summary_lines

    stages = {
        "feature-engineering": {"status": "SUCCESS", "seconds": 1.0},
        "deploy-kserve": {"status": "SUCCESS", "seconds": 1.0},
    }
    base = {"stages": stages, "seconds": 1.0, "ok": True}
    left_out = summary_lines({**base, "metrics": {"feature-engineering.skills_untraceable": 2.0}})
    assert [line for line in left_out if line.startswith("knowledge tracing: 2 skill(s) left out")]
    none = summary_lines({**base, "metrics": {"feature-engineering.skills_untraceable": 0.0}})
    assert not [line for line in none if line.startswith("knowledge tracing")]
