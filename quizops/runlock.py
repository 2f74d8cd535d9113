"""One run per local home at a time.

Two ``make run`` on one home would share the raw-zone table of a span, the statistics store's
``LATEST`` pointer and the run summary. :func:`home_lock` takes an exclusive, non-blocking
``fcntl`` lock on ``<home>/pipeline_root/run.lock`` for the whole run (inside the pipeline
root, so that the home keeps its five documented folders); a second run is refused at once with a
message naming the lock file and the process that holds it. The operating system drops the lock
when the holding process ends, however it ends, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from quizops.errors import RunLockedError

logger = logging.getLogger(__name__)

#: Name of the lock file inside the home.
LOCK_NAME = "run.lock"


@contextlib.contextmanager
def home_lock(home_root: str | os.PathLike[str], purpose: str = "run") -> Iterator[Path]:
    """Holds the home's run lock for the duration of the block.

    Args:
        home_root: The local home folder (created if missing).
        purpose: What takes the lock (``run``, ``monitor``, ``rollback``), for the message.

    Yields:
        The lock file's path.

    Raises:
        RunLockedError: Another process holds the lock.
    """
    root = Path(home_root)
    (root / "pipeline_root").mkdir(parents=True, exist_ok=True)
    path = root / "pipeline_root" / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunLockedError(
                f"{root} is busy: {holder} holds {path}; wait for it to finish, or set "
                "QUIZOPS_HOME to another folder to run beside it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{purpose} (pid {os.getpid()})".encode(), 0)
        logger.info("took the run lock of %s", root)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
