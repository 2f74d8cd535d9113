"""Canary analysis: champion against canary on error rate, p99 latency and an outcome KPI.

The same judgement serves both targets. On KServe the figures come from Prometheus (HTTP API
``/api/v1/query``; the queries are templates, see :class:`PromQueries`); locally they come from
replaying logged requests against two predictor processes (:mod:`quizops.deploy.local`).

The outcome comparison is a two-proportion z-test (pooled variance) of the rate of correct
answers after a decision, canary against champion; its p-values go into the deploy report.
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from quizops.errors import DeploymentError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryCriteria:
    """When a canary is good enough to promote.

    Attributes:
        max_error_rate: Highest share of 5xx answers the canary may have.
        max_error_rate_increase: Highest canary error rate minus the champion's.
        max_p99_seconds: Highest p99 latency of the canary.
        max_p99_ratio: Highest canary p99 over champion p99.
        min_requests: Canary requests needed before judging errors and latency.
        min_outcome_trials: Outcomes (answers after a decision) per variant needed for the test.
        outcome_alpha: A one-sided p-value (canary worse) below this rolls back.
        require_outcome: Roll back when the window ends without enough outcomes.
    """

    max_error_rate: float = 0.02
    max_error_rate_increase: float = 0.01
    max_p99_seconds: float = 0.25
    max_p99_ratio: float = 1.5
    min_requests: int = 100
    min_outcome_trials: int = 100
    outcome_alpha: float = 0.05
    require_outcome: bool = True


@dataclass
class VariantFigures:
    """What was observed of one variant over the window.

    Attributes:
        requests: Inference requests answered.
        errors: Of which 5xx.
        p99_seconds: 99th percentile latency (None: no data).
        outcome_successes: Correct answers after a decision of this variant.
        outcome_trials: Answers after a decision of this variant.
    """

    requests: float = 0.0
    errors: float = 0.0
    p99_seconds: float | None = None
    outcome_successes: float = 0.0
    outcome_trials: float = 0.0

    @property
    def error_rate(self) -> float:
        """Share of 5xx answers (0 without requests)."""
        return self.errors / self.requests if self.requests > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures with the error rate, rounded for the report.

        Returns:
            A JSON-ready dict.
        """
        row = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        row["error_rate"] = round(self.error_rate, 6)
        return row


def two_proportion_test(
    champion_successes: float,
    champion_trials: float,
    canary_successes: float,
    canary_trials: float,
) -> dict[str, Any]:
    """Two-proportion z-test with pooled variance, canary against champion.

    Args:
        champion_successes: Champion's successes.
        champion_trials: Champion's trials (> 0).
        canary_successes: Canary's successes.
        canary_trials: Canary's trials (> 0).

    Returns:
        Rates, difference (canary - champion), ``z``, the two-sided p-value and the one-sided
        p-value of "canary worse" (small when the canary's rate is lower).

    Raises:
        ValueError: A variant has no trials or more successes than trials.
    """
    from scipy.stats import norm

    if champion_trials <= 0 or canary_trials <= 0:
        raise ValueError("two_proportion_test: both variants need trials")
    if not (0 <= champion_successes <= champion_trials and 0 <= canary_successes <= canary_trials):
        raise ValueError("two_proportion_test: successes must lie within 0..trials")
    p_champion = champion_successes / champion_trials
    p_canary = canary_successes / canary_trials
    pooled = (champion_successes + canary_successes) / (champion_trials + canary_trials)
    se = math.sqrt(pooled * (1 - pooled) * (1 / champion_trials + 1 / canary_trials))
    diff = p_canary - p_champion
    z = 0.0 if se == 0 else diff / se
    return {
        "test": "two-proportion z-test (pooled), outcome = correct answer after a decision",
        "champion_rate": round(p_champion, 6),
        "canary_rate": round(p_canary, 6),
        "champion_trials": champion_trials,
        "canary_trials": canary_trials,
        "difference": round(diff, 6),
        "z": round(z, 6),
        "p_value_two_sided": float(2 * norm.sf(abs(z))),
        "p_value_canary_worse": float(norm.cdf(z)),
    }


@dataclass
class AnalysisResult:
    """The verdict of an observation window.

    Attributes:
        promote: True when every criterion held at the end of the window.
        reasons: Why, criterion by criterion.
        variants: Last figures per variant (``champion``, ``canary``).
        ab_test: The outcome test (empty without enough outcomes).
        samples: Observations taken.
    """

    promote: bool
    reasons: list[str] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    ab_test: dict[str, Any] = field(default_factory=dict)
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        """For the deployment record.

        Returns:
            A JSON-ready dict with ``decision``.
        """
        return {
            "decision": "promote" if self.promote else "roll back",
            "reasons": self.reasons,
            "variants": self.variants,
            "ab_test": self.ab_test,
            "samples": self.samples,
        }


def judge(
    champion: VariantFigures, canary: VariantFigures, criteria: CanaryCriteria
) -> tuple[bool | None, list[str], dict[str, Any]]:
    """Judges one observation.

    Args:
        champion: Champion figures.
        canary: Canary figures.
        criteria: Thresholds.

    Returns:
        ``(verdict, reasons, ab_test)``: verdict False when a criterion fails, None when there is
        not enough data yet, True when all hold.
    """
    reasons: list[str] = []
    failed = False
    enough = canary.requests >= criteria.min_requests
    if not enough:
        reasons.append(
            f"canary served {canary.requests:.0f} requests, {criteria.min_requests} needed"
        )
    else:
        rate, base = canary.error_rate, champion.error_rate
        if rate > criteria.max_error_rate:
            failed = True
            reasons.append(f"FAIL error rate {rate:.4f} > {criteria.max_error_rate}")
        elif rate - base > criteria.max_error_rate_increase:
            failed = True
            reasons.append(
                f"FAIL error rate {rate:.4f} exceeds the champion's {base:.4f} by more than "
                f"{criteria.max_error_rate_increase}"
            )
        else:
            reasons.append(f"ok error rate {rate:.4f} (champion {base:.4f})")
        p99, base_p99 = canary.p99_seconds, champion.p99_seconds
        if p99 is None:
            enough = False
            reasons.append("no p99 latency for the canary yet")
        elif p99 > criteria.max_p99_seconds:
            failed = True
            reasons.append(f"FAIL p99 {p99:.4f} s > {criteria.max_p99_seconds} s")
        elif base_p99 and p99 > criteria.max_p99_ratio * base_p99:
            failed = True
            reasons.append(
                f"FAIL p99 {p99:.4f} s > {criteria.max_p99_ratio} x champion's {base_p99:.4f} s"
            )
        else:
            reasons.append(f"ok p99 {p99:.4f} s (champion {base_p99 or float('nan'):.4f} s)")
    ab: dict[str, Any] = {}
    trials = min(champion.outcome_trials, canary.outcome_trials)
    if trials >= criteria.min_outcome_trials:
        ab = two_proportion_test(
            champion.outcome_successes,
            champion.outcome_trials,
            canary.outcome_successes,
            canary.outcome_trials,
        )
        if ab["p_value_canary_worse"] < criteria.outcome_alpha:
            failed = True
            reasons.append(
                f"FAIL outcome rate {ab['canary_rate']:.4f} below the champion's "
                f"{ab['champion_rate']:.4f} (one-sided p = {ab['p_value_canary_worse']:.4g} < "
                f"{criteria.outcome_alpha})"
            )
        else:
            reasons.append(
                f"ok outcome rate {ab['canary_rate']:.4f} (champion {ab['champion_rate']:.4f}, "
                f"one-sided p = {ab['p_value_canary_worse']:.4g})"
            )
    elif criteria.require_outcome:
        enough = False
        reasons.append(
            f"{trials:.0f} outcomes per variant, {criteria.min_outcome_trials} needed for the test"
        )
    else:
        reasons.append(
            f"outcome test not run: {trials:.0f} outcomes per variant, "
            f"{criteria.min_outcome_trials} needed (not required here)"
        )
    if failed:
        return False, reasons, ab
    return (True if enough else None), reasons, ab


def observe_window(
    observe: Callable[[], tuple[VariantFigures, VariantFigures]],
    criteria: CanaryCriteria,
    window_seconds: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    max_samples: int = 60,
) -> AnalysisResult:
    """Observes champion and canary over a bounded window and decides.

    A failing criterion ends the window at once (roll back). At the end every criterion must
    hold with enough data; a window that ends without enough data rolls back too.

    Args:
        observe: Returns the figures (champion, canary) over the window so far.
        criteria: Thresholds.
        window_seconds: Length of the window.
        interval: Seconds between observations.
        sleep: Sleep function (tests pass one that records).
        max_samples: Observations at most.

    Returns:
        The result.
    """
    samples = max(1, min(max_samples, math.ceil(window_seconds / max(interval, 1e-9))))
    result = AnalysisResult(promote=False)
    for index in range(samples):
        sleep(interval)
        champion, canary = observe()
        verdict, reasons, ab = judge(champion, canary, criteria)
        result.samples = index + 1
        result.reasons, result.ab_test = reasons, ab
        result.variants = {"champion": champion.summary(), "canary": canary.summary()}
        if verdict is False:
            result.reasons.insert(0, f"criterion failed at observation {index + 1}/{samples}")
            return result
    if verdict is None:
        result.reasons.insert(0, "window ended without enough data to judge the canary")
        return result
    result.promote = True
    return result


# ----------------------------------------------------------------------------- Prometheus


@dataclass(frozen=True)
class PromQueries:
    """PromQL templates; ``{selector}`` is filled per variant, ``{window}`` with the window.

    The metric names are those of ``kserve/quizops_predictor/metrics.py``
    (``quizops_predictor_requests_total{protocol,code,variant}``, the latency histogram
    ``quizops_predictor_request_duration_seconds``) and an outcome counter
    ``quizops_predictor_outcomes_total{outcome}`` (``correct`` / ``incorrect``).

    Attributes:
        requests: Requests answered over the window.
        errors: 5xx answers over the window.
        p99: 99th percentile latency in seconds.
        outcome_successes: Correct answers after a decision.
        outcome_trials: Answers after a decision.
        selector: Label matchers of one variant; ``{namespace}`` and ``{revision}`` are filled.
            On KServe the revision label comes from the pod label
            ``serving.knative.dev/revision`` (Prometheus' usual pod label mapping).
    """

    requests: str = "sum(increase(quizops_predictor_requests_total{{{selector}}}[{window}]))"
    errors: str = (
        'sum(increase(quizops_predictor_requests_total{{{selector},code=~"5.."}}[{window}]))'
    )
    p99: str = (
        "histogram_quantile(0.99, sum by (le) "
        "(rate(quizops_predictor_request_duration_seconds_bucket{{{selector}}}[{window}])))"
    )
    outcome_successes: str = (
        'sum(increase(quizops_predictor_outcomes_total{{{selector},outcome="correct"}}[{window}]))'
    )
    outcome_trials: str = "sum(increase(quizops_predictor_outcomes_total{{{selector}}}[{window}]))"
    selector: str = 'namespace="{namespace}",serving_knative_dev_revision="{revision}"'


class PrometheusClient:
    """Instant queries against Prometheus' HTTP API (``GET /api/v1/query``).

    Args:
        url: Base URL of Prometheus (``http://prometheus.monitoring:9090``).
        timeout: Seconds per request.
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, promql: str) -> float | None:
        """Runs an instant query whose answer is one scalar-like sample.

        Args:
            promql: The query.

        Returns:
            The value, or None when the vector is empty or the value is NaN.

        Raises:
            DeploymentError: Prometheus is unreachable or answered an error.
        """
        address = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        try:
            with urllib.request.urlopen(address, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = ""
            try:
                detail = json.loads(exc.read()).get("errorType", "")
            except (ValueError, OSError):
                pass
            raise DeploymentError(f"Prometheus answered HTTP {exc.code} {detail}".strip()) from exc
        except (OSError, ValueError) as exc:
            raise DeploymentError(f"Prometheus query failed ({type(exc).__name__})") from exc
        if body.get("status") != "success":
            raise DeploymentError(f"Prometheus query failed ({body.get('errorType', 'error')})")
        data = body.get("data") or {}
        result = data.get("result")
        if data.get("resultType") == "scalar":
            value = result[1] if isinstance(result, list) else None
        elif data.get("resultType") == "vector":
            if not result:
                return None
            if len(result) != 1:
                raise DeploymentError(
                    f"Prometheus query returned {len(result)} series; expected one (aggregate it)"
                )
            value = result[0]["value"][1]
        else:
            raise DeploymentError(
                f"Prometheus query: unexpected result type {data.get('resultType')}"
            )
        if value is None:
            raise DeploymentError("Prometheus query: a scalar result without its value")
        number = float(value)
        return None if math.isnan(number) else number


@dataclass(frozen=True)
class PrometheusAnalysis:
    """How the KServe target reads the canary and the champion from Prometheus.

    Attributes:
        url: Prometheus base URL.
        queries: The PromQL templates.
        criteria: Thresholds.
        window_seconds: Observation window.
        interval: Seconds between observations.
        timeout: Seconds per query.
    """

    url: str
    queries: PromQueries = PromQueries()
    criteria: CanaryCriteria = CanaryCriteria()
    window_seconds: float = 600.0
    interval: float = 60.0
    timeout: float = 10.0

    def observer(
        self, namespace: str, champion_revision: str, canary_revision: str
    ) -> Callable[[], tuple[VariantFigures, VariantFigures]]:
        """Builds the ``observe`` callable of :func:`observe_window` for two revisions.

        Args:
            namespace: Namespace of the InferenceService.
            champion_revision: The revision serving the champion.
            canary_revision: The canary's revision.

        Returns:
            The callable.
        """
        client = PrometheusClient(self.url, self.timeout)
        window = f"{max(1, round(self.window_seconds))}s"

        def figures(revision: str) -> VariantFigures:
            selector = self.queries.selector.format(namespace=namespace, revision=revision)

            def run(template: str) -> float | None:
                return client.query(template.format(selector=selector, window=window))

            return VariantFigures(
                requests=run(self.queries.requests) or 0.0,
                errors=run(self.queries.errors) or 0.0,
                p99_seconds=run(self.queries.p99),
                outcome_successes=run(self.queries.outcome_successes) or 0.0,
                outcome_trials=run(self.queries.outcome_trials) or 0.0,
            )

        def observe() -> tuple[VariantFigures, VariantFigures]:
            return figures(champion_revision), figures(canary_revision)

        return observe
