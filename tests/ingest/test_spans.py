import json

import pytest

from quizops.errors import InputDataError
from quizops.ingest import ingest, read_source
from quizops.ingest.spans import list_spans, select_span
from tests.ingest.conftest import write_csv


@pytest.fixture
def spans_root(tmp_path, assistments_frame):
    root = tmp_path / "logs"
    write_csv(assistments_frame.iloc[:3], root / "date=2026-11-21" / "a.csv")
    write_csv(assistments_frame.iloc[3:6], root / "date=2026-11-23" / "a.csv")
    write_csv(assistments_frame.iloc[6:], root / "date=2026-11-22" / "a.csv")
    write_csv(assistments_frame, root / "_quizops_raw" / "date=2026-11-24" / "x.csv")
    return root


def test_spans_are_listed_sorted_and_hidden_folders_ignored(spans_root):
    assert list(list_spans(str(spans_root))) == ["2026-11-21", "2026-11-22", "2026-11-23"]


@pytest.mark.parametrize("span", ["2026-11-23", "date=2026-11-23"])
def test_span_and_previous(spans_root, span):
    selection = select_span(str(spans_root), span)
    assert selection.span == "2026-11-23"
    assert selection.previous_span == "2026-11-22"
    assert selection.uri.endswith("date=2026-11-23")


def test_first_span_has_no_previous(spans_root):
    assert select_span(str(spans_root), "2026-11-21").previous_span == ""


def test_span_reads_only_its_folder(spans_root, tmp_path):
    result = read_source(str(spans_root), "assistments", "2026-11-22")
    assert set(result.frame["timestamp"]) == {107, 108, 101}
    manifest = tmp_path / "m.json"
    ingest(str(spans_root), "assistments", "2026-11-22", str(tmp_path / "raw"), manifest)
    content = json.loads(manifest.read_text())
    assert (content["span"], content["previous_span"]) == ("2026-11-22", "2026-11-21")
    assert "span=2026-11-22" in content["table_uri"]


def test_whole_source_reads_every_span_but_not_hidden(spans_root):
    result = read_source(str(spans_root), "assistments", "")
    assert result.counts["files"] == 3


def test_unknown_span_lists_the_available_ones(spans_root):
    with pytest.raises(InputDataError, match=r"no span '2026-12-01'.*2026-11-21"):
        select_span(str(spans_root), "2026-12-01")


def test_span_of_a_single_file_is_refused(spans_root):
    with pytest.raises(InputDataError, match="single file has no spans"):
        select_span(str(spans_root / "date=2026-11-21" / "a.csv"), "2026-11-21")
