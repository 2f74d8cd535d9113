import numpy as np
import pytest

from quizops.errors import InputDataError
from quizops.features import fit_tracer
from quizops.simulation import (
    OracleChooser,
    RandomChooser,
    canonical_from_simulated,
    fit_simulators,
    simulate,
    simulate_logs,
)
from quizops.simulation.course_b import make_course_b, simulate_course_b_logs


@pytest.fixture(scope="module")
def course_b_log():
    return simulate_course_b_logs(make_course_b(11), 20_000, seed=3)


def test_course_b_logs_look_like_a_real_export(course_b_log):
    assert "propensity" not in course_b_log.columns
    per_answer = course_b_log.groupby("order_id")["skill_id"].nunique()
    assert (per_answer == 2).any() and (per_answer == 1).any()  # two-skill answers, two rows
    assert course_b_log["user_id"].str.isdigit().all()


def test_course_b_differs_from_the_hand_made_course(world):
    course = make_course_b(11)
    assert (course.rate == 0).mean() > 0.2  # assessment-only items
    assert set(course.item_ids).isdisjoint(world.item_ids)
    assert course.prerequisites != world.prerequisites


def test_fitted_simulators_validate_and_beat_plain_bkt(course_b_log):
    log = canonical_from_simulated(course_b_log)
    simulators = fit_simulators(log, seed=0)
    assert set(simulators) == {"bkt", "pfa"}
    bkt = simulators["bkt"].validation
    # Item-level parameters and two-skill updates fit held-out students better than plain BKT.
    assert bkt["heldout_loglik"] > bkt["plain_bkt_loglik"]
    assert bkt["heldout_auc"] > bkt["plain_bkt_auc"] > 0.6
    assert np.isfinite(simulators["pfa"].validation["heldout_loglik"])
    tracer = fit_tracer(log)
    for world in simulators.values():
        oracle = simulate(OracleChooser(), world, students=300, steps=20, seed=1)
        random = simulate(RandomChooser(tracer), world, students=300, steps=20, seed=1)
        assert oracle.final_mastered.mean() > random.final_mastered.mean()


def test_too_few_students_to_hold_out_is_an_input_error(world):
    tiny = canonical_from_simulated(simulate_logs(world, 100, seed=0, pii_rate=0.0))
    with pytest.raises(InputDataError, match="too few to hold some out"):
        fit_simulators(tiny.iloc[:50], seed=0)
