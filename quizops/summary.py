"""The run summary written by the training pipeline's exit handler, whatever the run's outcome.

The exit task receives the final state of the pipeline's body (``SUCCEEDED``, ``FAILED`` or
``CANCELLED``) and its own output URI. Its parent's parent is the run's folder in the pipeline
root (``<root>/<run>/<task>/<output>`` in kfp.local and on Kubeflow), so the summary can list
what each stage left there: which stages produced outputs, the gate decision, where the model and
the reports are. It reads metrics from ``executor_output.json`` where the orchestrator writes one
(kfp.local); counts only, never a data value.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from quizops import storage

logger = logging.getLogger(__name__)

#: Stages of the training pipeline in order (task names in the compiled pipeline).
TRAINING_STAGES: tuple[str, ...] = (
    "fingerprint",
    "ingest",
    "pii-scan",
    "data-validation",
    "feature-engineering",
    "materialize-features",
    "train-policy",
    "evaluate-policy",
    "deploy-kserve",
)
#: Metrics worth a line in the summary (stage, metric).
KEY_METRICS: tuple[tuple[str, str], ...] = (
    ("ingest", "rows"),
    ("data-validation", "anomalies_errors"),
    ("feature-engineering", "skills_untraceable"),
    ("evaluate-policy", "sim_bkt_challenger_mastered"),
    ("evaluate-policy", "sim_bkt_random_mastered"),
    ("evaluate-policy", "sim_bkt_diff_random"),
    ("evaluate-policy", "ope_challenger_snips"),
)
_REPORT_NAMES = ("report", "summary", "report_view")


@dataclass(frozen=True)
class RunSummary:
    """The summary of one run.

    Attributes:
        state: Final state of the pipeline's body: ``SUCCEEDED``, ``FAILED`` or ``CANCELLED``.
        failed: Whether the run failed (anything but ``SUCCEEDED``).
        stages: Stage -> ``produced outputs`` or ``no outputs``.
        gate: ``blessed``, ``not blessed`` or ``not reached``.
        model_uri: The trained policy's folder, if training produced one.
        reports: URIs of the reports (HTML and Markdown views).
        metrics: ``stage.metric`` -> value, where the orchestrator recorded them.
        markdown: The summary as Markdown.
    """

    state: str
    failed: bool
    stages: dict[str, str]
    gate: str
    model_uri: str
    reports: tuple[str, ...]
    metrics: dict[str, float] = field(default_factory=dict)
    markdown: str = ""


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:.4f}"


def run_folder(output_uri: str, task_name: str = "run-summary") -> str:
    """The run's folder in the pipeline root, from one of the exit task's output URIs.

    kfp.local and older KFP backends write ``<root>/<run>/<task>/<output>``; newer backends add
    a per-execution folder (``<root>/<pipeline>/<run>/<task>/<salt>/<output>``). The run's
    folder is the parent of the task's folder in both.

    Args:
        output_uri: An output URI of the exit task.
        task_name: The exit task's name.

    Returns:
        The run's folder.
    """
    parts = output_uri.rstrip("/").split("/")
    if task_name in parts[:-1]:
        index = len(parts) - 1 - parts[::-1].index(task_name)
        return "/".join(parts[:index])
    return storage.parent(storage.parent(output_uri.rstrip("/")))


def _executor_values(run_dir: str, stage: str) -> tuple[dict[str, float], Any]:
    """Metrics and the return value recorded for a stage (kfp.local's executor_output.json)."""
    uri = storage.join(run_dir, stage, "executor_output.json")
    try:
        content = json.loads(storage.read_bytes(uri))
    except (OSError, ValueError):
        return {}, None
    metrics: dict[str, float] = {}
    for artifact_list in content.get("artifacts", {}).values():
        for artifact in artifact_list.get("artifacts", []):
            for key, value in artifact.get("metadata", {}).items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    metrics[f"{stage}.{key}"] = float(value)
    returned = content.get("parameterValues", {}).get("Output")
    return metrics, returned


def summarize_run(
    state: str, run_dir: str, stages: tuple[str, ...] = TRAINING_STAGES, error: str = ""
) -> RunSummary:
    """Builds the summary of a run from its folder in the pipeline root.

    Args:
        state: Final state of the pipeline's body.
        run_dir: The run's folder (local path or gs:// URI).
        stages: Stage task names, in order.
        error: The orchestrator's error message for the body (names a task, no data values).

    Returns:
        The summary.
    """
    files = storage.list_files(run_dir)
    prefix = run_dir.rstrip("/") + "/"
    produced: dict[str, list[str]] = {}
    for uri in files:
        parts = uri[len(prefix) :].split("/") if uri.startswith(prefix) else []
        if len(parts) >= 2:
            produced.setdefault(parts[0], []).append(uri)
    table = {s: "produced outputs" if s in produced else "no outputs" for s in stages}
    metrics: dict[str, float] = {}
    blessed = None
    for stage in stages:
        values, returned = _executor_values(run_dir, stage) if stage in produced else ({}, None)
        metrics.update(values)
        if stage == "evaluate-policy" and returned is not None:
            blessed = bool(returned)
    if blessed is None and "evaluate-policy" in produced:
        blessed = "deploy-kserve" in produced
    gate = "not reached" if blessed is None else "blessed" if blessed else "not blessed"
    model_uri = ""
    for uri in produced.get("train-policy", []):
        segments = uri[len(prefix) :].split("/")
        if "model" in segments:
            model_uri = prefix + "/".join(segments[: segments.index("model") + 1])
            break
    reports = tuple(
        sorted(
            u
            for stage_files in produced.values()
            for u in stage_files
            if u.rsplit("/", 1)[-1] in _REPORT_NAMES or u.endswith((".html", ".md"))
        )
    )
    failed = state != "SUCCEEDED"
    lines = [
        f"# Run summary: {'FAILED' if failed else 'SUCCEEDED'}",
        "",
        f"- state: **{state}**",
        f"- gate: **{gate}**",
        f"- model: `{model_uri}`" if model_uri else "- model: none",
    ]
    if error:
        lines.append(f"- error: {error.splitlines()[0][:300]}")
    lines += ["", "| stage | outputs |", "|---|---|"]
    lines += [f"| {stage} | {status} |" for stage, status in table.items()]
    shown = [(s, m) for s, m in KEY_METRICS if f"{s}.{m}" in metrics]
    if shown:
        lines += ["", "| metric | value |", "|---|---|"]
        lines += [f"| {s}.{m} | {_number(metrics[f'{s}.{m}'])} |" for s, m in shown]
    if reports:
        lines += ["", "Reports:", ""] + [f"- `{r}`" for r in reports]
    return RunSummary(
        state=state,
        failed=failed,
        stages=table,
        gate=gate,
        model_uri=model_uri,
        reports=reports,
        metrics=metrics,
        markdown="\n".join(lines) + "\n",
    )


def run_summary_stage(
    *,
    state: str,
    summary_path: str,
    summary_uri: str,
    error: str = "",
    stages: tuple[str, ...] = TRAINING_STAGES,
) -> RunSummary:
    """The exit handler's stage: writes the run summary as Markdown.

    The task itself succeeds for a failed run, so that its summary is kept; the run is reported
    as failed in the summary's title and state (and by the orchestrator, since a task failed).

    Args:
        state: Final state of the pipeline's body.
        summary_path: Local path of the Markdown output artifact.
        summary_uri: URI of that artifact (its parents locate the run's folder).
        error: The orchestrator's error message for the body.
        stages: Stage task names, in order.

    Returns:
        The summary.
    """
    summary = summarize_run(state, run_folder(summary_uri), stages, error)
    storage.write_bytes(summary_path, summary.markdown.encode())
    level = logging.ERROR if summary.failed else logging.INFO
    logger.log(level, "run %s; gate %s", summary.state, summary.gate)
    return summary
