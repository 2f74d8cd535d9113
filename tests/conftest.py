import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Settings of a small policy search, for tests of what happens around training (registry,
#: evaluation stage, gate, lineage) rather than of the search's choice: 16 shapes of one
#: temperature, then 2 temperatures x 2 caps, on 150 simulated students (about 8 s on the
#: evaluation tests' 15,000 answers against 52 s for the full grid). ``tests/training/
#: test_policy.py`` tests the full search.
SMALL_SEARCH = dict(
    validation_students=150,
    unlocks=(0.0, 1.0),
    mastery_caps=(0.9, 0.95),
    focuses=(0.0, 1.0),
    temperatures=(0.05, 0.1),
    epsilons=(0.02,),
    max_choices=(1.0, 0.6),
    exposure_students=600,
)


@pytest.fixture(autouse=True)
def _no_registry_uri_left_behind():
    """Forgets a process-wide MLflow registry URI after each test.

    The library pins MLflow's registry to its tracking URI (``mlflow.set_registry_uri``, which
    also exports ``MLFLOW_REGISTRY_URI``). In one pytest process a later test that sets only a
    tracking URI would otherwise register into an earlier test's store, or a server already
    stopped.
    """
    yield
    registry = sys.modules.get("mlflow.tracking._model_registry.utils")
    if registry is not None:
        registry._registry_uri = None
    os.environ.pop("MLFLOW_REGISTRY_URI", None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, seconds: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds}s")


@contextlib.contextmanager
def running_gcs_emulator(bucket: str):
    """A GCS emulator (in memory) on 127.0.0.1 for the real google-cloud-storage client.

    Sets STORAGE_EMULATOR_HOST while it runs (restoring the previous value) and yields the
    name of the bucket it was created with.
    """
    from gcp_storage_emulator.server import create_server

    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=bucket)
    server.start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        yield bucket
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


@contextlib.contextmanager
def running_mlflow_server(root: Path):
    """A real MLflow tracking server on 127.0.0.1 (SQLite backend, proxied artifacts) in root."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(root / "server.log", "w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", 120, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on 127.0.0.1 (SQLite backend, proxied artifacts)."""
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url
