import json

import pytest
from kfp.dsl import Artifact, Dataset, Markdown

from components.pii_scan.component import pii_scan
from quizops.canonical import read_table
from quizops.errors import PIILeftError
from quizops.quarantine import write_quarantined
from tests.pii.conftest import CANARIES, KEY


def outputs(tmp_path):
    return (
        Dataset(name="clean", uri=str(tmp_path / "out" / "clean")),
        Artifact(name="report", uri=str(tmp_path / "out" / "report")),
        Markdown(name="report_view", uri=str(tmp_path / "out" / "report_view")),
    )


@pytest.fixture
def manifest(tmp_path, pii_frame):
    path = tmp_path / "manifest"
    write_quarantined(pii_frame, str(tmp_path / "raw" / "table.parquet"), path)
    return Dataset(name="manifest", uri=str(path))


def test_component_writes_clean_table_report_and_view(tmp_path, manifest, monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    clean, report, view = outputs(tmp_path)
    pii_scan.python_func(raw=manifest, clean=clean, report=report, report_view=view)
    table = read_table(clean.path)
    assert len(table) == 120 and table["student_id"].str.startswith("p_").all()
    content = json.loads((tmp_path / "out" / "report").read_text())
    assert content["kind"] == "quizops.pii-report/v1" and content["status"] == "clean"
    assert "# PII scan" in (tmp_path / "out" / "report_view").read_text()
    written = (tmp_path / "out" / "report").read_bytes() + table.astype(str).to_csv().encode()
    for value in CANARIES.values():
        assert value.encode() not in written


def test_component_fails_closed_and_writes_nothing(tmp_path, pii_frame, monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    df = pii_frame.copy()
    df.loc[2, "item_id"] = "call me 020 7946 0958"
    path = tmp_path / "manifest"
    write_quarantined(df, str(tmp_path / "raw" / "table.parquet"), path)
    clean, report, view = outputs(tmp_path)
    with pytest.raises(PIILeftError, match="item_id"):
        pii_scan.python_func(
            raw=Dataset(name="m", uri=str(path)), clean=clean, report=report, report_view=view
        )
    assert not (tmp_path / "out").exists()


def test_component_needs_a_key(tmp_path, manifest, monkeypatch):
    monkeypatch.delenv("QUIZOPS_PII_KEY", raising=False)
    monkeypatch.delenv("QUIZOPS_PII_KEY_FILE", raising=False)
    clean, report, view = outputs(tmp_path)
    with pytest.raises(RuntimeError, match="no pseudonymization key"):
        pii_scan.python_func(raw=manifest, clean=clean, report=report, report_view=view)
    assert not (tmp_path / "out").exists()


def test_component_takes_a_policy_json(tmp_path, manifest, monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    clean, report, view = outputs(tmp_path)
    pii_scan.python_func(
        raw=manifest, clean=clean, report=report, report_view=view,
        policy_json='{"text_mode": "mask"}',
    )  # fmt: skip
    table = read_table(clean.path)
    assert "<EMAIL>" not in "".join(table["answer_text"]) and "*" in table.loc[3, "answer_text"]
