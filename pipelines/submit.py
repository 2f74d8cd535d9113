"""Uploads a compiled pipeline to Kubeflow Pipelines, starts a run and sets a recurring run.

    python -m pipelines.submit --host https://kfp.example.org --version v0.1.0 \\
        [--config pipelines/configs/production.yaml] [--run-now] [--no-schedule]

The package uploaded is the committed compiled/<pipeline>.yaml, the same file CI checks. The
token comes from ``KFP_TOKEN`` (or the client's own credentials discovery), never a flag.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("quizops.submit")


def load_config(path: str | Path) -> dict[str, Any]:
    """Reads a per-environment submit config.

    Args:
        path: YAML file with ``pipeline``, ``experiment``, ``arguments`` and ``schedule``.

    Returns:
        The config.

    Raises:
        ValueError: A required field is missing or a field has the wrong shape (checked here so
            that a bad config fails before anything is uploaded).
    """
    config = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    for field in ("pipeline", "experiment", "arguments"):
        if field not in config:
            raise ValueError(f"{path}: missing field '{field}'")
    for field in ("pipeline", "experiment"):
        if not isinstance(config[field], str) or not config[field].strip():
            raise ValueError(f"{path}: '{field}' must be a non-empty string")
    if not isinstance(config["arguments"], dict):
        raise ValueError(f"{path}: 'arguments' must be a mapping of pipeline parameters")
    plan = config.get("schedule")
    if plan is not None:
        if not isinstance(plan, dict) or not isinstance(plan.get("cron"), str):
            raise ValueError(f"{path}: 'schedule' must be a mapping with a 'cron' string")
        cron = plan["cron"].strip()
        if not cron.startswith("@") and len(cron.split()) != 6:
            raise ValueError(
                f"{path}: schedule.cron {plan['cron']!r} has {len(cron.split())} fields; KFP cron "
                "has 6 (second minute hour day-of-month month day-of-week)"
            )
    return config


def submit(
    client: Any, config: dict[str, Any], version: str, run_now: bool = False, schedule: bool = True
) -> dict[str, str]:
    """Uploads the pipeline version, then optionally runs it and schedules it.

    Args:
        client: A ``kfp.Client``.
        config: Output of :func:`load_config`.
        version: Pipeline version name (for example the git tag).
        run_now: Start one run at once.
        schedule: Create the recurring run of the config's schedule, replacing the ones of the
            same name in the experiment (those of earlier versions).

    Returns:
        The ids of what was created.

    Raises:
        FileNotFoundError: The compiled package is missing.
    """
    name = f"quizops-{config['pipeline']}"
    package = str(REPO / "compiled" / f"{config['pipeline']}.yaml")
    if not Path(package).is_file():
        raise FileNotFoundError(f"{package} missing: run `make compile`")
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(package, pipeline_name=name).pipeline_id
        logger.info("uploaded pipeline %s (%s)", name, pipeline_id)
    pipeline_version = client.upload_pipeline_version(
        package, pipeline_version_name=f"{name}-{version}", pipeline_id=pipeline_id
    )
    ids = {"pipeline_id": pipeline_id, "version_id": pipeline_version.pipeline_version_id}
    experiment = client.create_experiment(config["experiment"])
    ids["experiment_id"] = experiment.experiment_id
    arguments = dict(config["arguments"])
    if run_now:
        run = client.run_pipeline(
            experiment_id=experiment.experiment_id,
            job_name=f"{name}-{version}",
            params=arguments,
            pipeline_id=pipeline_id,
            version_id=ids["version_id"],
        )
        ids["run_id"] = run.run_id
    if schedule and config.get("schedule"):
        plan = config["schedule"]
        job = client.create_recurring_run(
            experiment_id=experiment.experiment_id,
            job_name=f"{name}-daily",
            cron_expression=plan["cron"],
            max_concurrency=int(plan.get("max_concurrency", 1)),
            no_catchup=bool(plan.get("no_catchup", True)),
            params=arguments,
            pipeline_id=pipeline_id,
            version_id=ids["version_id"],
        )
        ids["recurring_run_id"] = job.recurring_run_id
        # Replace, not add: the schedules of earlier versions would otherwise keep firing too.
        # The new one is created first so that a failed create leaves the old schedule running.
        for old_id in _recurring_run_ids(client, experiment.experiment_id, f"{name}-daily"):
            if old_id != job.recurring_run_id:
                client.delete_recurring_run(old_id)
                logger.info("deleted recurring run %s of an earlier version", old_id)
    return ids


def _recurring_run_ids(client: Any, experiment_id: str, display_name: str) -> list[str]:
    """Ids of the experiment's recurring runs with this display name (every page)."""
    name_filter = json.dumps(
        {
            "predicates": [
                {"operation": "EQUALS", "key": "display_name", "stringValue": display_name}
            ]
        }
    )
    ids: list[str] = []
    page_token = ""
    while True:
        page = client.list_recurring_runs(
            page_token=page_token, page_size=100, experiment_id=experiment_id, filter=name_filter
        )
        ids += [job.recurring_run_id for job in page.recurring_runs or []]
        page_token = page.next_page_token or ""
        if not page_token:
            return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="KFP API endpoint")
    parser.add_argument("--version", required=True, help="pipeline version name, e.g. a git tag")
    parser.add_argument("--config", default=str(REPO / "pipelines/configs/production.yaml"))
    parser.add_argument("--run-now", action="store_true")
    parser.add_argument("--no-schedule", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_config(args.config)  # a bad config fails before any request
    import kfp

    client = kfp.Client(host=args.host, existing_token=os.environ.get("KFP_TOKEN"))
    ids = submit(client, config, args.version, args.run_now, not args.no_schedule)
    for key, value in ids.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
