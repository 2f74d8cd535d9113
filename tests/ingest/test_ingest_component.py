import json

import pytest
from kfp.dsl import Dataset, Metrics

from components.ingest.component import ingest
from quizops.errors import InputDataError
from tests.ingest.conftest import write_csv


def test_ingest_component_writes_manifest_and_metrics(tmp_path, assistments_frame):
    source = write_csv(assistments_frame, tmp_path / "src" / "date=2026-11-23" / "a.csv")
    manifest = Dataset(name="manifest", uri=str(tmp_path / "out" / "manifest"))
    metrics = Metrics(name="metrics", uri=str(tmp_path / "out" / "metrics"))
    ingest.python_func(
        source_uri=str(source.parent.parent),
        source_format="assistments",
        span="2026-11-23",
        raw_zone_uri=str(tmp_path / "raw"),
        manifest=manifest,
        metrics=metrics,
    )
    content = json.loads((tmp_path / "out" / "manifest").read_text())
    assert content["span"] == "2026-11-23" and content["format"] == "assistments"
    assert metrics.metadata["rows"] == 8.0
    assert metrics.metadata["scaffolding_rows_dropped"] == 1.0


def test_ingest_component_fails_without_output(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"")
    manifest = Dataset(name="manifest", uri=str(tmp_path / "out" / "manifest"))
    metrics = Metrics(name="metrics", uri=str(tmp_path / "out" / "metrics"))
    with pytest.raises(InputDataError, match="empty file"):
        ingest.python_func(
            source_uri=str(tmp_path / "a.csv"), source_format="assistments", span="",
            raw_zone_uri=str(tmp_path / "raw"), manifest=manifest, metrics=metrics,
        )  # fmt: skip
    assert not (tmp_path / "out").exists()
    assert metrics.metadata == {}
