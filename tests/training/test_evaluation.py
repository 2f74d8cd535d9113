import numpy as np

from quizops.evaluation import GateConfig, evaluate_challenger, render_report, snips
from quizops.policy import TrainingConfig, train_policy


def test_gate_blesses_a_learned_policy_and_rejects_a_useless_one(feature_set):
    config = GateConfig(students=100, steps=20)
    good = train_policy(feature_set)
    result = evaluate_challenger(good, feature_set, None, config)
    assert result.blessed
    assert result.metrics["sim_lift_over_random"] >= config.min_lift
    assert result.metrics["sim_challenger_mastery"] > result.metrics["sim_logging_policy_mastery"]
    # A policy with infinite temperature is uniform: no lift over random, so not blessed.
    useless = train_policy(feature_set, TrainingConfig(temperature=1e9))
    verdict = evaluate_challenger(useless, feature_set, None, config)
    assert not verdict.blessed
    assert verdict.reasons[0].startswith("FAIL")
    assert "BLESSED" in render_report(result, "1")


def test_snips_of_the_logging_policy_matches_the_logged_reward(feature_set):
    policy = train_policy(feature_set)
    estimate = snips(policy, feature_set, sample=4000)
    assert set(estimate) == {
        "ope_logged_reward",
        "ope_ips",
        "ope_snips",
        "ope_effective_sample",
    }
    uniform = train_policy(feature_set, TrainingConfig(temperature=1e9))
    # A uniform target re-weights towards off-curriculum items; SNIPS stays a weighted mean.
    flat = snips(uniform, feature_set, sample=4000)
    rewards = feature_set.examples["reward"]
    assert rewards.min() <= flat["ope_snips"] <= rewards.max()
    assert np.isfinite(flat["ope_effective_sample"]) and flat["ope_effective_sample"] > 100


def test_courses_outside_the_simulator_gate_on_ope(feature_set):
    policy = train_policy(feature_set)
    result = evaluate_challenger(policy, feature_set, None, GateConfig(world_seed=99))
    assert not result.curves
    assert "simulation skipped" in result.reasons[0]
    assert result.blessed == (result.metrics["ope_snips"] >= result.metrics["ope_logged_reward"])
