"""The deployment record (the ``deployment`` artifact) and its Markdown report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from quizops.names import MODEL_NAME


@dataclass
class DeploymentRecord:
    """What a deployment did; written as the ``deployment`` artifact (JSON).

    Attributes:
        target: ``local`` or ``kserve``.
        status: ``promoted``, ``rolled_back`` or ``failed``.
        model_uri: Where the policy was deployed from.
        model_version: Registered MLflow version ("" when unregistered).
        service_name: InferenceService (or local model) name.
        namespace: Kubernetes namespace ("" locally).
        canary_traffic_percent: Canary share used (0: full rollout).
        previous_version: Champion before this deployment ("" if none).
        checks: Named checks and their outcome.
        endpoint: Where the service answers ("" for the stopped local process).
        started: UTC start time.
        finished: UTC end time.
        events: Timeline of what happened.
        analysis: The canary analysis (criteria, observations, A/B outcome test), if one ran.
        canary_analysis: The kserve canary's analysis setting: ``required`` (the Prometheus
            window decides) or ``skip`` (explicit opt-out); "" locally. What happened is in
            ``checks["metrics_analysis"]``.
    """

    target: str
    status: str
    model_uri: str
    model_version: str
    service_name: str
    namespace: str = ""
    canary_traffic_percent: int = 0
    previous_version: str = ""
    checks: dict[str, Any] = field(default_factory=dict)
    endpoint: str = ""
    started: str = ""
    finished: str = ""
    events: list[str] = field(default_factory=list)
    analysis: dict[str, Any] = field(default_factory=dict)
    canary_analysis: str = ""

    def to_json(self) -> str:
        """Serialises the record.

        Returns:
            Indented JSON.
        """
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    def event(self, text: str) -> None:
        """Appends a timestamped event to the timeline.

        Args:
            text: What happened (no personal data).
        """
        self.events.append(f"{now()} {text}")


def now() -> str:
    """Current UTC time, ISO 8601 to the second.

    Returns:
        The timestamp.
    """
    return datetime.now(UTC).isoformat(timespec="seconds")


def _analysis_lines(analysis: dict[str, Any]) -> list[str]:
    lines = ["", "## Canary analysis", ""]
    if "decision" in analysis:
        lines.append(f"- decision: **{analysis['decision']}**")
    for reason in analysis.get("reasons", []):
        lines.append(f"- {reason}")
    variants = analysis.get("variants") or {}
    if variants:
        lines += [
            "",
            "| variant | requests | error rate | p99 latency (s) | outcome successes / trials |",
            "|---|---|---|---|---|",
        ]
        for name, row in variants.items():
            lines.append(
                f"| {name} | {row.get('requests', '')} | {row.get('error_rate', '')} | "
                f"{row.get('p99_seconds', '')} | {row.get('outcome_successes', '')} / "
                f"{row.get('outcome_trials', '')} |"
            )
    ab = analysis.get("ab_test")
    if ab:
        lines += [
            "",
            "### A/B outcome comparison",
            "",
            f"- test: {ab.get('test', '')}",
            f"- champion rate: {ab.get('champion_rate')}, canary rate: {ab.get('canary_rate')}",
            f"- difference (canary - champion): {ab.get('difference')}",
            f"- z = {ab.get('z')}, p-value (two-sided) = {ab.get('p_value_two_sided')}, "
            f"p-value (canary worse) = {ab.get('p_value_canary_worse')}",
        ]
    return lines


def render_report(record: DeploymentRecord) -> str:
    """Renders a deployment record as Markdown.

    Args:
        record: The record.

    Returns:
        The Markdown text.
    """
    lines = [
        f"# Deployment of {MODEL_NAME} version {record.model_version or '(unregistered)'}",
        "",
        f"- target: `{record.target}`",
        f"- status: **{record.status}**",
        f"- model: `{record.model_uri}`",
    ]
    if record.namespace:
        lines.append(f"- InferenceService: `{record.namespace}/{record.service_name}`")
    if record.canary_traffic_percent:
        lines.append(f"- canary traffic: {record.canary_traffic_percent}%")
    if record.canary_analysis:
        happened = record.checks.get("metrics_analysis", "not reached")
        if happened is True:
            happened = "the observation window ran and passed"
        elif happened is False:
            happened = "the observation window ran and failed"
        lines.append(f"- canary analysis: `{record.canary_analysis}`; {happened}")
    lines.append(f"- previous champion: {record.previous_version or '(none)'}")
    lines += ["", "## Checks", "", "| check | result |", "|---|---|"]
    lines += [f"| {k} | {json.dumps(v)} |" for k, v in record.checks.items()]
    if record.analysis:
        lines += _analysis_lines(record.analysis)
    lines += ["", "## Events", ""] + [f"- {e}" for e in record.events]
    if record.target == "local":
        lines += ["", "Serve it: `make serve` (the champion on 127.0.0.1:$(PORT))."]
    return "\n".join(lines) + "\n"
