"""The statistics store and the table on gs:// (real google-cloud-storage client, GCS emulator)."""

import os
import socket

import pytest

from quizops import storage
from quizops.validation.gate import ValidationConfig, validate_data
from tests.validation.conftest import canonical_frame
from tests.validation.test_gate import outputs


@pytest.fixture(scope="module")
def bucket():
    from gcp_storage_emulator.server import create_server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket="quizops-stats")
    server.start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        yield "quizops-stats"
    finally:
        server.stop()
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


def test_store_and_table_on_gcs(tmp_path, bucket):
    store = f"gs://{bucket}/stats"
    for seed, span in ((1, "2026-11-22"), (2, "2026-11-23")):
        local = tmp_path / f"{span}.parquet"
        canonical_frame(seed=seed).to_parquet(local, index=False)
        table = f"gs://{bucket}/clean/{span}.parquet"
        storage.write_bytes(table, local.read_bytes())
        metrics = validate_data(
            table,
            outputs(tmp_path / span),
            ValidationConfig(statistics_store_uri=store, span=span),
        )
    assert metrics["drift_baseline_available"] == 1.0
    assert metrics["drift_response_time_ms_js"] < 0.1
    assert storage.list_files(store) == [
        f"{store}/LATEST",
        f"{store}/span=2026-11-22/statistics.pb",
        f"{store}/span=2026-11-23/statistics.pb",
    ]
