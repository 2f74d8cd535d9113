import pytest
from kfp.dsl import HTML, Artifact, Dataset, Markdown, Metrics

from components.data_validation.component import data_validation
from quizops.errors import ValidationFailedError


def artifacts(folder):
    return dict(
        validated=Dataset(name="validated", uri=str(folder / "validated")),
        statistics=Artifact(name="statistics", uri=str(folder / "statistics")),
        schema=Artifact(name="schema", uri=str(folder / "schema")),
        anomalies=Artifact(name="anomalies", uri=str(folder / "anomalies")),
        report=HTML(name="report", uri=str(folder / "report")),
        summary=Markdown(name="summary", uri=str(folder / "summary")),
        metrics=Metrics(name="metrics", uri=str(folder / "metrics")),
    )


def test_component_passes_clean_data(tmp_path, frame):
    frame.to_parquet(tmp_path / "data", index=False)
    data = Dataset(name="data", uri=str(tmp_path / "data"), metadata={"span": "2026-11-23"})
    outs = artifacts(tmp_path / "out")
    data_validation.python_func(data=data, statistics_store_uri=str(tmp_path / "store"), **outs)
    assert (tmp_path / "out" / "validated").read_bytes() == (tmp_path / "data").read_bytes()
    assert outs["metrics"].metadata["num_examples"] == len(frame)
    assert (tmp_path / "store" / "span=2026-11-23" / "statistics.pb").exists()


def test_component_fails_with_nothing_written(tmp_path, frame):
    frame.assign(correct=3).to_parquet(tmp_path / "data", index=False)
    data = Dataset(name="data", uri=str(tmp_path / "data"))
    outs = artifacts(tmp_path / "out")
    with pytest.raises(ValidationFailedError, match="correct_binary"):
        data_validation.python_func(data=data, **outs)
    assert not (tmp_path / "out").exists()
    assert outs["metrics"].metadata == {}
