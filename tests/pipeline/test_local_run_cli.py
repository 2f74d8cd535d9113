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
