"""Caching, retries and the exit handler, run for real through kfp.local (the orchestrator KFP
ships, with its local cache and retry loop) on small pipelines built from the suite's own
components and task policies."""

import json
import time
from pathlib import Path

import pytest
from kfp import dsl, local
from kfp.local import placeholder_utils, subprocess_task_handler
from kfp.local.orchestrator import task_executor

from components.fingerprint.component import fingerprint
from components.images import CORE_IMAGE
from components.ingest.component import ingest
from components.run_summary.component import run_summary
from pipelines import task_policies
from pipelines.local_env import StageTracker, image_env_tasks
from tests.ingest.conftest import assistments_frame, write_csv  # noqa: F401 - a fixture

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]


@dsl.pipeline(name="cache-check")
def fingerprint_then_ingest(source_uri: str, span: str, raw_zone_uri: str) -> dsl.Dataset:
    identity = task_policies.apply_policy(
        fingerprint(source_uri=source_uri, span=span), "fingerprint", "Fingerprint the source"
    ).outputs
    task = task_policies.apply_policy(
        ingest(
            source_uri=source_uri,
            source_format="assistments",
            span=identity["span"],
            raw_zone_uri=raw_zone_uri,
            source_identity=identity["identity"],
        ),
        "ingest",
        "Ingest the logs",
    )
    return task.outputs["manifest"]


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def flaky(counter: str) -> str:
    """Fails on its first attempt (counted in a file), succeeds on the next."""
    from pathlib import Path

    path = Path(counter)
    attempts = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(attempts))
    if attempts < 2:
        raise ConnectionError("transient failure on attempt 1")
    return f"succeeded on attempt {attempts}"


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def broken() -> None:
    """Always fails."""
    raise ValueError("this stage is broken")


@pytest.fixture
def kfp_local(tmp_path):
    tracker = StageTracker(("fingerprint", "ingest"))
    original = subprocess_task_handler.SubprocessTaskHandler
    with image_env_tasks(tracker, REPO / ".venvs"):
        assert subprocess_task_handler.SubprocessTaskHandler is not original
        assert task_executor.time is not time
        yield tracker
    # kfp.local is left as it was: its handler class, placeholder resolver and clock.
    assert subprocess_task_handler.SubprocessTaskHandler is original
    assert task_executor.time is time
    assert placeholder_utils.resolve_individual_placeholder.__module__ == placeholder_utils.__name__


def init(root: Path, caching: bool = False, raise_on_error: bool = True) -> None:
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        raise_on_error=raise_on_error,
        enable_caching=caching,
    )


def test_changed_input_forces_a_cache_miss_and_same_input_hits(
    kfp_local,
    tmp_path,
    assistments_frame,  # noqa: F811 - the fixture imported above
):
    source = tmp_path / "src"
    write_csv(assistments_frame, source / "date=2026-11-23" / "a.csv")
    init(tmp_path / "root", caching=True)
    arguments = {"source_uri": str(source), "span": "2026-11-23",
                 "raw_zone_uri": str(tmp_path / "raw")}  # fmt: skip

    first = fingerprint_then_ingest(**arguments).output
    again = fingerprint_then_ingest(**arguments).output
    assert again.uri == first.uri  # cache hit: the first run's manifest is reused

    write_csv(assistments_frame.iloc[:-2], source / "date=2026-11-23" / "a.csv")
    changed = fingerprint_then_ingest(**arguments).output
    assert changed.uri != first.uri  # the identity changed: ingest ran again
    assert (
        json.loads(Path(changed.path).read_text())["rows"]
        < json.loads(Path(first.path).read_text())["rows"]
    )
    # The fingerprint never caches: it ran in each of the three runs.
    fingerprints = list((tmp_path / "root").glob("cache-check-*/fingerprint/executor_output.json"))
    assert len(fingerprints) == 3


def test_a_flaky_task_succeeds_on_retry(kfp_local, tmp_path, monkeypatch):
    monkeypatch.setattr(task_policies, "BACKOFF_DURATION", "0s")  # no waiting in a test
    monkeypatch.setitem(
        task_policies.POLICIES,
        "flaky",
        task_policies.TaskPolicy(False, 2, "100m", "1", "64Mi", "128Mi", 60),
    )
    counter = tmp_path / "attempts"

    @dsl.pipeline(name="retry-check")
    def retried() -> str:
        return task_policies.apply_policy(flaky(counter=str(counter)), "flaky", "Flaky task").output

    init(tmp_path / "root")
    assert retried().output == "succeeded on attempt 2"
    assert counter.read_text() == "2"


def test_without_retries_the_same_task_fails(kfp_local, tmp_path, monkeypatch):
    monkeypatch.setitem(
        task_policies.POLICIES,
        "flaky",
        task_policies.TaskPolicy(False, 0, "100m", "1", "64Mi", "128Mi", 60),
    )
    counter = tmp_path / "attempts"

    @dsl.pipeline(name="no-retry-check")
    def not_retried() -> str:
        return task_policies.apply_policy(flaky(counter=str(counter)), "flaky", "Flaky task").output

    init(tmp_path / "root")
    with pytest.raises(RuntimeError, match="FAILURE"):
        not_retried()
    assert counter.read_text() == "1"


def test_the_exit_handler_reports_a_failed_run_as_failed(kfp_local, tmp_path):
    @dsl.pipeline(name="exit-check")
    def failing() -> None:
        summary = run_summary()
        with dsl.ExitHandler(summary):
            broken()

    init(tmp_path / "root")
    with pytest.raises(RuntimeError, match="FAILURE"):
        failing()
    (summary_file,) = (tmp_path / "root").glob("exit-check-*/run-summary/summary")
    text = summary_file.read_text()
    assert text.startswith("# Run summary: FAILED")
    assert "state: **FAILED**" in text and "gate: **not reached**" in text


def test_the_exit_handler_reports_a_good_run_as_succeeded(kfp_local, tmp_path):
    @dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
    def fine() -> None:
        return None

    @dsl.pipeline(name="exit-ok")
    def good() -> None:
        summary = run_summary()
        with dsl.ExitHandler(summary):
            fine()

    init(tmp_path / "root")
    good()
    (summary_file,) = (tmp_path / "root").glob("exit-ok-*/run-summary/summary")
    assert summary_file.read_text().startswith("# Run summary: SUCCEEDED")


def test_a_local_retry_waits_at_most_the_local_cap(kfp_local, tmp_path, monkeypatch):
    from pipelines.local_env import LOCAL_MAX_BACKOFF_SECONDS

    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)  # record, do not wait
    monkeypatch.setitem(
        task_policies.POLICIES,
        "flaky",
        task_policies.TaskPolicy(False, 2, "100m", "1", "64Mi", "128Mi", 60),
    )
    counter = tmp_path / "attempts"

    @dsl.pipeline(name="capped-retry-check")
    def retried() -> str:
        return task_policies.apply_policy(
            flaky(counter=str(counter)), "flaky", "Flaky task"
        ).output  # the compiled back-off: 30 s

    init(tmp_path / "root")
    assert retried().output == "succeeded on attempt 2"
    assert waits == [LOCAL_MAX_BACKOFF_SECONDS]
