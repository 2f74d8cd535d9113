"""kfp.local with one interpreter per image, and a per-run tracker of task statuses and times.

kfp.local's ``SubprocessRunner`` runs each task with the current interpreter. Here each task runs
in the local virtual environment that stands in for its component's image
(``components.images.LOCAL_ENVS``): TFDV tasks in ``.venvs/validation``, the rest in
``.venvs/core``. kfp.local picks its handler class from
``kfp.local.subprocess_task_handler.SubprocessTaskHandler`` at every task, so
:func:`image_env_tasks` swaps in a subclass for the duration of a block and restores kfp's class
on the way out, whatever happens inside.

kfp.local 2.17 does not know the ``{{$.pipeline_job_schedule_time_utc}}`` placeholder (it fails
with an IndexError on it); inside the block it resolves to the block's start time, which is
what KFP gives a one-off run. Retries keep their count locally, but a retry waits at most
:data:`LOCAL_MAX_BACKOFF_SECONDS`: the compiled back-off (30 s, 60 s, ...) is for a cluster's
transient faults, and a local failure is rarely one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import re
import time
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfp import dsl, local
from kfp.local import placeholder_utils, subprocess_task_handler
from kfp.local import status as kfp_status
from kfp.local.orchestrator import task_executor

from components.images import LOCAL_ENVS
from quizops.errors import ConfigurationError

logger = logging.getLogger("quizops.local_run")

#: Longest wait before a local retry.
LOCAL_MAX_BACKOFF_SECONDS = 2.0


@dataclass
class StageTracker:
    """Per-task duration and status of one run, and the run's folder in the pipeline root.

    Attributes:
        stages: Expected task names, in order (for the progress count).
        seconds: Task name -> wall time of its last attempt.
        statuses: Task name -> ``SUCCESS`` or ``FAILURE``.
        run_dir: The run's folder (``<pipeline_root>/<run>``), once a task has started.
    """

    stages: tuple[str, ...]
    seconds: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    run_dir: Path | None = None

    def task_name(self, command: list[str], pipeline_root: str) -> str:
        """Finds the task name in a task's command (its outputs live under root/run/task/).

        Args:
            command: The task's command and arguments.
            pipeline_root: The pipeline root.

        Returns:
            The task name, or "task" when it cannot be told.
        """
        root = re.escape(pipeline_root.rstrip("/"))
        found = re.search(root + r"/([^/\s\"']+)/([\w-]+)/executor_output\.json", " ".join(command))
        if not found:
            return "task"
        if self.run_dir is None:
            self.run_dir = Path(pipeline_root) / found.group(1)
        return found.group(2)

    def started(self, name: str, env: str) -> None:
        """Logs a task's start.

        Args:
            name: Task name.
            env: Name of the local environment it runs in.
        """
        logger.info("starting %s in .venvs/%s", name, env)

    def record(self, name: str, seconds: float, ok: bool) -> None:
        """Records a finished task attempt and logs a progress line.

        Args:
            name: Task name.
            seconds: Wall time.
            ok: Whether it succeeded.
        """
        self.seconds[name] = seconds
        self.statuses[name] = "SUCCESS" if ok else "FAILURE"
        done = sum(1 for stage in self.stages if stage in self.statuses)
        logger.info(
            "stage %d/%d %s: %s in %.1fs",
            done,
            len(self.stages),
            name,
            self.statuses[name],
            seconds,
        )


def _handler_class(
    tracker: StageTracker, venvs: Path
) -> type[subprocess_task_handler.SubprocessTaskHandler]:
    """A subclass of kfp.local's subprocess handler bound to one run's tracker."""

    class ImageEnvTaskHandler(subprocess_task_handler.SubprocessTaskHandler):
        """kfp.local's subprocess handler, running each task in the venv of its image."""

        def validate_image(self, image: str) -> None:
            """Accepts only images that have a local environment.

            Args:
                image: The component's base image.

            Raises:
                ConfigurationError: The image has no local stand-in.
            """
            if image not in LOCAL_ENVS:
                raise ConfigurationError(f"image {image} has no local environment in LOCAL_ENVS")

        def run(self) -> kfp_status.Status:
            """Runs the task with the interpreter of its image's environment.

            Returns:
                The task status.

            Raises:
                ConfigurationError: The environment is not built.
            """
            env = LOCAL_ENVS[self.image]
            python = venvs / env / "bin" / "python"
            if not python.exists():
                raise ConfigurationError(f"{python} missing: run `make install`")
            command = subprocess_task_handler.replace_python_executable(
                self.full_command, str(python)
            )
            name = tracker.task_name(command, self.pipeline_root)
            tracker.started(name, env)
            started = time.monotonic()
            code = subprocess_task_handler.run_local_subprocess(command, self.env_vars)
            tracker.record(name, time.monotonic() - started, code == 0)
            return kfp_status.Status.SUCCESS if code == 0 else kfp_status.Status.FAILURE

    return ImageEnvTaskHandler


@contextlib.contextmanager
def image_env_tasks(tracker: StageTracker, venvs: Path) -> Iterator[None]:
    """Runs kfp.local tasks in their images' environments for the duration of the block.

    Restores kfp.local's own handler class on exit. Also silences kfp.local's warning that
    display names, resources and timeouts have no local effect (they are for the cluster).

    Args:
        tracker: The run's tracker.
        venvs: Folder holding the local environments (``.venvs``).

    Yields:
        Nothing.
    """
    original = subprocess_task_handler.SubprocessTaskHandler
    original_resolve = placeholder_utils.resolve_individual_placeholder
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @functools.wraps(original_resolve)
    def resolve(element: str, *args: object, **kwargs: object) -> str:
        if dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER in element:
            element = element.replace(dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER, started)
        return original_resolve(element, *args, **kwargs)

    original_time = task_executor.time
    capped_time = types.SimpleNamespace(
        sleep=lambda seconds: original_time.sleep(min(seconds, LOCAL_MAX_BACKOFF_SECONDS))
    )
    subprocess_task_handler.SubprocessTaskHandler = _handler_class(tracker, venvs)
    placeholder_utils.resolve_individual_placeholder = resolve
    task_executor.time = capped_time
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*no effect in the current local runner.*")
            yield
    finally:
        subprocess_task_handler.SubprocessTaskHandler = original
        placeholder_utils.resolve_individual_placeholder = original_resolve
        task_executor.time = original_time


def run_pipeline_locally(
    pipeline: Any, arguments: dict[str, Any], pipeline_root: Path, tracker: StageTracker,
    venvs: Path,
) -> str | None:  # fmt: skip
    """Runs a pipeline with kfp.local, each task in the environment of its image.

    Args:
        pipeline: The ``@dsl.pipeline`` function.
        arguments: Its arguments.
        pipeline_root: The local pipeline root.
        tracker: Receives each task's status and time.
        venvs: Folder of the local environments (``.venvs``).

    Returns:
        None when the run succeeded, else kfp.local's error text without colour codes.
    """
    with image_env_tasks(tracker, venvs):
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(pipeline_root),
            raise_on_error=True,
        )
        try:
            pipeline(**arguments)
        except RuntimeError as exc:
            return re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    return None
