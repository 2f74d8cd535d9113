"""The behaviour model's calibration figures on hand-derived cases."""

import numpy as np
import pytest

from quizops.evaluation.behaviour import expected_calibration_error, reliability


def test_reliability_table_by_hand():
    probabilities = np.array([[0.05, 0.95], [0.85, 0.15]])
    labels = np.array([1, 0])
    # Every class probability in its own tenth: 0.05, 0.15, 0.85, 0.95; hits 0, 0, 1, 1.
    assert reliability(probabilities, labels) == (
        (0.05, 0.0, 1),
        (0.15, 0.0, 1),
        (0.85, 1.0, 1),
        (0.95, 1.0, 1),
    )
    # ECE is the count-weighted mean gap of the same bins: (0.05 + 0.15 + 0.15 + 0.05) / 4.
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.1)


def test_reliability_pools_a_bin():
    probabilities = np.array([[0.3, 0.7], [0.35, 0.65], [0.62, 0.38]])
    labels = np.array([1, 0, 0])
    table = reliability(probabilities, labels)
    # 0.3 and 0.35 share a bin (one hit: 0.35's row is class 0), 0.38 the same bin too.
    low = next(row for row in table if row[0] < 0.5)
    assert low[2] == 3
    assert low[0] == pytest.approx((0.3 + 0.35 + 0.38) / 3)
    assert low[1] == pytest.approx(1 / 3)
    assert sum(row[2] for row in table) == probabilities.size


def test_a_log_of_one_skill_needs_no_classifier():
    # Every item in one group: P(group | x) = 1, and the propensity is the item's smoothed
    # share of the decisions, (count + 0.5) / (decisions + 0.5 * items).
    from quizops.evaluation.behaviour import fit_behaviour_model

    rng = np.random.default_rng(0)
    context = rng.normal(size=(400, 3))
    action = rng.integers(0, 5, 400)
    student = np.repeat(np.arange(40), 10)
    model, calibration = fit_behaviour_model(
        context, action, np.zeros(5, dtype=np.int64), student, floor=0.0
    )
    assert calibration.rounds == 0 and calibration.temperature == 1.0
    share = (np.bincount(action, minlength=5) + 0.5) / (400 + 2.5)
    assert model.propensity(context[:20], action[:20]) == pytest.approx(share[action[:20]])
    assert model.distribution(context[:3]).sum(axis=1) == pytest.approx(np.ones(3))


def test_an_epsilon_greedy_tutor_is_modelled_and_its_exploration_needs_no_extra_share():
    # A tutor that picks the skill its rule names (one of 4, from the context) with
    # probability 0.8 and any of the 12 items uniformly otherwise: the classifier of the skill
    # learns the exploration mass itself (P(rule's skill) = 0.85, each other 0.05), so the
    # fitted uniform share stays at the floor's order and the propensities match the truth
    # on and off the rule (the share corrects a classifier that underestimates rare choices;
    # it must not distort one that does not).
    from quizops.evaluation.behaviour import fit_behaviour_model

    rng = np.random.default_rng(1)
    n, epsilon = 12_000, 0.2
    rule = rng.integers(0, 4, n)
    context = np.column_stack([rule, rng.normal(size=n)]).astype(float)
    item_group = np.repeat(np.arange(4), 3)
    on_rule = rule * 3 + rng.integers(0, 3, n)
    action = np.where(rng.random(n) < epsilon, rng.integers(0, 12, n), on_rule)
    student = np.repeat(np.arange(n // 20), 20)
    model, calibration = fit_behaviour_model(context, action, item_group, student, seed=0)
    assert 1e-3 <= calibration.exploration_share < 0.03
    off = np.flatnonzero(item_group[action] != rule)
    assert np.median(model.propensity(context[off], action[off])) == pytest.approx(
        epsilon / 12, rel=0.15
    )
    on = np.flatnonzero(item_group[action] == rule)
    true_on = (1 - epsilon) / 3 + epsilon / 12
    assert np.median(model.propensity(context[on], action[on])) == pytest.approx(true_on, rel=0.1)
