"""Uploads a compiled pipeline to Kubeflow Pipelines, starts a run and sets a recurring run.

    python -m pipelines.submit --host https://kfp.example.org --version v0.1.0 \\
        [--config pipelines/configs/prod.yaml] [--run-now] [--no-schedule]

    quizops submit --host H --version V [--env dev|staging|prod] [--pipeline training]
        [--param name=value ...] [--namespace NS] [--service-account SA] [--no-cache]
        [--wait [--timeout S]]
    quizops schedule --host H --version V [--env ...] [--cron "0 0 3 * * *"]
        [--max-concurrency 1] [--catch-up] [--span @scheduled-1] ...

The package uploaded is the committed compiled/<pipeline>.yaml, the same file CI checks. The
token comes from ``KFP_TOKEN`` (or the client's own credentials discovery), never a flag.
Arguments are checked against the compiled pipeline's declared parameters before any request;
an API error ends the command with one line (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from quizops.errors import ConfigurationError, SubmissionError

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "pipelines" / "configs"
#: Environments with a config in pipelines/configs/<env>.yaml.
ENVIRONMENTS = ("dev", "staging", "prod")
#: Final run states of the KFP v2beta1 API.
FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
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
    for field in ("namespace", "service_account"):
        if field in config and not isinstance(config[field], str):
            raise ValueError(f"{path}: '{field}' must be a string")
    return config


def compiled_package(pipeline: str) -> Path:
    """The committed compiled package of a pipeline.

    Args:
        pipeline: ``training``, ``monitoring`` or ``rollback``.

    Returns:
        Its path.

    Raises:
        FileNotFoundError: The package is missing.
    """
    package = REPO / "compiled" / f"{pipeline}.yaml"
    if not package.is_file():
        raise FileNotFoundError(f"{package} missing: run `make compile`")
    return package


def declared_parameters(pipeline: str) -> dict[str, dict[str, Any]]:
    """The root parameters the compiled pipeline declares.

    Args:
        pipeline: Pipeline name (file stem under compiled/).

    Returns:
        Name -> definition (``parameterType``, ``defaultValue``, ``isOptional``, ...).
    """
    spec = next(yaml.safe_load_all(compiled_package(pipeline).read_text()))
    return dict(spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {}))


_TYPES: dict[str, tuple[type, ...]] = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "LIST": (list,),
    "STRUCT": (dict,),
}


def check_arguments(pipeline: str, arguments: dict[str, Any], where: str = "arguments") -> None:
    """Checks arguments against the compiled pipeline's signature (before any request).

    Args:
        pipeline: Pipeline name.
        arguments: Parameter name -> value.
        where: Words naming the arguments' origin, for messages.

    Raises:
        ValueError: Unknown parameter, wrong type, or a required parameter missing (the
            message names the parameter, never its value).
    """
    declared = declared_parameters(pipeline)
    unknown = sorted(set(arguments) - set(declared))
    if unknown:
        raise ValueError(
            f"{where}: {unknown} not parameters of pipeline '{pipeline}' (see compiled/"
            f"{pipeline}.yaml)"
        )
    for name, value in arguments.items():
        kind = declared[name].get("parameterType", "")
        allowed = _TYPES.get(kind, ())
        bad_bool = isinstance(value, bool) and kind in ("NUMBER_INTEGER", "NUMBER_DOUBLE")
        if not isinstance(value, allowed) or bad_bool:
            raise ValueError(f"{where}: '{name}' must be {kind}, got {type(value).__name__}")
    missing = sorted(
        name
        for name, definition in declared.items()
        if name not in arguments
        and not definition.get("isOptional")
        and "defaultValue" not in definition
    )
    if missing:
        raise ValueError(f"{where}: required parameter(s) {missing} missing")


def parse_params(items: list[str], pipeline: str) -> dict[str, Any]:
    """Parses ``name=value`` command-line parameters, typed by the compiled pipeline.

    Args:
        items: ``name=value`` strings (lists and mappings as JSON).
        pipeline: Pipeline name.

    Returns:
        Name -> typed value.

    Raises:
        ValueError: A malformed item, an unknown name, or a value of the wrong type.
    """
    declared = declared_parameters(pipeline)
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param {name or item[:20]!r}: expected name=value")
        if name not in declared:
            raise ValueError(f"--param '{name}' is not a parameter of pipeline '{pipeline}'")
        kind = declared[name].get("parameterType", "STRING")
        try:
            if kind == "STRING":
                out[name] = text
            elif kind == "NUMBER_INTEGER":
                out[name] = int(text)
            elif kind == "NUMBER_DOUBLE":
                out[name] = float(text)
            elif kind == "BOOLEAN":
                if text.lower() not in ("true", "false"):
                    raise ValueError
                out[name] = text.lower() == "true"
            else:
                out[name] = json.loads(text)
        except ValueError:
            raise ValueError(f"--param '{name}' must be {kind}") from None
    return out


def package_without_cache(pipeline: str, folder: Path) -> Path:
    """A copy of the compiled package with every task's cache off, at every depth.

    kfp.Client's own ``enable_caching=False`` reaches only the root DAG's tasks; this pipeline's
    tasks sit inside the exit handler's and the condition's DAGs.

    Args:
        pipeline: Pipeline name.
        folder: Where to write the copy.

    Returns:
        The copy's path.
    """
    docs = list(yaml.safe_load_all(compiled_package(pipeline).read_text()))
    spec = docs[0]
    dags = [spec["root"]["dag"]] + [
        c["dag"] for c in spec.get("components", {}).values() if "dag" in c
    ]
    for dag in dags:
        for task in dag.get("tasks", {}).values():
            task["cachingOptions"] = {}
    path = folder / f"{pipeline}.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _api_error_line(exc: Exception, what: str) -> SubmissionError:
    """One line for an API error: status, reason and the server's message, no body dump."""
    status = getattr(exc, "status", "")
    reason = getattr(exc, "reason", "") or type(exc).__name__
    message = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            message = json.loads(body).get("message", "")
        except (ValueError, AttributeError):
            message = ""
    detail = f": {message.splitlines()[0][:300]}" if message else ""
    return SubmissionError(f"KFP API refused {what} ({status} {reason}){detail}".strip())


def _upload(client: Any, pipeline: str, version: str) -> tuple[str, str]:
    """Finds or uploads the pipeline and uploads the version; returns their ids."""
    name = f"quizops-{pipeline}"
    package = str(compiled_package(pipeline))
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(package, pipeline_name=name).pipeline_id
        logger.info("uploaded pipeline %s (%s)", name, pipeline_id)
    found = _version_id(client, pipeline_id, f"{name}-{version}")
    if found:
        return pipeline_id, found
    uploaded = client.upload_pipeline_version(
        package, pipeline_version_name=f"{name}-{version}", pipeline_id=pipeline_id
    )
    return pipeline_id, uploaded.pipeline_version_id


def _version_id(client: Any, pipeline_id: str, version_name: str) -> str:
    """The id of a pipeline version with this name, or "" (the same version is reused)."""
    import kfp_server_api

    try:
        page = client.list_pipeline_versions(
            pipeline_id=pipeline_id,
            page_size=100,
            filter=json.dumps(
                {
                    "predicates": [
                        {"operation": "EQUALS", "key": "display_name", "stringValue": version_name}
                    ]
                }
            ),
        )
    except kfp_server_api.ApiException as exc:
        if exc.status in (404, 501):  # no version listing on this server: upload instead
            return ""
        raise
    versions = page.pipeline_versions or []
    return versions[0].pipeline_version_id if versions else ""


def start_run(
    client: Any,
    *,
    pipeline: str,
    version: str,
    arguments: dict[str, Any],
    experiment: str,
    namespace: str | None = None,
    service_account: str | None = None,
    enable_caching: bool = True,
    wait: bool = False,
    timeout_seconds: float = 6 * 3600,
    poll_seconds: float = 30.0,
) -> dict[str, str]:
    """Uploads a pipeline version (or reuses it) and starts one run; optionally waits for it.

    Args:
        client: A ``kfp.Client``.
        pipeline: ``training``, ``monitoring`` or ``rollback``.
        version: Version name (a git tag); a version of that name is reused.
        arguments: Pipeline arguments (checked against the compiled pipeline first).
        experiment: Experiment name.
        namespace: Kubeflow profile namespace (multi-user); None for single-user.
        service_account: Kubernetes service account the run's pods use (None = KFP's default).
        enable_caching: False runs the compiled package with every task's cache off (the run
            is created from the package, not the stored version).
        wait: Wait for a final state.
        timeout_seconds: Longest wait.
        poll_seconds: Seconds between state polls.

    Returns:
        Ids (pipeline, version, experiment, run) and, when waited for, the run's ``state``.

    Raises:
        ValueError: Bad arguments (before any request).
        SubmissionError: The API refused a request, or the wait timed out.
    """
    check_arguments(pipeline, arguments)
    name = f"quizops-{pipeline}"
    import kfp_server_api

    try:
        pipeline_id, version_id = _upload(client, pipeline, version)
        ids = {"pipeline_id": pipeline_id, "version_id": version_id}
        exp = client.create_experiment(experiment, namespace=namespace)
        ids["experiment_id"] = exp.experiment_id
        if enable_caching:
            run = client.run_pipeline(
                experiment_id=exp.experiment_id,
                job_name=f"{name}-{version}",
                params=arguments,
                pipeline_id=pipeline_id,
                version_id=version_id,
                service_account=service_account,
            )
        else:
            with tempfile.TemporaryDirectory() as folder:
                run = client.run_pipeline(
                    experiment_id=exp.experiment_id,
                    job_name=f"{name}-{version}-nocache",
                    params=arguments,
                    pipeline_package_path=str(package_without_cache(pipeline, Path(folder))),
                    service_account=service_account,
                )
        ids["run_id"] = run.run_id
        logger.info("started run %s of %s", run.run_id, name)
        if wait:
            ids["state"] = wait_for_run(client, run.run_id, timeout_seconds, poll_seconds)
    except kfp_server_api.ApiException as exc:
        raise _api_error_line(exc, f"a request for {name}") from None
    return ids


def wait_for_run(client: Any, run_id: str, timeout_seconds: float, poll_seconds: float) -> str:
    """Polls a run until it reaches a final state (bounded in time).

    Args:
        client: A ``kfp.Client``.
        run_id: The run.
        timeout_seconds: Longest wait.
        poll_seconds: Seconds between polls.

    Returns:
        The final state.

    Raises:
        SubmissionError: No final state within the timeout.
    """
    import time

    deadline = time.monotonic() + timeout_seconds
    while True:
        state = str(client.get_run(run_id).state or "")
        if state in FINAL_STATES:
            logger.info("run %s finished: %s", run_id, state)
            return state
        if time.monotonic() >= deadline:
            raise SubmissionError(
                f"run {run_id} still {state or 'pending'} after {timeout_seconds:.0f}s"
            )
        time.sleep(poll_seconds)


def schedule_runs(
    client: Any,
    *,
    pipeline: str,
    version: str,
    arguments: dict[str, Any],
    experiment: str,
    cron: str,
    max_concurrency: int = 1,
    catch_up: bool = False,
    namespace: str | None = None,
    service_account: str | None = None,
    replace: bool = True,
) -> dict[str, str]:
    """Creates the recurring run of a pipeline version (replacing earlier versions' ones).

    With ``span: "@scheduled-1"`` in the arguments each run reads the day before its scheduled
    time (resolved from KFP's ``{{$.pipeline_job_schedule_time_utc}}`` inside the run), so
    a late run, a re-run or a catch-up run still reads the span of its own schedule.

    Args:
        client: A ``kfp.Client``.
        pipeline: Pipeline name.
        version: Version name.
        arguments: Pipeline arguments (checked first).
        experiment: Experiment name.
        cron: KFP cron, six fields (seconds first).
        max_concurrency: Runs at once (1-10).
        catch_up: Start the runs missed while paused (off by default).
        namespace: Kubeflow profile namespace (multi-user).
        service_account: Kubernetes service account of the runs' pods.
        replace: Delete recurring runs of the same name made for earlier versions.

    Returns:
        Ids (pipeline, version, experiment, recurring run).

    Raises:
        ValueError: Bad arguments or cron (before any request).
        SubmissionError: The API refused a request.
    """
    fields = cron.split()
    if not cron.startswith("@") and len(fields) != 6:
        raise ValueError(
            f"cron has {len(fields)} fields; KFP cron has 6 (second minute hour day-of-month "
            "month day-of-week), e.g. '0 0 3 * * *'"
        )
    if not 1 <= max_concurrency <= 10:
        raise ValueError(f"max_concurrency must be in [1, 10], got {max_concurrency}")
    check_arguments(pipeline, arguments)
    name = f"quizops-{pipeline}"
    import kfp_server_api

    try:
        pipeline_id, version_id = _upload(client, pipeline, version)
        exp = client.create_experiment(experiment, namespace=namespace)
        job = client.create_recurring_run(
            experiment_id=exp.experiment_id,
            job_name=f"{name}-scheduled",
            cron_expression=cron,
            max_concurrency=max_concurrency,
            no_catchup=not catch_up,
            params=arguments,
            pipeline_id=pipeline_id,
            version_id=version_id,
            service_account=service_account,
        )
        if replace:
            for old_id in _recurring_run_ids(client, exp.experiment_id, f"{name}-scheduled"):
                if old_id != job.recurring_run_id:
                    client.delete_recurring_run(old_id)
                    logger.info("deleted recurring run %s of an earlier version", old_id)
    except kfp_server_api.ApiException as exc:
        raise _api_error_line(exc, f"a request for {name}") from None
    return {
        "pipeline_id": pipeline_id,
        "version_id": version_id,
        "experiment_id": exp.experiment_id,
        "recurring_run_id": job.recurring_run_id,
    }


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
    parser.add_argument("--config", default=str(CONFIGS / "prod.yaml"))
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


def _client(host: str, namespace: str | None) -> Any:
    import warnings

    import kfp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(
            host=host, existing_token=os.environ.get("KFP_TOKEN"), namespace=namespace or "kubeflow"
        )


def _environment(args: argparse.Namespace) -> dict[str, Any]:
    """The config of ``--env`` (or ``--config``) with ``--param`` overrides."""
    path = Path(args.config) if args.config else CONFIGS / f"{args.env}.yaml"
    config = load_config(path)
    pipeline = args.pipeline or config["pipeline"]
    arguments = dict(config["arguments"]) if pipeline == config["pipeline"] else {}
    arguments.update(config.get("pipelines", {}).get(pipeline, {}))
    arguments.update(parse_params(args.param, pipeline))
    return {
        "pipeline": pipeline,
        "arguments": arguments,
        "experiment": config["experiment"],
        "namespace": args.namespace or config.get("namespace"),
        "service_account": args.service_account or config.get("service_account"),
        "schedule": config.get("schedule") or {},
    }


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="KFP API endpoint")
    parser.add_argument("--version", required=True, help="pipeline version name, e.g. a git tag")
    parser.add_argument("--env", choices=ENVIRONMENTS, default="dev")
    parser.add_argument("--config", help="a config file instead of pipelines/configs/<env>.yaml")
    parser.add_argument("--pipeline", choices=("training", "monitoring", "rollback"))
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--namespace", help="Kubeflow profile namespace (multi-user)")
    parser.add_argument("--service-account", help="service account of the run's pods")


def _submit_command(args: argparse.Namespace) -> int:
    env = _environment(args)
    client = _client(args.host, env["namespace"])
    ids = start_run(
        client,
        pipeline=env["pipeline"],
        version=args.version,
        arguments=env["arguments"],
        experiment=env["experiment"],
        namespace=env["namespace"],
        service_account=env["service_account"],
        enable_caching=not args.no_cache,
        wait=args.wait,
        timeout_seconds=args.timeout,
        poll_seconds=args.poll,
    )
    for key, value in ids.items():
        logger.info("%s: %s", key, value)
    return 0 if ids.get("state", "SUCCEEDED") == "SUCCEEDED" else 1


def _schedule_command(args: argparse.Namespace) -> int:
    env = _environment(args)
    if args.span is not None:
        env["arguments"]["span"] = args.span
    plan = env["schedule"]
    client = _client(args.host, env["namespace"])
    ids = schedule_runs(
        client,
        pipeline=env["pipeline"],
        version=args.version,
        arguments=env["arguments"],
        experiment=env["experiment"],
        cron=args.cron or plan.get("cron", "0 0 3 * * *"),
        max_concurrency=args.max_concurrency or int(plan.get("max_concurrency", 1)),
        catch_up=args.catch_up or not bool(plan.get("no_catchup", True)),
        namespace=env["namespace"],
        service_account=env["service_account"],
    )
    for key, value in ids.items():
        logger.info("%s: %s", key, value)
    return 0


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigurationError(str(exc)) from None

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``quizops submit`` and ``quizops schedule``.

    Args:
        subparsers: The ``quizops`` command's subparsers.
    """
    submit_parser = subparsers.add_parser("submit", help="upload a pipeline version and run it")
    _common(submit_parser)
    submit_parser.add_argument("--no-cache", action="store_true", help="run with caching off")
    submit_parser.add_argument("--wait", action="store_true", help="wait; exit with its state")
    submit_parser.add_argument("--timeout", type=float, default=6 * 3600.0)
    submit_parser.add_argument("--poll", type=float, default=30.0, help=argparse.SUPPRESS)
    submit_parser.set_defaults(handler=_guarded(_submit_command))
    schedule_parser = subparsers.add_parser("schedule", help="create a recurring run")
    _common(schedule_parser)
    schedule_parser.add_argument("--cron", help="KFP cron, six fields (default: the config's)")
    schedule_parser.add_argument("--max-concurrency", type=int)
    schedule_parser.add_argument(
        "--catch-up", action="store_true", help="start runs missed while paused (off by default)"
    )
    schedule_parser.add_argument(
        "--span", help="span argument of each run, e.g. @scheduled-1 (the day before)"
    )
    schedule_parser.set_defaults(handler=_guarded(_schedule_command))


if __name__ == "__main__":
    sys.exit(main())
