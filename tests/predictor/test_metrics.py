"""Predictor metrics in a private registry: names, labels and values as Prometheus reads them."""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from quizops_predictor.metrics import LATENCY_BUCKETS, METRIC_NAMES, create_metrics


def _samples(registry):
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_two_variants_share_the_families_and_keep_their_series_apart():
    registry = CollectorRegistry()
    champion = create_metrics("champion", registry)
    canary = create_metrics("canary", registry)  # a second call reuses, never re-registers
    champion.observe_request("v1", 200, 0.004)
    champion.observe_request("v1", 200, 0.030)
    canary.observe_request("v2", 400, 0.001)
    champion.observe_decision("p7", 0.25)
    canary.observe_outcome(1)
    canary.observe_outcome(0)
    canary.observe_outcome(1)
    champion.set_model("quiz-policy", "7")
    canary.set_model("quiz-policy", "8")
    samples = _samples(registry)

    def value(name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    v1 = {"protocol": "v1", "variant": "champion"}
    assert value("quizops_predictor_requests_total", code="200", **v1) == 2
    assert (
        value("quizops_predictor_requests_total", code="400", protocol="v2", variant="canary") == 1
    )
    assert value("quizops_predictor_request_duration_seconds_count", **v1) == 2
    assert value("quizops_predictor_request_duration_seconds_sum", **v1) == 0.034
    # cumulative buckets: 4 ms falls in le=0.005, 30 ms in le=0.03
    assert value("quizops_predictor_request_duration_seconds_bucket", le="0.005", **v1) == 1
    assert value("quizops_predictor_request_duration_seconds_bucket", le="0.03", **v1) == 2
    assert value("quizops_predictor_decisions_total", item_id="p7", variant="champion") == 1
    assert value("quizops_predictor_propensity_sum", variant="champion") == 0.25
    assert value("quizops_predictor_outcomes_total", outcome="correct", variant="canary") == 2
    assert value("quizops_predictor_outcomes_total", outcome="incorrect", variant="canary") == 1
    for variant, version in (("champion", "7"), ("canary", "8")):
        labels = {"model_name": "quiz-policy", "policy_version": version, "variant": variant}
        assert value("quizops_predictor_model_info", **labels) == 1
    families = {f.name for f in text_string_to_metric_families(generate_latest(registry).decode())}
    # the text parser names counters without _total (the info metric is a gauge in the
    # 0.0.4 text format); every declared name is served
    for name in METRIC_NAMES:
        assert name.removesuffix("_total") in families, name
    assert 0.02 in LATENCY_BUCKETS  # the p99 target is a bucket bound


def test_in_flight_and_logged_decisions_through_the_cached_children():
    registry = CollectorRegistry()
    champion = create_metrics("champion", registry)
    canary = create_metrics("canary", registry)
    champion.request_started()
    champion.request_started()
    canary.request_started()
    champion.request_finished("v1", 200, 0.002)
    champion.observe_decisions_logged(3)
    canary.observe_decisions_logged(1)
    samples = _samples(registry)

    def value(name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("quizops_predictor_requests_in_flight", variant="champion") == 1
    assert value("quizops_predictor_requests_in_flight", variant="canary") == 1
    assert (
        value("quizops_predictor_requests_total", code="200", protocol="v1", variant="champion")
        == 1
    )
    assert value("quizops_predictor_decision_log_records_total", variant="champion") == 3
    assert value("quizops_predictor_decision_log_records_total", variant="canary") == 1
