"""Canary analysis on the kserve target: the STAND-IN Kubernetes API (mock_kube_api.py) and the
STAND-IN Prometheus HTTP API (mock_prometheus.py), both on 127.0.0.1 and both checking what they
receive. A stale status is not promoted; a faulty challenger (errors, slow, worse outcomes) is
rolled back; a good one is promoted; the champion serves throughout; an API error mid-canary
ends rolled back."""

import json

import pytest
from kubernetes import client
from mock_kube_api import MockKubeAPI
from mock_prometheus import MockPrometheus, classify

from quizops.deploy import (
    DeploymentError,
    analyse_canary,
    deploy_kserve_target,
    render_inference_service,
    render_report,
)
from quizops.deploy.analysis import (
    CanaryCriteria,
    PrometheusAnalysis,
    PromQueries,
    VariantFigures,
    judge,
    observe_window,
    two_proportion_test,
)
from quizops.deploy.rollout import rollback_kserve
from quizops_predictor.demo import save_demo_policy

IMAGE = "ghcr.io/quizops/quizops-predictor:0.1.0"
NS = "quizops"
CHAMPION_REV = "quiz-policy-predictor-00001"
CANARY_REV = "quiz-policy-predictor-00002"
RESTORED_REV = "quiz-policy-predictor-00003"  # the champion's spec, written back by a rollback
CHAMPION = {
    "requests": 9000,
    "errors": 9,
    "p99": 0.020,
    "outcome_successes": 5400,
    "outcome_trials": 9000,
}
GOOD = {
    "requests": 1000,
    "errors": 1,
    "p99": 0.021,
    "outcome_successes": 610,
    "outcome_trials": 1000,
}


def _api(mock):
    configuration = client.Configuration()
    configuration.host = mock.url
    return client.CustomObjectsApi(client.ApiClient(configuration))


def _manifest(uri="gs://quizops/models/v2/policy", version="2"):
    return render_inference_service("quiz-policy", NS, uri, IMAGE, version)


def _seed(kube):
    deploy_kserve_target(
        _api(kube), _manifest("gs://quizops/models/v1/policy", "1"), 10, sleep=lambda s: None
    )
    kube.requests.clear()
    kube.history.clear()
    return json.loads(json.dumps(kube.objects[(NS, "quiz-policy")]["spec"]))


def _deploy(kube, prom, uri="gs://quizops/models/v2/policy", **kwargs):
    slept = []
    analysis = PrometheusAnalysis(url=prom.url, window_seconds=300, interval=60)
    record = deploy_kserve_target(
        _api(kube),
        _manifest(uri),
        10,
        analysis_timeout=5.0,
        poll_interval=0.5,
        sleep=slept.append,
        prometheus=analysis,
        **kwargs,
    )
    return record, slept


def _champion_served_throughout(kube, promoted=False):
    """Every status the API server wrote (until the promotion): the canary never had more than
    its 10%, and the rest of the traffic went to a revision of the champion's spec."""
    history = kube.history[:-1] if promoted else kube.history
    if promoted:
        assert kube.history[-1]["traffic"] == {CANARY_REV: 100}
    assert history
    for entry in history:
        canary_share = entry["traffic"].get(CANARY_REV, 0)
        assert canary_share <= 10, entry
        others = {rev for rev, share in entry["traffic"].items() if rev != CANARY_REV and share}
        assert others <= {CHAMPION_REV, RESTORED_REV}, entry
        assert sum(entry["traffic"].values()) == 100, entry


def test_good_canary_is_promoted_after_the_window():
    with MockKubeAPI(polls_until_ready=2) as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        record, slept = _deploy(kube, prom)
        assert record.status == "promoted"
        assert record.analysis["decision"] == "promote"
        assert record.analysis["samples"] == 5  # 300 s window, one observation a minute
        assert slept.count(60) == 5
        ab = record.analysis["ab_test"]
        assert ab["canary_rate"] == pytest.approx(0.61)
        assert ab["champion_rate"] == pytest.approx(0.60)
        assert 0 < ab["p_value_two_sided"] <= 1
        final = kube.objects[(NS, "quiz-policy")]
        assert final["status"]["components"]["predictor"]["traffic"] == [
            {"revisionName": CANARY_REV, "percent": 100, "latestRevision": True}
        ]
        assert "canaryTrafficPercent" not in final["spec"]["predictor"]
        # Strict field validation on every write; the stand-in accepted every query.
        writes = [path for method, path, _ in kube.requests if method in ("POST", "PATCH")]
        assert writes and all("fieldValidation=Strict" in path for path in writes)
        assert prom.rejected == []
        assert {classify(q, NS)[1] for q in prom.queries} == {CHAMPION_REV, CANARY_REV}
        _champion_served_throughout(kube, promoted=True)
        report = render_report(record)
        assert "A/B outcome comparison" in report and "p-value" in report
        assert record.canary_analysis == "required" and record.checks["metrics_analysis"] is True
        assert "- canary analysis: `required`; the observation window ran and passed" in report


FAULTY = {
    "errors": GOOD | {"errors": 60},  # 6% 5xx
    "slow": GOOD | {"p99": 0.400},
    "worse outcomes": GOOD | {"outcome_successes": 520},  # 52% against 60%
}


@pytest.mark.parametrize("fault", list(FAULTY))
def test_faulty_challenger_is_rolled_back_and_the_champion_serves_throughout(fault):
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: FAULTY[fault]}
        with pytest.raises(DeploymentError, match="rolled back to the previous predictor"):
            _deploy(kube, prom)
        after = kube.objects[(NS, "quiz-policy")]
        assert after["spec"] == before
        assert after["metadata"]["labels"]["quizops.io/model-version"] == "1"
        assert after["status"]["conditions"][-1] == {"type": "Ready", "status": "True"}
        assert after["status"]["components"]["predictor"]["traffic"] == [
            {"revisionName": RESTORED_REV, "percent": 100, "latestRevision": True}
        ]
        _champion_served_throughout(kube)
        # Canary traffic went to 0 before the previous spec was written back.
        patches = [body for method, _, body in kube.requests if method == "PATCH"]
        assert patches[1] == {"spec": {"predictor": {"canaryTrafficPercent": 0}}}
        assert patches[2]["spec"]["predictor"]["canaryTrafficPercent"] == 0
        assert patches[2]["spec"]["predictor"]["storageUris"] == before["predictor"]["storageUris"]
        # The annotation of the failed canary's previous spec was removed again.
        assert "quizops.io/previous-predictor" not in after["metadata"].get("annotations", {})


def test_outcome_failure_reports_the_test():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: FAULTY["worse outcomes"]}
        api = _api(kube)
        analysis = PrometheusAnalysis(url=prom.url, window_seconds=120, interval=60)
        try:
            deploy_kserve_target(api, _manifest(), 10, sleep=lambda s: None, prometheus=analysis)
        except DeploymentError as exc:
            assert "outcome rate" in str(exc)
        else:
            pytest.fail("a worse canary was promoted")


def test_stale_status_after_the_patch_is_not_promoted():
    # For three polls after the PATCH the status is the one from before it: Ready=True,
    # latest created == latest ready. The canary itself fails to load.
    with MockKubeAPI(stale_polls=3) as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        with pytest.raises(DeploymentError, match="RevisionFailed"):
            _deploy(kube, prom, uri="gs://quizops/models/broken/policy")
        assert kube.stale_served >= 3
        assert prom.queries == []  # no judgement was made on the stale status
        assert kube.objects[(NS, "quiz-policy")]["spec"] == before


def test_good_canary_behind_a_stale_status_is_judged_on_its_own_revision():
    with MockKubeAPI(stale_polls=3) as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        record, _ = _deploy(kube, prom)
        assert record.status == "promoted"
        assert record.checks["canary"]["revision"] == CANARY_REV
        assert kube.stale_served >= 3


def test_the_wait_ignores_a_status_from_before_the_write():
    stale = {
        "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True"}],
        "components": {
            "predictor": {
                "latestCreatedRevision": CHAMPION_REV,
                "latestReadyRevision": CHAMPION_REV,
                "traffic": [{"revisionName": CHAMPION_REV, "percent": 100}],
            }
        },
    }
    slept = []
    verdict = analyse_canary(
        lambda: stale,
        timeout=1.0,
        interval=0.25,
        sleep=slept.append,
        min_generation=2,
        previous_revision=CHAMPION_REV,
        expected_percent=10,
    )
    assert not verdict.healthy and "not ready within the analysis bounds" in verdict.reason
    assert len(slept) == 4


def test_api_error_mid_canary_ends_rolled_back():
    with MockKubeAPI(polls_until_ready=2) as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        kube.fail("GET", after=2)  # GET existing ok, first poll ok, second poll: 500
        with pytest.raises(DeploymentError, match="HTTP 500 mid-canary"):
            _deploy(kube, prom)
        after = kube.objects[(NS, "quiz-policy")]
        assert after["spec"] == before
        assert after["metadata"]["labels"]["quizops.io/model-version"] == "1"
        _champion_served_throughout(kube)


def test_failed_promotion_patch_ends_rolled_back():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        kube.fail("PATCH", after=1)  # the canary PATCH passes, the promotion PATCH fails
        with pytest.raises(DeploymentError, match="mid-canary"):
            _deploy(kube, prom)
        assert kube.objects[(NS, "quiz-policy")]["spec"] == before


def test_prometheus_down_or_rejecting_queries_rolls_back():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        prom.down = True
        with pytest.raises(DeploymentError, match="Prometheus answered HTTP 503"):
            _deploy(kube, prom)
        assert kube.objects[(NS, "quiz-policy")]["spec"] == before
        prom.down = False
        typo = PromQueries(requests="sum(increase(quizops_predictor_request_total{{{selector}}}"
                           "[{window}]))")  # fmt: skip
        analysis = PrometheusAnalysis(url=prom.url, queries=typo, window_seconds=60, interval=60)
        with pytest.raises(DeploymentError, match="HTTP 400 bad_data"):
            deploy_kserve_target(
                _api(kube), _manifest(), 10, sleep=lambda s: None, prometheus=analysis
            )
        assert any("unknown metric" in r for r in prom.rejected)


def test_too_little_canary_traffic_rolls_back():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD | {"requests": 20}}
        with pytest.raises(DeploymentError, match="rolled back"):
            _deploy(kube, prom)


def test_a_cluster_that_never_converges_reports_an_unverified_rollback():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        kube.polls_until_ready = 10_000
        with pytest.raises(DeploymentError, match="rollback"):
            _deploy(kube, prom)


def test_smoke_test_failure_rolls_back():
    seen = []

    def smoke(status, revision):
        seen.append((revision, status["components"]["predictor"]["latestReadyRevision"]))
        raise DeploymentError("smoke prediction answered HTTP 500")

    with MockKubeAPI(polls_until_ready=1) as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        with pytest.raises(DeploymentError, match="smoke prediction answered HTTP 500"):
            _deploy(kube, prom, smoke_test=smoke)
        assert seen == [(CANARY_REV, CANARY_REV)]  # called on the new, ready revision
        assert prom.queries == []
        assert kube.objects[(NS, "quiz-policy")]["spec"] == before


@pytest.mark.service
def test_smoke_test_reaches_the_canary_revision_through_its_tagged_url(policy_dir):
    from quizops.deploy.rollout import revision_smoke_test
    from quizops.serving import PredictorProcess

    with (
        MockKubeAPI(polls_until_ready=1) as kube,
        MockPrometheus(NS) as prom,
        PredictorProcess(model_dir=policy_dir, decisions_dir=policy_dir.parent / "d") as canary,
    ):
        _seed(kube)
        kube.revision_urls[CANARY_REV] = canary.base_url  # the real predictor is the canary
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        record, _ = _deploy(kube, prom, smoke_test=revision_smoke_test(policy_dir))
        assert record.status == "promoted" and record.checks["smoke_test"] is True
        # A canary serving another policy version fails the contract check and is rolled back.
        other = save_demo_policy(policy_dir.parent / "other", version="9")
        kube.revision_urls["quiz-policy-predictor-00003"] = canary.base_url  # serves version 2
        with pytest.raises(DeploymentError, match=r"smoke prediction: policy_version"):
            deploy_kserve_target(
                _api(kube),
                _manifest("gs://quizops/models/v9/policy", "9"),
                10,
                sleep=lambda s: None,
                smoke_test=revision_smoke_test(other),
                canary_analysis="skip",  # the smoke test alone decides here
            )


def test_rollback_redeploys_the_previous_spec_after_a_promotion():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        before = _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: GOOD}
        _deploy(kube, prom)
        assert (
            kube.objects[(NS, "quiz-policy")]["metadata"]["labels"]["quizops.io/model-version"]
            == "2"
        )
        record = rollback_kserve(_api(kube), "quiz-policy", NS, sleep=lambda s: None)
        assert record.status == "rolled_back"
        after = kube.objects[(NS, "quiz-policy")]
        assert after["spec"] == before
        assert after["metadata"]["labels"]["quizops.io/model-version"] == "1"
        traffic = after["status"]["components"]["predictor"]["traffic"]
        assert [t["percent"] for t in traffic] == [100]
        with pytest.raises(DeploymentError, match="no previous predictor recorded"):
            rollback_kserve(_api(kube), "quiz-policy", NS, sleep=lambda s: None)


# ----------------------------------------------------------------------------- the judgement


def test_two_proportion_test_matches_the_chi_square_test():
    from scipy.stats import chi2_contingency

    result = two_proportion_test(540, 900, 52, 100)
    table = [[540, 360], [52, 48]]
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    assert result["p_value_two_sided"] == pytest.approx(p, rel=1e-9)
    assert result["z"] ** 2 == pytest.approx(chi2, rel=1e-5)
    assert result["z"] < 0 and result["p_value_canary_worse"] == pytest.approx(p / 2, rel=1e-6)
    # Hand-derived: 60/100 vs 50/100, pooled 0.55, se = sqrt(.55*.45*.02) = 0.070356
    hand = two_proportion_test(60, 100, 50, 100)
    assert hand["z"] == pytest.approx(-0.1 / 0.0703562, rel=1e-5)


def test_judge_waits_for_enough_data_and_fails_fast():
    criteria = CanaryCriteria(min_requests=100, min_outcome_trials=100)
    champion = VariantFigures(1000, 1, 0.02, 600, 1000)
    verdict, reasons, _ = judge(champion, VariantFigures(50, 0, 0.02, 30, 50), criteria)
    assert verdict is None and any("100 needed" in r for r in reasons)
    verdict, _, _ = judge(champion, VariantFigures(200, 0, 0.02, 121, 200), criteria)
    assert verdict is True
    calls = []

    def observe():
        calls.append(1)
        return champion, VariantFigures(200, 50, 0.02, 120, 200)

    result = observe_window(observe, criteria, 600, 60, sleep=lambda s: None)
    assert not result.promote and result.samples == 1 and len(calls) == 1


def test_stage_refuses_before_deploying_when_the_evaluated_champion_changed(
    tmp_path, policy_dir, registry
):
    from quizops.deploy import run_deploy_stage
    from quizops.errors import RegistryError

    uri, mlflow_client = registry  # version 1 is champion
    mlflow_client.set_model_version_tag("quiz-policy", "2", "gate.champion_version", "")
    with MockKubeAPI() as kube:
        with pytest.raises(RegistryError, match="champion changed since version 2"):
            run_deploy_stage(
                model_dir=str(policy_dir),
                model_uri="gs://quizops/models/v2/policy",
                model_version="2",
                target="kserve",
                namespace=NS,
                service_name="quiz-policy",
                canary_traffic_percent=10,
                tracking_uri=uri,
                image=IMAGE,
                deployment_path=str(tmp_path / "deployment.json"),
                report_path=str(tmp_path / "report.md"),
                api=_api(kube),
            )
        assert kube.requests == []  # nothing was deployed
    assert not (tmp_path / "deployment.json").exists() and not (tmp_path / "report.md").exists()
    assert str(mlflow_client.get_model_version_by_alias("quiz-policy", "champion").version) == "1"


def test_redeploying_the_serving_spec_changes_nothing():
    with MockKubeAPI() as kube:
        _seed(kube)
        record = deploy_kserve_target(
            _api(kube), _manifest("gs://quizops/models/v1/policy", "1"), 10, sleep=lambda s: None
        )
        assert record.status == "promoted" and record.checks["unchanged"] is True
        assert [m for m, _, _ in kube.requests if m != "GET"] == []


# Fail closed without metrics: a canary is promoted on readiness alone only on explicit request.


def test_canary_without_prometheus_is_refused_before_anything_changes():
    with MockKubeAPI(polls_until_ready=1) as kube:
        before = _seed(kube)
        labels = dict(kube.objects[(NS, "quiz-policy")]["metadata"]["labels"])
        with pytest.raises(DeploymentError, match=r"canary_analysis='required' needs a Prometheus"):
            deploy_kserve_target(_api(kube), _manifest(), 10, sleep=lambda s: None)
        assert [m for m, _, _ in kube.requests if m != "GET"] == []  # no PATCH, no POST
        after = kube.objects[(NS, "quiz-policy")]
        assert after["spec"] == before and after["metadata"]["labels"] == labels


def test_skipping_the_analysis_is_explicit_and_recorded():
    with MockKubeAPI(polls_until_ready=1) as kube:
        _seed(kube)
        record = deploy_kserve_target(
            _api(kube), _manifest(), 10, sleep=lambda s: None, canary_analysis="skip"
        )
        assert record.status == "promoted" and record.canary_analysis == "skip"
        assert record.analysis == {}  # no window ran
        assert record.checks["metrics_analysis"] == (
            "skipped on request (canary_analysis='skip'): promoted on readiness alone"
        )
        stored = kube.objects[(NS, "quiz-policy")]
        assert stored["metadata"]["labels"]["quizops.io/model-version"] == "2"
        report = render_report(record)
        assert "- canary analysis: `skip`; skipped on request" in report
        assert json.loads(record.to_json())["canary_analysis"] == "skip"


def test_skip_does_not_query_prometheus_even_when_one_is_given():
    with MockKubeAPI(polls_until_ready=1) as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: FAULTY["errors"]}
        record, slept = _deploy(kube, prom, canary_analysis="skip")
        assert record.status == "promoted" and prom.queries == [] and 60 not in slept


def test_failed_window_is_recorded_as_such():
    with MockKubeAPI() as kube, MockPrometheus(NS) as prom:
        _seed(kube)
        prom.results = {CHAMPION_REV: CHAMPION, CANARY_REV: FAULTY["errors"]}
        record = None
        analysis = PrometheusAnalysis(url=prom.url, window_seconds=120, interval=60)
        from quizops.deploy.report import DeploymentRecord

        captured: list[DeploymentRecord] = []
        original = DeploymentRecord.event

        def spy(self, text):
            if self not in captured:
                captured.append(self)
            original(self, text)

        DeploymentRecord.event = spy
        try:
            with pytest.raises(DeploymentError, match="rolled back"):
                deploy_kserve_target(
                    _api(kube), _manifest(), 10, sleep=lambda s: None, prometheus=analysis
                )
        finally:
            DeploymentRecord.event = original
        [record] = captured
        assert record.checks["metrics_analysis"] is False
        assert "the observation window ran and failed" in render_report(record)


def test_first_and_full_rollouts_need_no_window():
    with MockKubeAPI(polls_until_ready=1) as kube:
        first = deploy_kserve_target(
            _api(kube), _manifest("gs://quizops/models/v1/policy", "1"), 10, sleep=lambda s: None
        )
        assert first.status == "promoted"
        assert first.checks["metrics_analysis"].startswith("not applicable: first rollout")
        full = deploy_kserve_target(_api(kube), _manifest(), 100, sleep=lambda s: None)
        assert full.status == "promoted"
        assert full.checks["metrics_analysis"] == (
            "not applicable: full rollout (canary_traffic_percent=100)"
        )


def test_unknown_canary_analysis_value_is_a_configuration_error():
    from quizops.errors import ConfigurationError

    with MockKubeAPI() as kube:
        with pytest.raises(ConfigurationError, match=r"canary_analysis: must be one of"):
            deploy_kserve_target(_api(kube), _manifest(), 10, canary_analysis="off")
        assert kube.requests == []


def test_stage_without_prometheus_refuses_the_canary_and_writes_nothing(tmp_path, policy_dir):
    from quizops.deploy import run_deploy_stage

    with MockKubeAPI(polls_until_ready=1) as kube:
        before = _seed(kube)
        arguments = {
            "model_dir": str(policy_dir),
            "model_uri": "gs://quizops/models/v2/policy",
            "model_version": "",  # unregistered: no registry read
            "target": "kserve",
            "namespace": NS,
            "service_name": "quiz-policy",
            "canary_traffic_percent": 10,
            "tracking_uri": "",
            "image": IMAGE,
            "deployment_path": str(tmp_path / "deployment.json"),
            "report_path": str(tmp_path / "report.md"),
            "api": _api(kube),
        }
        with pytest.raises(DeploymentError, match="nothing changed"):
            run_deploy_stage(**arguments)
        assert not (tmp_path / "deployment.json").exists()
        assert not (tmp_path / "report.md").exists()
        assert kube.objects[(NS, "quiz-policy")]["spec"] == before
        record = run_deploy_stage(**arguments, canary_analysis="skip")
        assert record.status == "promoted"
        written = json.loads((tmp_path / "deployment.json").read_text())
        assert written["canary_analysis"] == "skip"
        assert written["checks"]["metrics_analysis"].startswith("skipped on request")
        assert "- canary analysis: `skip`" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"resultType": "scalar", "result": [1733500000.0, "0.25"]}, 0.25),
        ({"resultType": "scalar", "result": [1733500000.0, "NaN"]}, None),
        ({"resultType": "scalar", "result": None}, DeploymentError),
        ({"resultType": "matrix", "result": []}, DeploymentError),
    ],
)
def test_prometheus_scalar_answers_are_read_or_refused(data, expected):
    """Prometheus' HTTP API (a mock of it: no Prometheus runs here) answering an instant
    query with a scalar: its value, NaN as no figure, and a scalar without a value or another
    result type as a DeploymentError, never a TypeError."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from quizops.deploy.analysis import PrometheusClient

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            raw = json.dumps({"status": "success", "data": data}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        prometheus = PrometheusClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)
        if expected is DeploymentError:
            with pytest.raises(DeploymentError, match="Prometheus query"):
                prometheus.query("vector(1)")
        else:
            assert prometheus.query("vector(1)") == expected
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
