"""One run per local home: a second run is refused with a clear message, and the lock is freed."""

import subprocess
import sys
import textwrap

import pytest

from quizops.errors import QuizopsError, RunLockedError
from quizops.runlock import home_lock


def hold_in_other_process(home):
    """Starts a process that takes the lock and waits for its stdin to close."""
    code = textwrap.dedent(
        f"""
        import sys
        from quizops.runlock import home_lock
        with home_lock({str(home)!r}, "run"):
            print("locked", flush=True)
            sys.stdin.read()
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_run_on_a_busy_home_is_refused_with_the_holder_named(tmp_path):
    holder = hold_in_other_process(tmp_path)
    try:
        with pytest.raises(RunLockedError) as caught, home_lock(tmp_path, "run"):
            pass
        message = str(caught.value)
        assert str(tmp_path) in message and f"pid {holder.pid}" in message
        assert "QUIZOPS_HOME" in message
        assert isinstance(caught.value, QuizopsError | RuntimeError)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with home_lock(tmp_path, "run") as path:  # freed when the holder ended
        assert path.parent.name == "pipeline_root"


def test_the_lock_is_freed_after_an_error_in_the_run(tmp_path):
    with pytest.raises(ValueError), home_lock(tmp_path):
        raise ValueError("boom")
    with home_lock(tmp_path):
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = hold_in_other_process(tmp_path)
    holder.kill()
    holder.wait(timeout=30)
    with home_lock(tmp_path):
        pass


def test_different_homes_do_not_block_each_other(tmp_path):
    with home_lock(tmp_path / "a"), home_lock(tmp_path / "b"):
        pass
