"""The shipped Grafana dashboard and Prometheus alert rules: their formats, and that every
metric and label they use is one a real predictor process exports on /metrics."""

import copy
import json
from pathlib import Path

import pytest
import yaml

from quizops.serving import PredictorProcess, http_json
from tests.monitoring.checks import (
    CheckError,
    check_dashboard,
    check_rules,
    exported,
    grouping_labels,
    matcher_labels,
    metric_names,
)

MONITORING = Path(__file__).resolve().parents[2] / "manifests" / "monitoring"
DASHBOARD = MONITORING / "quizops-predictor-dashboard.json"
RULES = MONITORING / "quizops-predictor-rules.yaml"
#: Labels Prometheus adds to every scraped series (target labels), not the predictor.
TARGET_LABELS = {"namespace", "pod", "instance", "job"}
INSTANCE = {"student_id": "s-1", "history": [{"item_id": "p100", "correct": 1}]}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def rules():
    return yaml.safe_load(RULES.read_text())


@pytest.fixture(scope="module")
def scraped(policy_dir, tmp_path_factory):
    """/metrics of a real predictor after answered, rejected and v2 requests."""
    home = tmp_path_factory.mktemp("home")
    process = PredictorProcess(
        model_dir=policy_dir,
        decisions_dir=home / "decisions",
        env={"QUIZOPS_HOME": str(home), "QUIZOPS_VARIANT": "canary"},
    )
    with process:
        assert process.predict_v1([INSTANCE])[0] == 200
        assert process.predict_v1([{"student_id": "s-1"}])[0] == 400
        v2 = {
            "inputs": [
                {
                    "name": "request",
                    "datatype": "BYTES",
                    "shape": [1],
                    "data": [json.dumps(INSTANCE)],
                }
            ]
        }
        url = f"{process.base_url}/v2/models/quiz-policy/infer"
        assert http_json("POST", url, v2)[0] == 200
        status, text = http_json("GET", f"{process.base_url}/metrics")
    assert status == 200
    return text


def test_dashboard_follows_the_grafana_json_model(dashboard):
    exprs = check_dashboard(dashboard)
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("latency", "error", "by item", "canary", "variant", "outcome"):
        assert topic in titles, topic
    assert len(exprs) >= 10


def test_rules_follow_the_prometheus_rule_format(rules):
    alerts = {r["alert"] for r in check_rules(rules)}
    assert {
        "QuizPolicyPredictorHighErrorRate",
        "QuizPolicyPredictorLatencyP99High",
        "QuizPolicyCanaryErrorRateAboveChampion",
        "QuizPolicyDecisionLogFailing",
    } <= alerts


def _all_exprs(dashboard, rules):
    return check_dashboard(dashboard) + [r["expr"] for r in check_rules(rules)]


@pytest.mark.service
def test_every_metric_and_label_used_is_exported_by_the_predictor(dashboard, rules, scraped):
    names, labels = exported(scraped)
    used = set()
    for expr in _all_exprs(dashboard, rules):
        missing = metric_names(expr) - names
        assert not missing, (missing, expr)
        used |= metric_names(expr)
        unknown = (grouping_labels(expr) | matcher_labels(expr)) - labels - TARGET_LABELS
        assert not unknown, (unknown, expr)
    # the monitoring covers every family the predictor exports
    families = {
        "quizops_predictor_requests_total",
        "quizops_predictor_request_duration_seconds_bucket",
        "quizops_predictor_decisions_total",
        "quizops_predictor_propensity_bucket",
        "quizops_predictor_model_info",
        "quizops_predictor_requests_in_flight",
        "quizops_predictor_decision_log_failures_total",
        "quizops_predictor_outcomes_total",
    }
    assert families <= used
    assert 'variant="canary"' in scraped


def test_metric_names_are_read_from_promql():
    expr = (
        'histogram_quantile(0.99, sum by (le, variant) (rate(a_seconds_bucket{code=~"5..", '
        'namespace=~"$namespace"}[5m]))) / on() clamp_min(sum(rate(b_total[$__rate_interval])), '
        "1e-9) > 0.5 and absent(c_info) or topk(3, d)"
    )
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c_info", "d"}
    assert grouping_labels(expr) == {"le", "variant"}
    assert matcher_labels(expr) == {"code", "namespace"}


def test_checks_catch_broken_files(dashboard, rules):
    overlapping = copy.deepcopy(dashboard)
    overlapping["panels"][2]["gridPos"] = dict(overlapping["panels"][1]["gridPos"])
    with pytest.raises(CheckError, match="overlaps panel"):
        check_dashboard(overlapping)
    wide = copy.deepcopy(dashboard)
    wide["panels"][1]["gridPos"]["w"] = 30
    with pytest.raises(CheckError, match="24-column grid"):
        check_dashboard(wide)
    undefined = copy.deepcopy(dashboard)
    undefined["panels"][1]["targets"][0]["expr"] += " + on() vector($cluster)"
    with pytest.raises(CheckError, match=r"undefined variable \$cluster"):
        check_dashboard(undefined)
    bad_for = copy.deepcopy(rules)
    bad_for["groups"][0]["rules"][0]["for"] = "5 minutes"
    with pytest.raises(CheckError, match="for: not a Prometheus duration"):
        check_rules(bad_for)
    no_severity = copy.deepcopy(rules)
    del no_severity["groups"][0]["rules"][0]["labels"]["severity"]
    with pytest.raises(CheckError, match="severity"):
        check_rules(no_severity)
    unbalanced = copy.deepcopy(rules)
    unbalanced["groups"][0]["rules"][1]["expr"] += ")"
    with pytest.raises(CheckError, match="unbalanced"):
        check_rules(unbalanced)


@pytest.mark.service
def test_a_metric_the_predictor_does_not_export_is_caught(scraped):
    names, _ = exported(scraped)
    assert metric_names("rate(quizops_predictor_requests_totl[5m])") - names == {
        "quizops_predictor_requests_totl"
    }
