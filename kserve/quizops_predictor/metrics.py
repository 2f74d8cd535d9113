"""Prometheus metrics of the predictor, served on ``/metrics`` by the KServe REST server.

Names follow the Prometheus conventions (``_total`` counters, ``_seconds`` durations, base
units, an ``_info`` metric for the model). Every series carries the serving ``variant``
(``champion`` or ``canary``, from ``$QUIZOPS_VARIANT``), so that a dashboard or an analysis
compares the two without joining on pod labels:

* ``quizops_predictor_requests_total{protocol,code,variant}``: inference requests by status code
* ``quizops_predictor_request_duration_seconds{protocol,variant}``: latency histogram
* ``quizops_predictor_requests_in_flight{variant}``: inference requests being served now
* ``quizops_predictor_decisions_total{item_id,variant}``: served decisions by chosen item
* ``quizops_predictor_propensity{variant}``: histogram of the chosen items' propensity
* ``quizops_predictor_outcomes_total{outcome,variant}``: answers to a previous question that
  requests report (``correct`` / ``incorrect``): the stateful form's ``answer``, else the last
  answer of the history. The live outcome KPI of an A/B comparison; counted by the variant that
  receives the answer, which under a per-request traffic split is not always the one that
  chose the question (the decision log joined with the next answer attributes exactly).
* ``quizops_predictor_unknown_items_total{field,reason,variant}``: item ids outside the served
  policy's item bank in answered requests, by ``field`` (``history``: answers, which leave the
  state unchanged; ``candidates``: left out of the choice) and ``reason`` (``new``: not in the
  training logs; ``left_out``: items of skills training left out as untraceable). A steady
  ``new`` rate means the bank has grown since training (retrain); every id unknown means the
  client sends ids in another form; ``left_out`` items stay out until the skill's tagging is
  fixed.
* ``quizops_predictor_model_info{model_name,policy_version,variant}``: 1 for the served model
* ``quizops_predictor_decision_log_records_total{variant}``: decisions written to the sink
* ``quizops_predictor_decision_log_failures_total{variant}``: failed sink writes (kept, retried)

``protocol`` is ``v1`` or ``v2`` (inference endpoints only; health, metadata and ``/metrics``
are not counted). The metrics live in the process's default registry, which KServe serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, Info

PREFIX = "quizops_predictor"
#: Latency buckets in seconds: 1 ms to 2.5 s (the p99 target is 20 ms).
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
#: Propensity buckets: the exploration floor sits low, greedy choices near 1.
PROPENSITY_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0)

#: Every metric name the predictor exports (as they appear on /metrics, base names).
METRIC_NAMES = (
    f"{PREFIX}_requests_total",
    f"{PREFIX}_request_duration_seconds",
    f"{PREFIX}_requests_in_flight",
    f"{PREFIX}_decisions_total",
    f"{PREFIX}_propensity",
    f"{PREFIX}_outcomes_total",
    f"{PREFIX}_unknown_items_total",
    f"{PREFIX}_model_info",
    f"{PREFIX}_decision_log_records_total",
    f"{PREFIX}_decision_log_failures_total",
)


@dataclass
class PredictorMetrics:
    """The predictor's metrics, bound to one variant.

    Attributes:
        variant: ``champion`` or ``canary``.
        requests: Counter by protocol and status code.
        duration: Latency histogram by protocol.
        in_flight: Gauge of requests being served.
        decisions: Counter by chosen item.
        propensity: Histogram of the chosen items' propensities.
        outcomes: Counter of reported answers by outcome.
        unknown_items: Counter of item ids outside the item bank, by request field.
        model: Info of the served model.
        log_records: Decisions written to the sink.
        log_failures: Failed sink writes.
    """

    variant: str
    requests: Counter
    duration: Histogram
    in_flight: Gauge
    decisions: Counter
    propensity: Histogram
    outcomes: Counter
    unknown_items: Counter
    model: Info
    log_records: Counter
    log_failures: Counter
    _children: dict = field(default_factory=dict, repr=False)
    _items: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Label lookups cost more than the updates: every child used per request is kept.
        self._in_flight = self.in_flight.labels(variant=self.variant)
        self._propensity = self.propensity.labels(variant=self.variant)
        self._log_records = self.log_records.labels(variant=self.variant)
        self._outcome = (
            self.outcomes.labels(outcome="incorrect", variant=self.variant),
            self.outcomes.labels(outcome="correct", variant=self.variant),
        )
        self._unknown = {
            (name, reason): self.unknown_items.labels(
                field=name, reason=reason, variant=self.variant
            )
            for name in ("history", "candidates")
            for reason in ("new", "left_out")
        }

    def request_started(self) -> None:
        """Counts one more inference request in flight."""
        self._in_flight.inc()

    def request_finished(self, protocol: str, code: int, seconds: float) -> None:
        """Counts one inference request out of flight, with its status and latency.

        Args:
            protocol: ``v1`` or ``v2``.
            code: HTTP status code answered.
            seconds: Time from the first byte received to the answer sent.
        """
        self._in_flight.dec()
        self.observe_request(protocol, code, seconds)

    def observe_decisions_logged(self, count: int) -> None:
        """Counts decisions written to the decision log sink.

        Args:
            count: Records written.
        """
        self._log_records.inc(count)

    def observe_request(self, protocol: str, code: int, seconds: float) -> None:
        """Counts one inference request and its latency.

        Args:
            protocol: ``v1`` or ``v2``.
            code: HTTP status code answered.
            seconds: Time from the first byte received to the answer sent.
        """
        key = (protocol, code)
        children = self._children.get(key)
        if children is None:  # label lookups cost more than the update: keep the children
            children = (
                self.requests.labels(protocol=protocol, code=str(code), variant=self.variant),
                self.duration.labels(protocol=protocol, variant=self.variant),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_decision(self, item_id: str, propensity: float) -> None:
        """Counts one served decision.

        Args:
            item_id: The chosen item (an id of the policy's item bank).
            propensity: Its probability under the served policy.
        """
        child = self._items.get(item_id)
        if child is None:
            child = self._items[item_id] = self.decisions.labels(
                item_id=item_id, variant=self.variant
            )
        child.inc()
        self._propensity.observe(propensity)

    def observe_outcome(self, correct: int) -> None:
        """Counts one reported answer to a previous question.

        Args:
            correct: 1 or 0.
        """
        self._outcome[1 if correct else 0].inc()

    def observe_unknown_items(self, history: int, candidates: int, left_out_history: int = 0,
                              left_out_candidates: int = 0) -> None:  # fmt: skip
        """Counts item ids outside the item bank in one answered instance.

        Label ``reason``: ``left_out`` for items training left out (their skills could not be
        traced: retraining does not bring them in), ``new`` for the others (not in the
        training logs: retraining on a newer span does).

        Args:
            history: Answers (history or stateful ``answer``) on unknown items.
            candidates: Unknown candidates left out of the choice.
            left_out_history: Of ``history``, those on items training left out.
            left_out_candidates: Of ``candidates``, those on items training left out.
        """
        for name, total, left_out in (("history", history, left_out_history),
                                      ("candidates", candidates, left_out_candidates)):  # fmt: skip
            if total - left_out:
                self._unknown[name, "new"].inc(total - left_out)
            if left_out:
                self._unknown[name, "left_out"].inc(left_out)

    def set_model(self, model_name: str, policy_version: str) -> None:
        """Publishes the served model.

        Args:
            model_name: KServe model name.
            policy_version: Registered version ("" when unregistered).
        """
        self.model.labels(variant=self.variant).info(
            {"model_name": model_name, "policy_version": policy_version}
        )


#: The collectors registered per registry: several models (variants) in one process share them.
_FAMILIES: dict[int, dict[str, Any]] = {}


def create_metrics(variant: str, registry: CollectorRegistry = REGISTRY) -> PredictorMetrics:
    """Registers the predictor's metrics in a registry (once; later calls reuse them).

    Args:
        variant: ``champion`` or ``canary``.
        registry: Where to register (default: the process registry KServe serves).

    Returns:
        The metrics.
    """
    families = _FAMILIES.get(id(registry))
    if families is None:
        families = _FAMILIES[id(registry)] = dict(
            requests=Counter(
                f"{PREFIX}_requests",
                "Inference requests by protocol and HTTP status code.",
                ["protocol", "code", "variant"],
                registry=registry,
            ),
            duration=Histogram(
                f"{PREFIX}_request_duration_seconds",
                "Inference request latency in seconds, from request received to answer sent.",
                ["protocol", "variant"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            in_flight=Gauge(
                f"{PREFIX}_requests_in_flight",
                "Inference requests being served.",
                ["variant"],
                registry=registry,
            ),
            decisions=Counter(
                f"{PREFIX}_decisions",
                "Served decisions by chosen item.",
                ["item_id", "variant"],
                registry=registry,
            ),
            propensity=Histogram(
                f"{PREFIX}_propensity",
                "Probability the served policy gave the item it chose.",
                ["variant"],
                buckets=PROPENSITY_BUCKETS,
                registry=registry,
            ),
            outcomes=Counter(
                f"{PREFIX}_outcomes",
                "Answers to a previous question reported by requests, by outcome.",
                ["outcome", "variant"],
                registry=registry,
            ),
            unknown_items=Counter(
                f"{PREFIX}_unknown_items",
                "Item ids outside the served policy's item bank in answered requests, by field "
                "and reason (new: not in the training logs; left_out: of skills training left "
                "out as untraceable).",
                ["field", "reason", "variant"],
                registry=registry,
            ),
            model=Info(
                f"{PREFIX}_model",
                "The served model: name, policy version and variant.",
                ["variant"],
                registry=registry,
            ),
            log_records=Counter(
                f"{PREFIX}_decision_log_records",
                "Decisions written to the decision log sink.",
                ["variant"],
                registry=registry,
            ),
            log_failures=Counter(
                f"{PREFIX}_decision_log_failures",
                "Failed writes to the decision log sink (the records are kept and retried).",
                ["variant"],
                registry=registry,
            ),
        )
    return PredictorMetrics(variant=variant, **families)
