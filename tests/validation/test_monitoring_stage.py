"""The monitoring stage (validation environment: TFDV) on replayed decision logs: a clean span
stays within thresholds, an injected drift crosses them, live quality joins the answers."""

import pytest

from quizops.errors import InputDataError
from quizops.monitoring.replay import replay_decisions, write_decision_log
from quizops.monitoring.stage import MonitoringConfig, run_monitoring_stage
from quizops.validation import statistics as stats_lib
from quizops.validation.store import open_store
from tests.validation.conftest import canonical_frame


@pytest.fixture
def setup(tmp_path):
    table = canonical_frame(n_students=60, per_student=60, seed=3, n_items=40)
    table.to_parquet(tmp_path / "validated.parquet", index=False)
    store = open_store(str(tmp_path / "store"))
    store.write("2026-11-20", stats_lib.generate_statistics(table))
    return table, tmp_path


def decisions(setup, today_drift: bool) -> MonitoringConfig:
    table, folder = setup
    write_decision_log(replay_decisions(table, 2000, seed=1), folder / "decisions", "2026-11-23")
    write_decision_log(
        replay_decisions(table, 2000, seed=2, drift=today_drift), folder / "decisions", "2026-11-24"
    )
    return MonitoringConfig(
        decisions_uri=str(folder / "decisions"),
        statistics_store_uri=str(folder / "store"),
        outcomes_uri=str(folder / "validated.parquet"),
    )


def test_a_clean_span_stays_within_thresholds(setup, tmp_path):
    config = decisions(setup, today_drift=False)
    result = run_monitoring_stage(config=config, report_path=str(tmp_path / "r.md"))
    assert (result.span, result.previous_span, result.baseline_span) == (
        "2026-11-24", "2026-11-23", "2026-11-20")  # fmt: skip
    assert not result.crossed, result.reasons
    assert result.measures["drift:item_id:linf"]["value"] < 0.1
    assert result.measures["skew:item_id:linf"]["value"] < 0.1
    assert "within thresholds" in (tmp_path / "r.md").read_text()


def test_injected_drift_crosses_drift_and_skew(setup, tmp_path):
    config = decisions(setup, today_drift=True)
    result = run_monitoring_stage(
        config=config, report_path=str(tmp_path / "r.md"), action="retrain"
    )
    assert result.crossed
    kinds = {r.split(" of ")[0] for r in result.reasons}
    assert kinds == {"drift", "skew"}
    assert any("item_id (linf)" in r for r in result.reasons)
    assert any("propensity (js)" in r for r in result.reasons)
    report = (tmp_path / "r.md").read_text()
    assert "THRESHOLD CROSSED" in report and "on a crossed threshold: retrain" in report


def test_live_quality_joins_answers_by_pseudonym(setup, tmp_path):
    table, _ = setup
    config = decisions(setup, today_drift=False)
    result = run_monitoring_stage(config=config, report_path=str(tmp_path / "r.md"))
    assert result.metrics["quality_served_with_outcome_share"] > 0.3
    served = table[["student_id", "item_id", "correct"]]
    assert 0.3 < result.metrics["quality_served_correct_rate"] < 0.7  # random 0/1 answers
    assert set(served["correct"].unique()) <= {0, 1}


def test_a_correctness_floor_is_a_threshold(setup, tmp_path):
    config = decisions(setup, today_drift=False)
    strict = MonitoringConfig(**{**config.__dict__, "min_outcome_correct_rate": 0.95})
    result = run_monitoring_stage(config=strict, report_path=str(tmp_path / "r.md"))
    assert result.crossed and any("correctness" in r for r in result.reasons)


def test_too_few_decisions_is_a_note_not_an_alarm(setup, tmp_path):
    table, folder = setup
    write_decision_log(replay_decisions(table, 20, seed=1), folder / "few", "2026-11-24")
    config = MonitoringConfig(decisions_uri=str(folder / "few"))
    result = run_monitoring_stage(config=config, report_path=str(tmp_path / "r.md"))
    assert not result.crossed and "too few" in " ".join(result.notes)


def test_unknown_action_is_refused_before_anything_is_written(setup, tmp_path):
    config = decisions(setup, today_drift=False)
    with pytest.raises(InputDataError, match="on_threshold"):
        run_monitoring_stage(config=config, report_path=str(tmp_path / "r.md"), action="panic")
    assert not (tmp_path / "r.md").exists()
