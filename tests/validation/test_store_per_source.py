"""Drift baselines kept per source, and accepting a new baseline on purpose (issue 10, item 6)."""

import subprocess
import sys
from pathlib import Path

import pytest

from quizops.errors import InputDataError
from quizops.validation import statistics as stats_lib
from quizops.validation.store import (
    StatisticsStore,
    accept_baseline,
    accept_baseline_hint,
    normalize_source,
    open_store,
    source_key,
)
from tests.validation.conftest import canonical_frame

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stats():
    return stats_lib.generate_statistics(canonical_frame(n_students=10, per_student=5))


def test_normalized_source_identity(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert normalize_source("data/logs/") == f"{tmp_path.as_posix()}/data/logs"
    assert normalize_source("gs://b/logs/date=2026-11-23/") == "gs://b/logs"
    assert source_key("gs://b/logs") == source_key("gs://b/logs/date=2026-11-23")
    assert source_key("gs://b/logs") != source_key("gs://b/other")
    assert source_key("data/logs") == source_key(str(tmp_path / "data" / "logs"))
    assert len(source_key("x")) == 16


def test_a_second_data_set_is_not_compared_with_the_first(tmp_path, stats):
    store_uri = str(tmp_path / "store")
    first = open_store(store_uri, "gs://district-a/logs")
    second = open_store(store_uri, "gs://district-b/export.csv")
    first.write("", stats)
    assert first.previous("").span == "unspanned"
    assert second.previous("") is None  # its own history is empty
    second.write("", stats)
    assert second.previous("").span == "unspanned"
    first.write("2026-11-20", stats)
    assert second.spans() == ["unspanned"]
    assert first.spans() == ["2026-11-20", "unspanned"]
    # the store root (no source) sees neither source's entries
    assert StatisticsStore(store_uri).spans() == [] and StatisticsStore(store_uri).latest() == ""
    assert (Path(first.uri) / "SOURCE").read_text() == "gs://district-a/logs"


def test_accept_baseline_command(tmp_path):
    table = tmp_path / "clean.parquet"
    canonical_frame(n_students=10, per_student=5).to_parquet(table, index=False)
    store_uri = str(tmp_path / "store")
    hint = accept_baseline_hint(store_uri, "gs://b/logs", str(table))
    assert "accept-baseline" in hint and str(table) in hint and "gs://b/logs" in hint
    command = hint.split("with: ", 1)[1].split(" (validation environment)")[0]
    args = command.split()[3:]  # after "python -m quizops.validation.store"
    proc = subprocess.run(
        [sys.executable, "-m", "quizops.validation.store", *args],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    baseline = open_store(store_uri, "gs://b/logs").previous("")
    assert baseline is not None and baseline.span == "unspanned"
    written = baseline.statistics.datasets[0].num_examples
    assert written == 50


def test_accept_baseline_bad_input(tmp_path):
    with pytest.raises(InputDataError):
        accept_baseline(str(tmp_path / "store"), "s", str(tmp_path / "missing.parquet"))
    proc = subprocess.run(
        [sys.executable, "-m", "quizops.validation.store", "accept-baseline", "--statistics-store",
         str(tmp_path / "s"), "--data", str(tmp_path / "missing.parquet")],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2 and "error:" in proc.stderr
