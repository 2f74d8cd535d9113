import numpy as np
import pytest

from quizops.errors import InputDataError, ModelNotFoundError
from quizops.policy import QuizPolicy, TrainingConfig, train_policy
from quizops.simulation import random_chooser, rollout


@pytest.fixture(scope="module")
def policy(feature_set):
    return train_policy(feature_set, TrainingConfig(seed=0))


def test_probabilities_are_distributions_with_exploration_floor(policy, feature_set):
    states = feature_set.examples[[f"m_{k}" for k in range(policy.tracer.n_skills)]].to_numpy()[:7]
    probs = policy.probabilities(states, np.arange(len(policy.items)))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert probs.min() >= policy.epsilon / len(policy.items) - 1e-12


def test_choose_respects_candidates_and_reports_propensity(policy):
    candidates = policy.item_bank[:3]
    item, propensity = policy.choose([], candidates, np.random.default_rng(0))
    assert item in candidates
    assert 0 < propensity <= 1
    with pytest.raises(InputDataError, match="unknown item_id 'zzz'"):
        policy.choose([], ["zzz"])
    with pytest.raises(InputDataError, match="empty"):
        policy.choose([], [])


def test_save_load_round_trip(policy, tmp_path):
    policy.version = "3"
    policy.save(tmp_path / "p")
    loaded = QuizPolicy.load(tmp_path / "p")
    assert loaded.version == "3"
    assert loaded.item_bank == policy.item_bank
    a = loaded.choose([], None, np.random.default_rng(1))
    b = policy.choose([], None, np.random.default_rng(1))
    assert a == b
    with pytest.raises(ModelNotFoundError):
        QuizPolicy.load(tmp_path)


def test_learned_policy_beats_random_in_simulation(policy, world):
    rng = np.random.default_rng(0)
    learned = rollout(world, lambda h: policy.choose_many(h, rng=rng)[0], 200, 30, seed=11)
    baseline = rollout(world, random_chooser(world, 0), 200, 30, seed=11)
    assert learned.mean_mastery > baseline.mean_mastery + 0.08


def test_too_few_examples_is_an_input_error(feature_set):
    tiny = type(feature_set)(feature_set.tracer, feature_set.items, feature_set.examples[:50])
    with pytest.raises(InputDataError, match="50 examples"):
        train_policy(tiny)


def test_training_does_not_depend_on_pseudonyms_row_order(canonical_log, feature_set):
    import hashlib

    from quizops.features import engineer_features

    relabeled = canonical_log.assign(
        student_id=canonical_log["student_id"].map(
            lambda s: hashlib.sha256(f"other-key{s}".encode()).hexdigest()
        )
    )
    first = train_policy(feature_set)
    second = train_policy(engineer_features(relabeled))
    states = np.random.default_rng(0).random((5, first.tracer.n_skills))
    bank = np.arange(len(first.items))
    np.testing.assert_allclose(
        first.probabilities(states, bank), second.probabilities(states, bank)
    )
