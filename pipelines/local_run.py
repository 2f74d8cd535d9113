"""`make run`: the whole training pipeline on one machine with kfp.local.

The orchestrator is kfp.local's SubprocessRunner; :mod:`pipelines.local_env` runs each task in
the local virtual environment that stands in for its image and tracks this run's tasks.

Everything the run writes lives under the local home (``.quizops/`` or ``$QUIZOPS_HOME``), and
one run holds the home at a time (:mod:`quizops.runlock`): a second ``make run`` is refused.
The summary goes to this run's folder (``local_summary.json``) and to ``last_run.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from pipelines.local_env import StageTracker, run_pipeline_locally
from quizops.errors import ConfigurationError, QuizopsError, exit_status
from quizops.home import PII_KEY_FILE_ENV, LocalHome, ensure_key_file, local_home
from quizops.names import MLFLOW_TRACKING_URI_ENV
from quizops.runlock import home_lock

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venvs"
STAGES = (
    "fingerprint",
    "ingest",
    "pii-scan",
    "data-validation",
    "feature-engineering",
    "train-policy",
    "evaluate-policy",
    "materialize-features",
    "deploy-kserve",
    "run-summary",
)
logger = logging.getLogger("quizops.local_run")


def simulated_source(home: LocalHome, interactions: int, span: str) -> Path:
    """Writes (or reuses) simulated ASSISTments logs for a span in the raw zone.

    Args:
        home: The local home.
        interactions: About how many interactions.
        span: Span date (``YYYY-MM-DD``).

    Returns:
        The CSV path.
    """
    from quizops.simulation import make_world, simulate_logs, write_assistments_csv

    path = home.raw / "simulated" / f"date={span}" / "interactions.csv"
    if path.exists():
        logger.info("reusing simulated span %s (%s)", span, path.name)
        return path
    seed = dt.date.fromisoformat(span).toordinal()
    logger.info("simulating %d interactions for span %s", interactions, span)
    write_assistments_csv(simulate_logs(make_world(7), interactions, seed=seed), path)
    return path


def run_local(
    data: str | None = None,
    source_format: str = "assistments",
    interactions: int = 50_000,
    span: str | None = None,
    home_root: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs the training pipeline locally and returns the run summary.

    Args:
        data: Source path (None: simulate).
        source_format: Source layout.
        interactions: Size of simulated data.
        span: Span to ingest (default: today for simulated data, whole source otherwise).
        home_root: Local home (default: ``$QUIZOPS_HOME`` or ``.quizops``).
        overrides: Further pipeline arguments.

    Returns:
        The summary (also written to ``pipeline_root/last_run.json``).
    """
    from pipelines.training import training_pipeline

    home = local_home(home_root)
    home.create()
    with home_lock(home.root, "make run"):
        os.environ[PII_KEY_FILE_ENV] = str(ensure_key_file(home.pii_key_file))
        os.environ[MLFLOW_TRACKING_URI_ENV] = home.mlflow_tracking_uri
        if data is None:
            span = span or dt.date.today().isoformat()
            simulated_source(home, interactions, span)
            source = str(home.raw / "simulated")
            source_format = "assistments"
        else:
            source = data
        arguments: dict[str, Any] = {
            "source_uri": source,
            "source_format": source_format,
            "span": span or "",
            "raw_zone_uri": str(home.raw / "canonical"),
            "mlflow_tracking_uri": home.mlflow_tracking_uri,
            "statistics_store_uri": str(home.pipeline_root / "statistics_store"),
            "decisions_uri": str(home.decisions),
            "served_decisions_uri": str(home.decisions),
            "feature_store": str(home.root / "feature_store"),
            "deploy_target": "local",
            **(overrides or {}),
        }
        tracker = StageTracker(STAGES)
        started = time.monotonic()
        error = run_pipeline_locally(
            training_pipeline, arguments, home.pipeline_root, tracker, VENVS
        )
        summary = _summary(tracker, time.monotonic() - started, error)
        text = json.dumps(summary, indent=2)
        if tracker.run_dir is not None:
            (tracker.run_dir / "local_summary.json").write_text(text)
        (home.pipeline_root / "last_run.json").write_text(text)
    return summary


def _summary(tracker: StageTracker, seconds: float, error: str | None) -> dict[str, Any]:
    """The run's summary from its tracker (this run's folder, never another run's)."""
    run_dir = tracker.run_dir
    stages = {}
    for stage in STAGES:
        status = tracker.statuses.get(stage)
        if status is None:
            status = (
                "SKIPPED (not blessed)"
                if stage in ("materialize-features", "deploy-kserve") and not error
                else "NOT RUN"
            )
        stages[stage] = {"status": status, "seconds": round(tracker.seconds.get(stage, 0.0), 2)}
    summary: dict[str, Any] = {
        "ok": error is None,
        "error": error,
        "seconds": round(seconds, 1),
        "stages": stages,
        "run_dir": str(run_dir) if run_dir else None,
        "metrics": _metrics(run_dir),
    }
    if run_dir:
        if tracker.statuses.get("train-policy") == "SUCCESS":
            summary["model"] = str(run_dir / "train-policy" / "model")
        summary["run_summary"] = str(run_dir / "run-summary" / "summary")
        summary["reports"] = sorted(
            str(p)
            for p in run_dir.glob("*/*")
            if p.suffix in (".html", ".md") or p.name in ("report", "summary", "report_view")
        )
    return summary


def _metrics(run_dir: Path | None) -> dict[str, float]:
    """Reads the Metrics artifacts kfp.local wrote for the key stages."""
    if run_dir is None:
        return {}
    found: dict[str, float] = {}
    for stage in ("evaluate-policy", "train-policy", "data-validation", "feature-engineering"):
        executor_output = run_dir / stage / "executor_output.json"
        if not executor_output.exists():
            continue
        content = json.loads(executor_output.read_text())
        for artifact_list in content.get("artifacts", {}).values():
            for artifact in artifact_list.get("artifacts", []):
                for key, value in artifact.get("metadata", {}).items():
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        found[f"{stage}.{key}"] = float(value)
    return found


def summary_lines(summary: dict[str, Any], port: int = 8080) -> list[str]:
    """The end-of-run summary as lines.

    Args:
        summary: Output of :func:`run_local`.
        port: Port suggested for ``make serve``.

    Returns:
        The lines.
    """
    lines = ["", "==== quizops local run ===="]
    for stage, info in summary["stages"].items():
        lines.append(f"  {stage:<22} {info['status']:<22} {info['seconds']:>7.1f}s")
    lines.append(f"  total {summary['seconds']:.1f}s")
    keys = [
        # the evaluation gate's figures
        "evaluate-policy.sim_bkt_challenger_mastered",
        "evaluate-policy.sim_bkt_random_mastered",
        "evaluate-policy.sim_bkt_diff_random",
        "evaluate-policy.ope_challenger_snips",
        "evaluate-policy.blessed",
    ]
    metrics = summary.get("metrics", {})
    shown = [k for k in keys if k in metrics]
    if shown:
        lines.append("key metrics:")
        lines += [f"  {key.split('.', 1)[1]:<28} {metrics[key]:.4f}" for key in shown]
    untraceable = int(metrics.get("feature-engineering.skills_untraceable", 0))
    if untraceable:
        lines.append(
            f"knowledge tracing: {untraceable} skill(s) left out, their answers not depending on "
            "knowing them (named in the feature-engineering log)"
        )
    lines += _served_lines(summary)
    if summary.get("model"):
        lines.append(f"model:   {summary['model']}")
    if summary.get("run_summary"):
        lines.append(f"summary: {summary['run_summary']}")
    lines += [f"report:  {report}" for report in summary.get("reports", [])]
    if summary["ok"] and summary["stages"]["deploy-kserve"]["status"] == "SUCCESS":
        lines.append(f"serve the blessed policy: make serve PORT={port}")
    elif summary["ok"]:
        lines.append(
            "the challenger was not blessed; `make serve` serves the previous champion, if any"
        )
    else:
        lines.append(f"FAILED: {summary['error']}")
    return lines


def _served_lines(summary: dict[str, Any]) -> list[str]:
    """What feature engineering did with the served decisions (counts or the skip reason)."""
    metrics = summary.get("metrics", {})
    if "feature-engineering.served_join_skipped" not in metrics:
        return []
    if metrics["feature-engineering.served_join_skipped"]:
        reason = ""
        if summary.get("run_dir"):
            served = Path(summary["run_dir"]) / "feature-engineering" / "features"
            path = served / "served_decisions.json"
            if path.is_file():
                reason = str(json.loads(path.read_text()).get("skipped", ""))
        return [f"served decisions: not joined ({reason or 'see the feature-engineering log'})"]
    count = {
        key: int(metrics.get(f"feature-engineering.served_{key}", 0))
        for key in ("decisions", "joined", "followed", "no_answer")
    }
    return [
        f"served decisions: {count['decisions']} read, {count['joined']} joined with an answer "
        f"({count['followed']} followed: exact propensities), {count['no_answer']} without one"
    ]


def configure_logging() -> None:
    """Logs to standard output, one line per record (what `make run` shows)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses `make run`'s command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="source path (default: simulate)")
    parser.add_argument("--format", default="assistments", dest="source_format")
    parser.add_argument(
        "--encoding",
        default="auto",
        help="text encoding of CSV sources (auto: UTF-8, or a Western code page for a file "
        "with no UTF-8 character in it)",
    )
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--span", help="span date of simulated data (default: today)")
    parser.add_argument("--eval-students", type=int, default=None)
    parser.add_argument(
        "--pii-policy", help="JSON file with the de-identification policy for the PII stage"
    )
    parser.add_argument(
        "--decisions",
        help="decision logs (folder or gs:// prefix) joined with the answers as off-policy "
        "data (default: the home's decisions/, which the skew check keeps reading)",
    )
    return parser.parse_args(argv)


def pipeline_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline arguments the command line sets.

    Args:
        args: Output of :func:`parse_args`.

    Returns:
        Pipeline parameter -> value (the PII policy file's text as ``pii_policy_json``).

    Raises:
        ConfigurationError: The PII policy file is missing or not a JSON object.
    """
    overrides: dict[str, Any] = {"source_encoding": args.encoding}
    if args.eval_students is not None:
        overrides["eval_students"] = args.eval_students
    if args.pii_policy:
        overrides["pii_policy_json"] = read_policy_file(args.pii_policy)
    if args.decisions:
        overrides["served_decisions_uri"] = args.decisions
    return overrides


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging()
    try:
        summary = run_local(
            args.data,
            args.source_format,
            args.interactions,
            args.span,
            overrides=pipeline_overrides(args),
        )
    except QuizopsError as exc:
        logger.error("%s", exc)
        return exit_status(exc)
    for line in summary_lines(summary):
        logger.info("%s", line)
    return 0 if summary["ok"] else 1


def read_policy_file(path: str) -> str:
    """Reads a PII policy file and checks that it is a JSON object (no value is logged).

    Args:
        path: The file.

    Returns:
        Its text, as the pipeline's ``pii_policy_json`` parameter.

    Raises:
        ConfigurationError: The file is missing or not a JSON object.
    """
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(
            f"PII policy file {path}: cannot be read ({exc.strerror})"
        ) from None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"PII policy file {path}: not JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(parsed, dict):
        raise ConfigurationError(f"PII policy file {path}: must hold a JSON object")
    return text


if __name__ == "__main__":
    sys.exit(main())
