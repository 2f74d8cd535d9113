"""quizops pii-scan with gs:// input and outputs, against a local GCS emulator."""

import io
import json

import pandas as pd
import pytest

from quizops import storage
from quizops.cli import main
from tests.conftest import running_gcs_emulator
from tests.pii.conftest import CANARIES, KEY

BUCKET = "quizops-pii"


@pytest.fixture(scope="module")
def gcs():
    with running_gcs_emulator(BUCKET) as bucket:
        yield f"gs://{bucket}"


def test_gcs_input_and_outputs(gcs, pii_frame, monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    storage.write_bytes(f"{gcs}/in/logs.csv", pii_frame.to_csv(index=False).encode())
    code = main(
        ["pii-scan", f"{gcs}/in/logs.csv", "--report", f"{gcs}/out/report.json",
         "--output", f"{gcs}/out/clean.parquet"]
    )  # fmt: skip
    assert code == 0
    clean = pd.read_parquet(io.BytesIO(storage.read_bytes(f"{gcs}/out/clean.parquet")))
    assert len(clean) == len(pii_frame) and clean["student_id"].str.startswith("p_").all()
    report = storage.read_bytes(f"{gcs}/out/report.json")
    assert json.loads(report)["status"] == "clean"
    for value in CANARIES.values():
        assert value.encode() not in report


def test_missing_gcs_object_exit_2(gcs, tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    code = main(
        ["pii-scan", f"{gcs}/in/absent.csv", "--report", str(tmp_path / "r.json"),
         "--output", str(tmp_path / "c.parquet")]
    )  # fmt: skip
    assert code == 2 and not list(tmp_path.iterdir())


def test_gcs_any_table(gcs, monkeypatch):
    from bench.pii_corpus import DISTRICT_PII_COLUMNS, make_district_export

    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    export, _ = make_district_export(300, seed=17)
    buffer = io.BytesIO()
    export.to_parquet(buffer, index=False)
    storage.write_bytes(f"{gcs}/in/export.parquet", buffer.getvalue())
    code = main(
        ["pii-scan", f"{gcs}/in/export.parquet", "--report", f"{gcs}/out/any.json",
         "--output", f"{gcs}/out/any.parquet"]
    )  # fmt: skip
    assert code == 0
    clean = pd.read_parquet(io.BytesIO(storage.read_bytes(f"{gcs}/out/any.parquet")))
    assert "user_id" in clean and not set(DISTRICT_PII_COLUMNS) - {"user_id"} & set(clean)
    assert json.loads(storage.read_bytes(f"{gcs}/out/any.json"))["mode"] == "any table"
