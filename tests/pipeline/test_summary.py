"""The exit handler's run summary, on run folders laid out as kfp.local and KFP backends do."""

import json

import pytest

from quizops.summary import run_folder, run_summary_stage, summarize_run


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/root/quizops-training-2026/run-summary/summary", "/root/quizops-training-2026"),
        ("gs://b/root/quizops-training/123/run-summary/summary", "gs://b/root/quizops-training/123"),
        ("gs://b/root/quizops-training/123/run-summary/9f8e/summary",
         "gs://b/root/quizops-training/123"),  # newer backends: a per-execution folder
    ],
)  # fmt: skip
def test_run_folder_is_found_in_every_layout(uri, expected):
    assert run_folder(uri) == expected


def write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_blessed_run_with_salted_folders(tmp_path):
    run = tmp_path / "run"
    write(run / "ingest" / "a1" / "manifest")
    write(run / "train-policy" / "b2" / "model" / "policy.json")
    write(run / "evaluate-policy" / "c3" / "report")
    write(run / "deploy-kserve" / "d4" / "deployment")
    summary = summarize_run("SUCCEEDED", str(run))
    assert summary.gate == "blessed" and not summary.failed
    assert summary.model_uri == str(run / "train-policy" / "b2" / "model")
    assert summary.stages["ingest"] == "produced outputs"
    assert summary.stages["pii-scan"] == "no outputs"
    assert str(run / "evaluate-policy" / "c3" / "report") in summary.reports


def test_the_gate_comes_from_the_evaluation_s_return_value(tmp_path):
    run = tmp_path / "run"
    write(run / "evaluate-policy" / "executor_output.json", json.dumps({
        "parameterValues": {"Output": False},
        "artifacts": {"metrics": {"artifacts": [{"metadata": {"sim_bkt_diff_random": 0.5}}]}},
    }))  # fmt: skip
    summary = summarize_run("SUCCEEDED", str(run))
    assert summary.gate == "not blessed"
    assert summary.metrics["evaluate-policy.sim_bkt_diff_random"] == 0.5
    assert "| evaluate-policy.sim_bkt_diff_random | 0.5000 |" in summary.markdown


def test_a_failed_run_is_reported_failed_with_its_error_line(tmp_path):
    run = tmp_path / "run"
    write(run / "ingest" / "manifest")
    out = run / "run-summary" / "summary"
    result = run_summary_stage(state="FAILED", summary_path=str(out), summary_uri=str(out),
                               error="Task pii-scan failed.\\ndetails")  # fmt: skip
    text = out.read_text()
    assert result.failed and text.startswith("# Run summary: FAILED")
    assert "gate: **not reached**" in text and "error: Task pii-scan failed." in text
    assert "| pii-scan | no outputs |" in text and "| ingest | produced outputs |" in text


def test_skills_left_out_by_the_feature_stage_are_in_the_summary(tmp_path):
    run = tmp_path / "run"
    write(run / "feature-engineering" / "executor_output.json", json.dumps({
        "artifacts": {"metrics": {"artifacts": [{"metadata": {"skills_untraceable": 2.0}}]}},
    }))  # fmt: skip
    summary = summarize_run("SUCCEEDED", str(run))
    assert summary.metrics["feature-engineering.skills_untraceable"] == 2.0
    assert "| feature-engineering.skills_untraceable | 2 |" in summary.markdown
