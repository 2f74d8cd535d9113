"""The ``ibkt`` family: students who learn at different speeds, fitted and predicted."""

import numpy as np
import pandas as pd
import pytest

from quizops.features import fit_tracer
from quizops.simulation import RandomChooser, canonical_from_simulated, simulate, simulate_logs
from quizops.simulation.fitted import FittedBKTWorld
from quizops.simulation.ibkt import (
    SPEED_GRID,
    FittedSpeedBKTWorld,
    fit_speed_weights,
    mixture_predictions,
    speed_predictions,
)


@pytest.fixture(scope="module")
def tracer(world):
    # Without learned prerequisites: these tests are about the speed mixture, and a world whose
    # fitted gates are low (most answers of a skill teach nothing until its prerequisites are
    # known, whatever the student's speed) says less about each student's speed.
    logs = canonical_from_simulated(simulate_logs(world, 20_000, seed=4, pii_rate=0.0))
    return fit_tracer(logs, learn_prerequisites=False)


def _logs_of(world, students, steps, seed):
    """Random-item answers of ``world``'s students as canonical rows (one row per tag)."""
    rng = np.random.default_rng(seed)
    state = world.new_students(students, rng)
    arrays = world.tracer.arrays
    rows = []
    for t in range(steps):
        items = rng.integers(0, len(world.item_ids), students)
        correct = world.respond(state, items, rng.random(students),
                                rng.random((students, world.n_skills)))  # fmt: skip
        for s in range(students):
            for k in arrays.skill[items[s]]:
                if k >= 0:
                    rows.append((f"u{s}", world.item_ids[items[s]],
                                 world.tracer.skill_ids[k], int(correct[s]), t))  # fmt: skip
    return pd.DataFrame(rows, columns=["student_id", "item_id", "skill_id", "correct",
                                       "timestamp"])  # fmt: skip


def _fitted_weights(tracer, weights, students=2000, train=1500):
    world = FittedSpeedBKTWorld(tracer, speeds=SPEED_GRID.copy(), weights=weights)
    logs = _logs_of(world, students, 30, seed=1)
    number = logs["student_id"].str[1:].astype(int)
    fitted = fit_speed_weights(*speed_predictions(tracer, logs[number < train]))
    return fitted, logs[number >= train]


def test_two_speed_groups_are_recovered_and_predicted_better_than_one_speed(tracer):
    # Students at 0.38x and 2.63x the fitted teaching rates, half and half; 30 random items
    # each (about 4 answers per skill), so each student's speed is only weakly identified.
    two = np.zeros(len(SPEED_GRID))
    two[[2, 8]] = 0.5
    fitted, test = _fitted_weights(tracer, two)
    assert fitted.sum() == pytest.approx(1.0)
    near_one = (SPEED_GRID > 0.6) & (SPEED_GRID < 1.6)
    assert fitted[SPEED_GRID < 0.6].sum() > 0.35 and fitted[SPEED_GRID > 1.6].sum() > 0.35
    assert fitted[near_one].sum() < 0.2
    y, p, students = speed_predictions(tracer, test)
    one = p[list(SPEED_GRID).index(1.0)]
    mixed = mixture_predictions(y, p, students, fitted)

    def loglik(q):
        return np.mean(np.where(y > 0, np.log(q), np.log(1 - q)))

    assert loglik(mixed) > loglik(one) + 0.003
    # Students who all learn at the fitted rate: the weight stays near 1x.
    one_speed = np.zeros(len(SPEED_GRID))
    one_speed[list(SPEED_GRID).index(1.0)] = 1.0
    fitted, _ = _fitted_weights(tracer, one_speed)
    assert fitted[near_one].sum() > 0.6


def test_mixture_prediction_is_the_posterior_over_speeds_given_earlier_answers():
    rng = np.random.default_rng(3)
    n_speeds, n = 4, 9
    p = rng.uniform(0.1, 0.9, (n_speeds, n))
    y = rng.integers(0, 2, n)
    students = np.array(["a"] * 4 + ["b"] * 5)
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    got = mixture_predictions(y, p, students, weights)
    for i in range(n):
        start = 0 if i < 4 else 4
        post = weights.copy()
        for j in range(start, i):  # earlier answers of the same student only
            post = post * np.where(y[j] == 1, p[:, j], 1 - p[:, j])
        post = post / post.sum()
        assert got[i] == pytest.approx(float(post @ p[:, i]), rel=1e-9)


def test_all_weight_at_speed_one_is_the_bkt_world(tracer):
    one = np.zeros(len(SPEED_GRID))
    one[list(SPEED_GRID).index(1.0)] = 1.0
    nested = FittedSpeedBKTWorld(tracer, speeds=SPEED_GRID.copy(), weights=one)
    chooser = RandomChooser(tracer)
    a = simulate(chooser, nested, students=300, steps=20, seed=2)
    b = simulate(chooser, FittedBKTWorld(tracer), students=300, steps=20, seed=2)
    np.testing.assert_array_equal(a.final_mastered, b.final_mastered)
    fast = np.zeros(len(SPEED_GRID))
    fast[-1] = 1.0
    quick = FittedSpeedBKTWorld(tracer, speeds=SPEED_GRID.copy(), weights=fast)
    c = simulate(chooser, quick, students=300, steps=20, seed=2)
    assert c.final_mastered.mean() > a.final_mastered.mean() + 0.5
