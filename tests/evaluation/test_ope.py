"""Off-policy estimators against hand-derived values and an independent port of Open Bandit
Pipeline's formulas, and the student bootstrap."""

import numpy as np
import pytest

from quizops.errors import InputDataError
from quizops.evaluation.ope import (
    BanditLog,
    bootstrap_counts,
    estimate_with_intervals,
    estimates_from_sums,
    group_sums,
    overlap,
    paired_difference,
)

# --- an independent implementation: Open Bandit Pipeline's formulas -------------------------
# Ported from st-tech/zr-obp, obp/ope/estimators.py (Apache-2.0): InverseProbabilityWeighting
# (with lambda_ clipping), SelfNormalizedInverseProbabilityWeighting, DirectMethod, DoublyRobust
# and SwitchDoublyRobust, each as ``_estimate_round_rewards(...).mean()`` over an ``action_dist``
# of shape [n_rounds, n_actions, len_list] (len_list = 1 here). obp itself does not install
# beside scikit-learn 1.9.


def obp_ipw(reward, action, pscore, action_dist, lambda_=np.inf):
    iw = action_dist[np.arange(action.shape[0]), action, 0] / pscore
    iw = np.minimum(iw, lambda_)
    return (reward * iw).mean()


def obp_snipw(reward, action, pscore, action_dist):
    iw = action_dist[np.arange(action.shape[0]), action, 0] / pscore
    return (reward * iw / iw.mean()).mean()


def obp_dm(action_dist, estimated_rewards_by_reg_model):
    n = action_dist.shape[0]
    q_hat = estimated_rewards_by_reg_model[np.arange(n), :, 0]
    pi_e = action_dist[np.arange(n), :, 0]
    return np.average(q_hat, weights=pi_e, axis=1).mean()


def obp_dr(reward, action, pscore, action_dist, estimated_rewards_by_reg_model, lambda_=np.inf):
    n = action.shape[0]
    iw = np.minimum(action_dist[np.arange(n), action, 0] / pscore, lambda_)
    q_hat = estimated_rewards_by_reg_model[np.arange(n), :, 0]
    q_fact = estimated_rewards_by_reg_model[np.arange(n), action, 0]
    pi_e = action_dist[np.arange(n), :, 0]
    rounds = np.average(q_hat, weights=pi_e, axis=1) + iw * (reward - q_fact)
    return rounds.mean()


def obp_switch_dr(reward, action, pscore, action_dist, estimated_rewards_by_reg_model, lambda_):
    n = action.shape[0]
    iw = action_dist[np.arange(n), action, 0] / pscore
    switch = np.array(iw <= lambda_, dtype=int)
    q_hat = estimated_rewards_by_reg_model[np.arange(n), :, 0]
    q_fact = estimated_rewards_by_reg_model[np.arange(n), action, 0]
    pi_e = action_dist[np.arange(n), :, 0]
    rounds = np.average(q_hat, weights=pi_e, axis=1) + switch * iw * (reward - q_fact)
    return rounds.mean()


def synthetic(n=4000, actions=6, seed=0):
    """A logged bandit problem with known logging and target distributions."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    logits_b = np.outer(x, np.linspace(-1, 1, actions))
    pi_b = np.exp(logits_b) / np.exp(logits_b).sum(axis=1, keepdims=True)
    logits_e = np.outer(-x, np.linspace(-2, 2, actions))
    pi_e = np.exp(logits_e) / np.exp(logits_e).sum(axis=1, keepdims=True)
    action = (pi_b.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    true_q = 1 / (1 + np.exp(-(x[:, None] * np.linspace(1, -1, actions))))
    reward = (rng.random(n) < true_q[np.arange(n), action]).astype(float)
    q_hat = np.clip(true_q + rng.normal(0, 0.05, true_q.shape), 0, 1)
    group = np.repeat(np.arange(n // 10), 10)
    return x, pi_b, pi_e, action, reward, q_hat, group, true_q


def as_log(pi_b, pi_e, action, reward, q_hat, group):
    rows = np.arange(len(action))
    return BanditLog(
        group=group,
        reward=reward,
        propensity=pi_b[rows, action],
        target=pi_e[rows, action],
        q_logged=q_hat[rows, action],
        q_target=(pi_e * q_hat).sum(axis=1),
    )


def test_hand_derived_case():
    # Three decisions of two students. Weights w = target / propensity = 2, 0.5, 4.
    log = BanditLog(
        group=np.array([0, 0, 1]),
        reward=np.array([1.0, 0.0, 1.0]),
        propensity=np.array([0.25, 0.5, 0.125]),
        target=np.array([0.5, 0.25, 0.5]),
        q_logged=np.array([0.5, 0.5, 0.25]),
        q_target=np.array([0.75, 0.5, 0.5]),
    )
    got = estimates_from_sums(group_sums(log, clip=3.0).sum(axis=0))
    assert got["logged"] == pytest.approx(2 / 3)
    # IPS = (2*1 + 0.5*0 + 4*1) / 3 = 2
    assert got["ips"] == pytest.approx(2.0)
    # SNIPS = 6 / (2 + 0.5 + 4) = 6 / 6.5
    assert got["snips"] == pytest.approx(6 / 6.5)
    # clipped at 3: (2 + 0 + 3) / 3
    assert got["clipped_ips"] == pytest.approx(5 / 3)
    # DM = (0.75 + 0.5 + 0.5) / 3
    assert got["dm"] == pytest.approx(1.75 / 3)
    # DR = DM + mean(w (r - q)) = (1.75 + 2*0.5 + 0.5*(-0.5) + 4*0.75) / 3 = 5.5 / 3
    assert got["dr"] == pytest.approx(5.5 / 3)
    # switch-DR drops the correction of the decision with w = 4 > 3: (1.75 + 1 - 0.25) / 3
    assert got["switch_dr"] == pytest.approx(2.5 / 3)
    # Kish effective sample: 6.5^2 / (4 + 0.25 + 16)
    assert overlap(log.weights).effective_sample == pytest.approx(6.5**2 / 20.25)
    assert overlap(log.weights).max_weight == 4.0


def test_estimators_agree_with_open_bandit_pipeline_formulas():
    _x, pi_b, pi_e, action, reward, q_hat, group, _ = synthetic()
    log = as_log(pi_b, pi_e, action, reward, q_hat, group)
    clip = 5.0
    ours = estimate_with_intervals(log, clip=clip, resamples=20, seed=1).intervals
    dist = pi_e[:, :, None]
    q3 = q_hat[:, :, None]
    pscore = pi_b[np.arange(len(action)), action]
    reference = {
        "ips": obp_ipw(reward, action, pscore, dist),
        "clipped_ips": obp_ipw(reward, action, pscore, dist, lambda_=clip),
        "snips": obp_snipw(reward, action, pscore, dist),
        "dm": obp_dm(dist, q3),
        "dr": obp_dr(reward, action, pscore, dist, q3),
        "switch_dr": obp_switch_dr(reward, action, pscore, dist, q3, lambda_=clip),
    }
    for name, value in reference.items():
        assert ours[name].estimate == pytest.approx(value, rel=0.01), name
    # The clipping and the switch must matter on this problem, or the test proves little.
    assert reference["clipped_ips"] != pytest.approx(reference["ips"], rel=0.01)
    assert reference["switch_dr"] != pytest.approx(reference["dr"], rel=0.01)


def test_estimators_recover_the_true_value_of_the_target_policy():
    _x, pi_b, pi_e, action, reward, q_hat, group, true_q = synthetic(n=40_000, seed=3)
    truth = float((pi_e * true_q).sum(axis=1).mean())
    result = estimate_with_intervals(
        as_log(pi_b, pi_e, action, reward, q_hat, group), clip=1e9, resamples=200, seed=0
    )
    for name in ("ips", "snips", "dr"):
        interval = result.intervals[name]
        assert interval.low <= truth <= interval.high, name
    # The logging policy's own value is a different number (the target differs).
    assert abs(result.intervals["logged"].estimate - truth) > 0.05


def test_snips_of_the_logging_policy_is_the_logged_mean_reward():
    # Target = logging policy: every weight is 1, so SNIPS and IPS equal the mean reward exactly.
    _x, pi_b, _, action, reward, q_hat, group, _ = synthetic(seed=5)
    log = as_log(pi_b, pi_b, action, reward, q_hat, group)
    got = estimate_with_intervals(log, clip=10.0, resamples=50, seed=0).intervals
    assert got["snips"].estimate == pytest.approx(reward.mean(), rel=1e-12)
    assert got["ips"].estimate == pytest.approx(reward.mean(), rel=1e-12)


def test_bootstrap_resamples_students_and_matches_a_loop():
    counts = bootstrap_counts(groups=7, resamples=5, seed=3, max_cells=14)
    stacked = np.concatenate(counts)
    assert stacked.shape == (5, 7)
    assert np.all(stacked.sum(axis=1) == 7)  # each resample draws as many students as exist
    # The vectorised estimate of a resample equals a loop over the drawn students' decisions.
    _x, pi_b, pi_e, action, reward, q_hat, group, _ = synthetic(n=70, seed=2)
    group = np.repeat(np.arange(7), 10)
    log = as_log(pi_b, pi_e, action, reward, q_hat, group)
    result = estimate_with_intervals(log, clip=3.0, counts=counts)
    for b in range(5):
        rows = np.concatenate(
            [np.flatnonzero(group == g) for g in range(7) for _ in range(int(stacked[b, g]))]
        )
        w = log.weights[rows]
        expected_snips = (w * reward[rows]).sum() / w.sum()
        assert result.resamples["snips"][b] == pytest.approx(expected_snips)
        assert result.resamples["ips"][b] == pytest.approx((w * reward[rows]).mean())


def test_paired_difference_of_a_policy_with_itself_is_zero():
    _x, pi_b, pi_e, action, reward, q_hat, group, _ = synthetic(seed=4)
    log = as_log(pi_b, pi_e, action, reward, q_hat, group)
    counts = bootstrap_counts(log.groups, 100, seed=0)
    a = estimate_with_intervals(log, clip=5.0, counts=counts)
    b = estimate_with_intervals(log, clip=5.0, counts=counts)
    diff = paired_difference(a, b, "dr")
    assert (diff.estimate, diff.low, diff.high) == (0.0, 0.0, 0.0)
    other = estimate_with_intervals(
        as_log(pi_b, pi_b, action, reward, q_hat, group), clip=5.0, counts=counts
    )
    paired = paired_difference(a, other, "dr")
    # Pairing removes the shared student noise: narrower than the two intervals combined.
    width_a = a.intervals["dr"].high - a.intervals["dr"].low
    assert paired.high - paired.low < width_a + (
        other.intervals["dr"].high - other.intervals["dr"].low
    )


def test_bad_logs_are_refused_without_values_in_the_message():
    with pytest.raises(InputDataError, match="propensity") as error:
        BanditLog(
            group=np.array([0]),
            reward=np.array([1.0]),
            propensity=np.array([0.0]),
            target=np.array([0.5]),
            q_logged=np.array([0.1]),
            q_target=np.array([0.1]),
        )
    assert "0.5" not in str(error.value)
    with pytest.raises(InputDataError, match="target"):
        BanditLog(
            group=np.array([0, 1]),
            reward=np.array([1.0, 0.0]),
            propensity=np.array([0.2, 0.3]),
            target=np.array([np.nan, 0.5]),
            q_logged=np.array([0.1, 0.1]),
            q_target=np.array([0.1, 0.1]),
        )
