"""`make monitor` and `make rollback`: the monitoring and rollback pipelines on one machine.

    python -m pipelines.local_ops monitor [--span 2026-11-24] [--simulate clean|drift]
        [--report-only] [--interactions N] [--eval-students N]
    python -m pipelines.local_ops rollback

Both run their compiled pipeline's tasks with kfp.local in the images' environments
(:mod:`pipelines.local_env`), holding the home's run lock. ``monitor`` checks the newest span
of ``.quizops/decisions/`` against the last training run's statistics; ``--simulate`` first
writes a day of decisions replayed from the last run's validated table (``drift`` injects
drift), and the day before when it has none. When a threshold is crossed and retraining is on,
it then starts ``make run`` on that span. ``rollback`` restores the previous champion in the
local registry, which is what ``make serve`` serves.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pipelines.local_env import StageTracker, run_pipeline_locally
from quizops.errors import ConfigurationError, QuizopsError, exit_status
from quizops.home import LocalHome, local_home
from quizops.names import MLFLOW_TRACKING_URI_ENV
from quizops.runlock import home_lock

REPO = Path(__file__).resolve().parents[1]
VENVS = REPO / ".venvs"
DECISIONS_PER_SPAN = 2000
logger = logging.getLogger("quizops.local_ops")


def latest_validated_table(home: LocalHome) -> Path | None:
    """The validated table of the newest training run in the home, if any.

    Args:
        home: The local home.

    Returns:
        Its path (run folders are named by start time, so the greatest name is the newest).
    """
    found = sorted(home.pipeline_root.glob("quizops-training-*/data-validation/validated"))
    return found[-1] if found else None


def _run_pipeline(pipeline: Any, arguments: dict[str, Any], home: LocalHome, stages: tuple[str, ...]
                  ) -> tuple[StageTracker, str | None]:  # fmt: skip
    tracker = StageTracker(stages)
    error = run_pipeline_locally(pipeline, arguments, home.pipeline_root, tracker, VENVS)
    return tracker, error


def _task_values(tracker: StageTracker, task: str) -> dict[str, Any]:
    if tracker.run_dir is None:
        return {}
    path = tracker.run_dir / task / "executor_output.json"
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text()).get("parameterValues", {}))


def _verdict(tracker: StageTracker) -> dict[str, Any]:
    if tracker.run_dir is None:
        return {}
    path = tracker.run_dir / "monitor-serving" / "verdict"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def simulate_decisions(home: LocalHome, span: str, drift: bool) -> list[Path]:
    """Writes a day of replayed decisions (and a clean day before it when missing).

    Args:
        home: The local home.
        span: The day to write.
        drift: Inject drift into that day.

    Returns:
        The files written.

    Raises:
        ConfigurationError: No training run has left a validated table (run `make run`).
    """
    import pandas as pd

    from quizops.monitoring.replay import replay_decisions, write_decision_log

    table_path = latest_validated_table(home)
    if table_path is None:
        raise ConfigurationError("no training run in this home to replay from: run `make run`")
    table = pd.read_parquet(table_path)
    day = dt.date.fromisoformat(span)
    written = []
    before = (day - dt.timedelta(days=1)).isoformat()
    if not (home.decisions / f"decisions-{before}.jsonl").exists():
        records = replay_decisions(table, DECISIONS_PER_SPAN, seed=day.toordinal() - 1)
        written.append(write_decision_log(records, home.decisions, before))
    records = replay_decisions(table, DECISIONS_PER_SPAN, seed=day.toordinal(), drift=drift)
    written.append(write_decision_log(records, home.decisions, span))
    logger.info("wrote %s decisions for %s", "drifted" if drift else "clean", span)
    return written


def monitor_local(
    home_root: str | None = None,
    span: str | None = None,
    simulate: str | None = None,
    on_threshold: str = "retrain",
    interactions: int = 50_000,
    training_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs the monitoring pipeline locally; starts a training run when it says so.

    Args:
        home_root: Local home (default: ``$QUIZOPS_HOME`` or ``.quizops``).
        span: Decision day to check (default: the newest; with ``simulate``, today).
        simulate: ``clean`` or ``drift``: write that day's decisions first.
        on_threshold: ``retrain`` or ``report``.
        interactions: Size of the simulated training data of a started run.
        training_overrides: Further arguments of a started training run.

    Returns:
        The summary: monitored span, crossed, reasons, report, and the training run's summary
        when one was started.
    """
    from pipelines.monitoring import monitoring_pipeline

    home = local_home(home_root)
    home.create()
    with home_lock(home.root, "make monitor"):
        if simulate:
            span = span or dt.date.today().isoformat()
            simulate_decisions(home, span, drift=simulate == "drift")
        table = latest_validated_table(home)
        arguments = {
            "decisions_uri": str(home.decisions),
            "statistics_store_uri": str(home.pipeline_root / "statistics_store"),
            "span": span or "",
            "outcomes_uri": str(table) if table else "",
            "on_threshold": on_threshold,
            "kfp_host": "local",
        }
        tracker, error = _run_pipeline(
            monitoring_pipeline, arguments, home, ("monitor-serving", "start-retraining")
        )
        verdict = _verdict(tracker)
    summary: dict[str, Any] = {
        "ok": error is None,
        "error": error,
        "span": verdict.get("span", ""),
        "crossed": bool(verdict.get("crossed", False)),
        "reasons": list(verdict.get("reasons", [])),
        "report": str(tracker.run_dir / "monitor-serving" / "report") if tracker.run_dir else "",
        "retraining": None,
    }
    requested = tracker.statuses.get("start-retraining") == "SUCCESS"
    if error is None and requested and summary["span"]:
        from pipelines.local_run import run_local

        logger.info("threshold crossed: starting a training run on span %s", summary["span"])
        from quizops.monitoring.retrain import RETRAINING_OVERRIDES

        overrides = {**(training_overrides or {}), **RETRAINING_OVERRIDES}
        summary["retraining"] = run_local(
            None, "assistments", interactions, summary["span"], home_root, overrides
        )
        summary["ok"] = bool(summary["retraining"]["ok"])
    return summary


def rollback_local(home_root: str | None = None) -> dict[str, Any]:
    """Runs the rollback pipeline locally (the registry; `make serve` serves the champion).

    Args:
        home_root: Local home.

    Returns:
        The summary: ok, error, the champion now, the report.
    """
    from pipelines.rollback import rollback_pipeline
    from quizops.errors import RegistryError
    from quizops.names import PREVIOUS_ALIAS
    from quizops.tracking import read_alias, read_champion

    home = local_home(home_root)
    home.create()
    with home_lock(home.root, "make rollback"):
        os.environ[MLFLOW_TRACKING_URI_ENV] = home.mlflow_tracking_uri
        if not read_alias(PREVIOUS_ALIAS, home.mlflow_tracking_uri):
            champion = read_champion(home.mlflow_tracking_uri)
            raise RegistryError(
                f"nothing to roll back to: the local registry has no '{PREVIOUS_ALIAS}' version "
                f"(champion: {champion or 'none'}); a rollback needs two blessed runs"
            )
        tracker, error = _run_pipeline(
            rollback_pipeline,
            {"mlflow_tracking_uri": home.mlflow_tracking_uri, "target": "local"},
            home,
            ("rollback-champion",),
        )
    values = _task_values(tracker, "rollback-champion")
    return {
        "ok": error is None,
        "error": error,
        "champion": values.get("Output", ""),
        "report": str(tracker.run_dir / "rollback-champion" / "report") if tracker.run_dir else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    monitor = commands.add_parser("monitor", help="check the newest span of decisions")
    monitor.add_argument("--span", help="decision day (default: the newest; today with --simulate)")
    monitor.add_argument("--simulate", choices=("clean", "drift"))
    monitor.add_argument("--report-only", action="store_true", help="never start training")
    monitor.add_argument("--interactions", type=int, default=50_000)
    monitor.add_argument("--eval-students", type=int)
    commands.add_parser("rollback", help="restore the previous champion")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout
    )
    try:
        if args.command == "monitor":
            overrides = {} if args.eval_students is None else {"eval_students": args.eval_students}
            summary = monitor_local(
                span=args.span,
                simulate=args.simulate,
                on_threshold="report" if args.report_only else "retrain",
                interactions=args.interactions,
                training_overrides=overrides,
            )
            verdict = "threshold crossed" if summary["crossed"] else "within thresholds"
            logger.info("monitoring of span %s: %s", summary["span"] or "-", verdict)
            for reason in summary["reasons"]:
                logger.info("  %s", reason)
            logger.info("report: %s", summary["report"])
            if summary["retraining"] is not None:
                state = "succeeded" if summary["retraining"]["ok"] else "FAILED"
                logger.info("training run on span %s %s", summary["span"], state)
        else:
            summary = rollback_local()
            if summary["ok"]:
                logger.info("champion is now version %s; make serve serves it", summary["champion"])
            logger.info("report: %s", summary["report"])
    except QuizopsError as exc:
        logger.error("%s", exc)
        return exit_status(exc)
    if not summary["ok"]:
        logger.error("FAILED: %s", summary.get("error") or "the training run failed")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
