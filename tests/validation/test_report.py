"""The validation report renders with no network access: inline tables and SVG per feature."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from quizops.validation import statistics as stats_lib
from quizops.validation.findings import Finding
from quizops.validation.report import render_html, render_statistics
from tests.validation.conftest import canonical_frame


@pytest.fixture(scope="module")
def frames():
    current = canonical_frame(n_students=20, per_student=10, seed=1)
    current.loc[current.index[:25], "response_time_ms"] = np.nan  # 25 of 200 missing
    baseline = canonical_frame(n_students=20, per_student=10, seed=2, response_scale=2.0)
    return current, baseline


@pytest.fixture(scope="module")
def stats(frames):
    current, baseline = frames
    return stats_lib.generate_statistics(current), stats_lib.generate_statistics(baseline)


def test_first_span_renders_offline_and_says_why_sections_are_empty(stats, frames):
    current, _ = frames
    page = render_html("Validation", stats[0], None, [], {})
    assert "<script" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*['"]?https?:""", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    assert page.count("<svg") == len(current.columns) - 3  # a plot per non-identifier feature
    assert "first span: no previous statistics" in page
    assert "drift and skew not measured" in page and "no findings" in page
    # missing share of response_time_ms computed independently: 25 of 200
    section = page.split("response_time_ms", 1)[1].split("</section>", 1)[0]
    assert f"{25:,} ({25 / 200:.1%})" in section
    # top values of a curriculum column shown, none of identifier or free-text columns
    assert "Skill 1" in page
    for name in ("student_id", "interaction_id", "answer_text"):
        part = page.split(f"<h3>{name} ", 1)[1].split("</section>", 1)[0]
        assert "no top values" in part
    assert "p0001" not in page


def test_baseline_drawn_and_findings_listed(stats):
    finding = Finding("drift", "response_time_ms", "error", "quantile JS 0.2 > 0.1", 12, 11)
    measures = {
        "drift:response_time_ms:js": {
            "kind": "drift", "feature": "response_time_ms", "type": "js", "value": 0.2,
            "threshold": 0.1,
        }
    }  # fmt: skip
    page = render_html("Validation", stats[0], stats[1], [finding], measures, "span 2026-11-22")
    assert "span 2026-11-22" in page and "red outline: baseline" in page
    assert "FIRES" in page and "quantile JS 0.2 &gt; 0.1" in page
    assert "<th>baseline</th>" in page and "first span" not in page
    assert "stroke='#d62728'" in page  # the baseline's outline is drawn


def test_facets_is_only_an_option(stats):
    assert "facets" not in render_html("v", stats[0], None, [], {}).lower()
    assert "facets-iframe" in render_html("v", stats[0], None, [], {}, facets=True)


def test_empty_statistics_say_why():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    assert "no statistics" in render_statistics(statistics_pb2.DatasetFeatureStatisticsList(), None)


@pytest.mark.service
def test_headless_chromium_renders_without_network(stats, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    page = tmp_path / "report.html"
    page.write_text(render_html("Validation", stats[0], stats[1], [], {}, "span 1"))
    shot = tmp_path / "report.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--proxy-server=127.0.0.1:9",
         "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # not a blank page


def test_drift_failure_says_how_to_accept_a_new_baseline():
    from quizops.validation.report import finding_lines

    drift = Finding("drift", "item_id", "error", "L-infinity 0.4 > 0.1")
    lines = finding_lines([drift])
    assert lines[-1].startswith("[hint] drift") and "accept-baseline" in lines[-1]
    assert "--source" in lines[-1] and "--data" in lines[-1]
    warning = Finding("drift", "item_id", "warning", "L-infinity 0.09")
    other = Finding("tfdv", "correct", "error", "out of domain")
    assert not any("hint" in line for line in finding_lines([warning, other]))
