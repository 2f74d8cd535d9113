"""The statistics store and the table on gs:// (real google-cloud-storage client, GCS emulator)."""

import pytest

from quizops import storage
from quizops.validation.gate import ValidationConfig, validate_data
from tests.conftest import running_gcs_emulator
from tests.validation.conftest import canonical_frame
from tests.validation.test_gate import outputs


@pytest.fixture(scope="module")
def bucket():
    with running_gcs_emulator("quizops-stats") as name:
        yield name


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
