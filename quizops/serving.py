"""Runs the predictor (``quizops_predictor``) as a local process on 127.0.0.1; decision-log layout.

Used by the local deploy target, the service tests and the predictor benchmark. Every wait is
bounded in time, and :class:`PredictorProcess` always stops the process it started.

The decision log's layout (what the predictor writes and :mod:`quizops.ingest.serving_logs`
reads) is fixed here: :data:`DECISION_FIELDS`, :func:`items_digest` and
:func:`decision_object_name`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from quizops.errors import PredictorStartError
from quizops.names import MODEL_NAME, PREDICTOR_PATH_ENV

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

#: Fields of one decision-log record (a JSON line), in order. ``student_pseudonym`` is left out
#: when the predictor has no pseudonymization key; ``candidates`` is null when the policy chose
#: from its whole item bank (``candidates_sha256`` then equals ``item_bank_version``) or when an
#: explicit list was longer than :data:`MAX_LOGGED_CANDIDATES` (then only its digest is kept).
#: ``unknown_history`` counts the answers (history, or the stateful form's ``answer``) on items
#: outside the served policy's bank, which left the state unchanged; ``unknown_candidates`` the
#: candidates outside it, which were left out of the choice (``candidates`` and the propensity
#: are over the rest). Records written before these two fields read as 0.
DECISION_FIELDS = (
    "time",
    "request_id",
    "instance",
    "student_pseudonym",
    "history_length",
    "unknown_history",
    "candidates",
    "candidates_count",
    "unknown_candidates",
    "candidates_sha256",
    "item_bank_version",
    "state",
    "item_id",
    "propensity",
    "policy_version",
    "variant",
    "protocol",
)
#: Longest explicit candidate list written out in full.
MAX_LOGGED_CANDIDATES = 256


def items_digest(item_ids: Sequence[str]) -> str:
    """A short, order-sensitive digest of a list of item ids (candidates or an item bank).

    Args:
        item_ids: The ids, in the order the policy saw them.

    Returns:
        The first 16 hex characters of SHA-256 over the ids joined by newlines.
    """
    return hashlib.sha256("\n".join(item_ids).encode("utf-8")).hexdigest()[:16]


def decision_object_name(day: str, writer: str, sequence: int) -> str:
    """The relative name of one decision-log batch in an object store (gs://).

    Args:
        day: UTC date ``YYYY-MM-DD`` of the batch's records.
        writer: Id of the writing process (host and pid), so replicas never collide.
        sequence: The writer's batch counter.

    Returns:
        ``date=<day>/decisions-<day>-<writer>-<sequence>.jsonl``: the span is both the folder
        and part of the name, which is what the validation and ingest readers select on.
    """
    return f"date={day}/decisions-{day}-{writer}-{sequence:06d}.jsonl"


def predictor_pythonpath() -> str:
    """Finds the folder to put on PYTHONPATH so that ``quizops_predictor`` imports.

    ``$QUIZOPS_PREDICTOR_PATH`` wins; then the folder of an importable ``quizops_predictor``;
    then the ``kserve/`` folder next to the ``quizops`` package of a checkout.

    Returns:
        The folder.

    Raises:
        PredictorStartError: The package cannot be found.
    """
    if os.environ.get(PREDICTOR_PATH_ENV):
        return os.environ[PREDICTOR_PATH_ENV]
    spec = importlib.util.find_spec("quizops_predictor")
    if spec is not None and spec.origin:
        return str(Path(spec.origin).resolve().parents[1])
    checkout = Path(__file__).resolve().parents[1] / "kserve"
    if (checkout / "quizops_predictor" / "__init__.py").is_file():
        return str(checkout)
    raise PredictorStartError(
        f"quizops_predictor not found: install it or set {PREDICTOR_PATH_ENV} to its folder"
    )


def free_port() -> int:
    """Returns a TCP port free on 127.0.0.1 at the time of the call.

    Returns:
        The port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_json(
    method: str, url: str, body: Any | None = None, timeout: float = 10.0
) -> tuple[int, Any]:
    """Sends one JSON request.

    Args:
        method: HTTP method.
        url: Full URL.
        body: JSON-serialisable body, or None.
        timeout: Socket timeout in seconds.

    Returns:
        The status code and the decoded JSON answer (or the raw text when not JSON).
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class PredictorProcess:
    """The predictor as a child process on 127.0.0.1; a context manager that always stops it."""

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        model_uri: str | None = None,
        tracking_uri: str | None = None,
        decisions_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
        python: str = sys.executable,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        module: str = "quizops_predictor",
    ) -> None:
        """Configures the process (nothing starts until :meth:`start`).

        Args:
            model_dir: A saved policy folder.
            model_uri: An MLflow model URI (when no ``model_dir``).
            tracking_uri: MLflow tracking URI.
            decisions_dir: Decision log folder.
            port: HTTP port (default: a free one).
            python: Interpreter to run it with.
            extra_args: More command-line arguments.
            env: Extra environment variables.
            log_path: File for the server's output (default: a temporary file).
            module: The server module run with ``python -m`` (benchmarks run an anchor server
                with the same process control).
        """
        self.port = port or free_port()
        self.args = [python, "-m", module, "--port", str(self.port)]
        if model_dir is not None:
            self.args += ["--model-dir", str(model_dir)]
        elif model_uri is not None:
            self.args += ["--model-uri", model_uri]
        if tracking_uri:
            self.args += ["--tracking-uri", tracking_uri]
        if decisions_dir is not None:
            self.args += ["--decisions-dir", str(decisions_dir)]
        self.args += list(extra_args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (predictor_pythonpath(), self.env.get("PYTHONPATH", "")) if p
        )
        self.log_path = Path(
            log_path or tempfile.NamedTemporaryFile(suffix=".log", delete=False).name
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, ready_timeout: float = 60.0) -> PredictorProcess:
        """Starts the process and waits (bounded) until ``/v2/health/ready`` answers 200.

        Args:
            ready_timeout: Seconds to wait for readiness.

        Returns:
            self.

        Raises:
            PredictorStartError: The process exited or was not ready in time (it is stopped),
                or a process started earlier by this object is still running.
        """
        if self.process is not None and self.process.poll() is None:
            raise PredictorStartError(
                f"predictor pid {self.process.pid} on {self.base_url} is already running: "
                "stop it before starting another"
            )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        logger.info("started predictor pid %d on %s", self.process.pid, self.base_url)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_tail()
                self.process = None
                raise PredictorStartError(f"predictor exited before ready:\n{tail}")
            with contextlib.suppress(OSError):
                status, _ = http_json("GET", f"{self.base_url}/v2/health/ready", timeout=2.0)
                if status == 200:
                    return self
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise PredictorStartError(f"predictor not ready after {ready_timeout:.0f}s:\n{tail}")

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output.

        Args:
            lines: How many.

        Returns:
            The text.
        """
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """Stops the process: SIGTERM, then SIGKILL after ``timeout`` seconds.

        Args:
            timeout: Seconds to wait for a graceful exit.

        Returns:
            The exit status, or None when nothing was running.
        """
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                logger.warning("predictor pid %d ignored SIGTERM; killing it", process.pid)
                process.kill()
                process.wait(timeout=timeout)
        return process.returncode

    def predict_v1(self, instances: list[dict[str, Any]], timeout: float = 10.0) -> tuple[int, Any]:
        """Sends one v1 predict request.

        Args:
            instances: The instances.
            timeout: Socket timeout.

        Returns:
            Status and decoded answer.
        """
        url = f"{self.base_url}/v1/models/{MODEL_NAME}:predict"
        return http_json("POST", url, {"instances": instances}, timeout=timeout)

    def __enter__(self) -> PredictorProcess:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
