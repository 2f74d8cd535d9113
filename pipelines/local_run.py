"""`make run`: the whole training pipeline on one machine with kfp.local.

The orchestrator is kfp.local's SubprocessRunner. The one thing added to it is the choice of
interpreter: each task runs in the local virtual environment that stands in for its component's
image (``components.images.LOCAL_ENVS``), so TFDV tasks run in ``.venvs/validation`` and the
rest in ``.venvs/core``, as they would in their containers on a cluster.

Everything the run writes lives under the local home (``.quizops/`` or ``$QUIZOPS_HOME``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from kfp import local
from kfp.local import status as kfp_status
from kfp.local import subprocess_task_handler

from components.images import LOCAL_ENVS
from quizops.home import PII_KEY_FILE_ENV, LocalHome, ensure_key_file, local_home

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venvs"
STAGES = [
    "ingest",
    "pii-scan",
    "data-validation",
    "feature-engineering",
    "train-policy",
    "evaluate-policy",
    "deploy-kserve",
]
logger = logging.getLogger("quizops.local_run")


class ImageEnvTaskHandler(subprocess_task_handler.SubprocessTaskHandler):
    """kfp.local's subprocess handler, running each task in the venv of its image."""

    def validate_image(self, image: str) -> None:
        """Accepts only images that have a local environment.

        Args:
            image: The component's base image.

        Raises:
            RuntimeError: The image has no local stand-in.
        """
        if image not in LOCAL_ENVS:
            raise RuntimeError(f"image {image} has no local environment in LOCAL_ENVS")

    def run(self) -> kfp_status.Status:
        """Runs the task with the interpreter of its image's environment.

        Returns:
            The task status.
        """
        python = VENVS / LOCAL_ENVS[self.image] / "bin" / "python"
        if not python.exists():
            raise RuntimeError(f"{python} missing: run `make install`")
        command = subprocess_task_handler.replace_python_executable(self.full_command, str(python))
        name = TRACKER.task_name(command, self.pipeline_root)
        print(f"[quizops] starting {name} in .venvs/{LOCAL_ENVS[self.image]}", flush=True)
        started = time.monotonic()
        code = subprocess_task_handler.run_local_subprocess(command, self.env_vars)
        TRACKER.record(name, time.monotonic() - started, code == 0)
        return kfp_status.Status.SUCCESS if code == 0 else kfp_status.Status.FAILURE


class StageTracker:
    """Per-task start, duration and status, recorded by :class:`ImageEnvTaskHandler`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.statuses: dict[str, str] = {}

    def task_name(self, command: list[str], pipeline_root: str) -> str:
        """Finds the task name in a task's command (its outputs live under root/run/task/).

        Args:
            command: The task's command and arguments.
            pipeline_root: The pipeline root.

        Returns:
            The task name, or "task" when it cannot be told.
        """
        root = re.escape(pipeline_root.rstrip("/"))
        found = re.search(root + r"/[^/]+/([\w-]+)/executor_output\.json", " ".join(command))
        return found.group(1) if found else "task"

    def record(self, name: str, seconds: float, ok: bool) -> None:
        """Records a finished task and prints a progress line.

        Args:
            name: Task name.
            seconds: Wall time.
            ok: Whether it succeeded.
        """
        self.seconds[name] = seconds
        self.statuses[name] = "SUCCESS" if ok else "FAILURE"
        done = sum(1 for stage in STAGES if stage in self.statuses)
        print(
            f"[quizops] stage {done}/{len(STAGES)} {name}: {self.statuses[name]} in {seconds:.1f}s",
            flush=True,
        )


TRACKER = StageTracker()


def simulated_source(home: LocalHome, interactions: int, span: str) -> Path:
    """Writes (or reuses) simulated ASSISTments logs for a span in the raw zone.

    Args:
        home: The local home.
        interactions: About how many interactions.
        span: Span date (``YYYY-MM-DD``).

    Returns:
        The CSV path.
    """
    from quizops.simulator import make_world, simulate_logs, write_assistments_csv

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
    os.environ[PII_KEY_FILE_ENV] = str(ensure_key_file(home.pii_key_file))
    os.environ["MLFLOW_TRACKING_URI"] = home.mlflow_tracking_uri
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
        "deploy_target": "local",
        **(overrides or {}),
    }
    subprocess_task_handler.SubprocessTaskHandler = ImageEnvTaskHandler
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(home.pipeline_root),
        raise_on_error=True,
    )
    TRACKER.__init__()
    started = time.monotonic()
    error: str | None = None
    try:
        training_pipeline(**arguments)
    except RuntimeError as exc:
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    summary = _summary(home, TRACKER, time.monotonic() - started, error)
    (home.pipeline_root / "last_run.json").write_text(json.dumps(summary, indent=2))
    return summary


def _latest_run_dir(home: LocalHome) -> Path | None:
    runs = [p for p in home.pipeline_root.glob("quizops-training-*") if p.is_dir()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def _summary(
    home: LocalHome, tracker: StageTracker, seconds: float, error: str | None
) -> dict[str, Any]:
    run_dir = _latest_run_dir(home)
    stages = {}
    for stage in STAGES:
        status = tracker.statuses.get(stage)
        if status is None:
            status = (
                "SKIPPED (not blessed)" if stage == "deploy-kserve" and not error else "NOT RUN"
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
        summary["model"] = str(run_dir / "train-policy" / "model")
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
    for stage in ("evaluate-policy", "train-policy", "data-validation"):
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


def print_summary(summary: dict[str, Any], port: int = 8080) -> None:
    """Prints the end-of-run summary.

    Args:
        summary: Output of :func:`run_local`.
        port: Port suggested for ``make serve``.
    """
    print("\n==== quizops local run ====")
    for stage, info in summary["stages"].items():
        print(f"  {stage:<22} {info['status']:<22} {info['seconds']:>7.1f}s")
    print(f"  total {summary['seconds']:.1f}s")
    keys = [
        "evaluate-policy.sim_challenger_mastery",
        "evaluate-policy.sim_random_mastery",
        "evaluate-policy.sim_lift_over_random",
        "evaluate-policy.ope_snips",
        "evaluate-policy.ope_logged_reward",
        "evaluate-policy.blessed",
    ]
    metrics = summary.get("metrics", {})
    shown = [k for k in keys if k in metrics]
    if shown:
        print("key metrics:")
        for key in shown:
            print(f"  {key.split('.', 1)[1]:<28} {metrics[key]:.4f}")
    if summary.get("model"):
        print(f"model:   {summary['model']}")
    for report in summary.get("reports", []):
        print(f"report:  {report}")
    if summary["ok"] and summary["stages"]["deploy-kserve"]["status"] == "SUCCESS":
        print(f"serve the blessed policy: make serve PORT={port}")
    elif summary["ok"]:
        print("the challenger was not blessed; `make serve` serves the previous champion, if any")
    else:
        print(f"FAILED: {summary['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="source path (default: simulate)")
    parser.add_argument("--format", default="assistments", dest="source_format")
    parser.add_argument("--encoding", default="utf-8", help="text encoding of CSV sources")
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--span", help="span date of simulated data (default: today)")
    parser.add_argument("--eval-students", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides: dict[str, object] = {"source_encoding": args.encoding}
    if args.eval_students is not None:
        overrides["eval_students"] = args.eval_students
    summary = run_local(
        args.data, args.source_format, args.interactions, args.span, overrides=overrides
    )
    print_summary(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
