"""The gate's item-share figure: measured again on more simulated students near the limit."""

import numpy as np
import pytest

from quizops.evaluation import GateConfig
from quizops.evaluation.simulation_eval import CHALLENGER
from tests.evaluation.simlogs import to_canonical


@pytest.fixture(scope="module")
def setup(world):
    from quizops.features import engineer_features
    from quizops.policy import PlanningModel, QuizPolicy
    from quizops.simulation import simulate_logs

    table = to_canonical(simulate_logs(world, 8_000, seed=11)).drop(columns=["propensity"])
    features = engineer_features(table)
    policy = QuizPolicy(features.tracer, features.items, PlanningModel(0.0, 0.9, 0.2, 1.0),
                        temperature=0.02, epsilon=0.02)  # fmt: skip
    return features.interactions, policy


def test_a_share_near_the_limit_is_measured_again_on_more_students(setup):
    from quizops.evaluation.stage import _simulate
    from quizops.simulation import fit_simulators, simulate

    interactions, policy = setup
    base = GateConfig(students=60, steps=15, bootstrap_resamples=20, exposure_students=60)
    first = {r.family: r for r in _simulate(policy, None, interactions, base)}
    assert all(r.exposure_students == 0 for r in first.values())  # not more than students
    family = "bkt"
    share = first[family].challenger_max_item_share
    near = GateConfig(students=60, steps=15, bootstrap_resamples=20, exposure_students=600,
                      max_item_share=share + 0.01)  # fmt: skip
    again = {r.family: r for r in _simulate(policy, None, interactions, near)}
    # An independent run of the challenger alone on 600 students of the same world and seed.
    world = fit_simulators(interactions, seed=near.split_seed)[family]
    run = simulate(policy.as_chooser(), world, students=600, steps=15, seed=near.seed)
    chosen = np.asarray(run.chosen).ravel()
    expected = np.bincount(chosen, minlength=len(world.item_ids)) / len(chosen)
    assert again[family].exposure_students == 600
    np.testing.assert_allclose(again[family].runs[CHALLENGER].item_share, expected)
    assert again[family].challenger_max_item_share != pytest.approx(share)
    # Everything else is the first simulation's, to the last digit.
    assert again[family].runs[CHALLENGER].mastered == first[family].runs[CHALLENGER].mastered
    # Far from the limit, the first figure stands.
    far = GateConfig(students=60, steps=15, bootstrap_resamples=20, exposure_students=600,
                     max_item_share=min(1.0, share + 0.2))  # fmt: skip
    kept = {r.family: r for r in _simulate(policy, None, interactions, far)}
    assert kept[family].exposure_students == 0
    np.testing.assert_array_equal(
        kept[family].runs[CHALLENGER].item_share, first[family].runs[CHALLENGER].item_share
    )
