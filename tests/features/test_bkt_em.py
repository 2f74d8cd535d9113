import numpy as np
import pytest

from quizops.errors import ModelFitError
from quizops.features import fit_bkt_em


def simulate_chain(rng, students, steps, p_init, guess, slip, teach):
    known = rng.random(students) < p_init
    tags = rng.integers(0, len(guess), (students, steps))
    obs = np.empty((students, steps), dtype=np.int8)
    for t in range(steps):
        k = tags[:, t]
        obs[:, t] = rng.random(students) < np.where(known, 1 - slip[k], guess[k])
        known |= rng.random(students) < teach[k]
    return obs, tags


def test_em_recovers_item_level_parameters_and_finds_an_assessment_only_item():
    rng = np.random.default_rng(1)
    guess = np.array([0.15, 0.25, 0.1, 0.3, 0.2])
    slip = np.array([0.1, 0.05, 0.15, 0.1, 0.08])
    teach = np.array([0.0, 0.05, 0.3, 0.15, 0.1])  # item 0 only assesses
    obs, tags = simulate_chain(rng, 6000, 16, 0.3, guess, slip, teach)
    fit = fit_bkt_em(obs, tags, 5)
    errors = np.r_[abs(fit.p_init - 0.3), abs(fit.guess - guess), abs(fit.slip - slip),
                   abs(fit.teach - teach)]  # fmt: skip
    assert errors.mean() <= 0.03
    assert fit.teach[0] < 0.03 and fit.teach[2] > 0.2


def test_padded_sequences_of_different_lengths_give_the_same_fit_as_one_block():
    rng = np.random.default_rng(2)
    g, s, t = np.array([0.2]), np.array([0.1]), np.array([0.1])
    obs, tags = simulate_chain(rng, 3000, 10, 0.4, g, s, t)
    padded = np.full((3000, 14), -1, dtype=np.int8)
    padded[:, :10] = obs
    a = fit_bkt_em(obs, tags, 1)
    b = fit_bkt_em(padded, np.zeros(padded.shape, dtype=np.int64), 1)
    assert a.guess[0] == pytest.approx(b.guess[0], abs=1e-9)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-9)


def test_answers_that_do_not_depend_on_knowledge_are_not_identifiable():
    rng = np.random.default_rng(3)
    coin = (rng.random((2000, 15)) < 0.6).astype(np.int8)
    with pytest.raises(ModelFitError, match="skill 'k9': not identifiable"):
        fit_bkt_em(coin, np.zeros(coin.shape, dtype=np.int64), 1, skill="k9")


def test_no_observations_is_an_error_naming_the_skill():
    with pytest.raises(ModelFitError, match="skill 'k1': no observations"):
        fit_bkt_em(np.full((3, 4), -1, dtype=np.int8), np.zeros((3, 4), dtype=np.int64), 1,
                   skill="k1")  # fmt: skip


def test_fitted_tracer_learns_the_first_prerequisite_of_the_hand_made_course():
    from quizops.features import fit_tracer
    from quizops.simulation import canonical_from_simulated, make_world, simulate_logs

    world = make_world(7)
    tracer = fit_tracer(canonical_from_simulated(simulate_logs(world, 50_000, seed=3)))
    index = {s: k for k, s in enumerate(tracer.skill_ids)}
    # 280 (subtraction) requires 277 (addition) in the hand-made course.
    assert index["277"] in tracer.prerequisites[index["280"]]
    assert tracer.gate[index["280"]] < 0.9
    for params in tracer.params:
        assert 0 < params.p_guess < 1 - params.p_slip


def test_e_step_equals_the_sum_over_every_hidden_path():
    """Smoothed P(known), learning events and log-likelihood against brute-force enumeration.

    Students of different lengths (pads at the tail), several tags, teaching that differs by
    position: every figure the E-step returns at an answer is checked against the sum over
    all 2^T paths of the hidden chain.
    """
    import itertools

    from quizops.features.bkt import _e_step

    rng = np.random.default_rng(7)
    students, steps = 6, 5
    lengths = np.array([5, 1, 3, 5, 2, 4])
    present = np.arange(steps)[None, :] < lengths[:, None]
    obs = np.where(present, rng.integers(0, 2, (students, steps)), -1).astype(np.int8)
    tags = np.where(present, rng.integers(0, 3, (students, steps)), 0)
    guess, slip = np.array([0.1, 0.3, 0.2]), np.array([0.05, 0.2, 0.1])
    teach = rng.uniform(0.0, 0.5, (students, steps))
    p_init = 0.35
    known, learned, loglik = _e_step(obs, tags, present, p_init, guess, slip, teach)
    total_ll = 0.0
    for s in range(students):
        n = lengths[s]
        weight_known = np.zeros(n)
        weight_learnt = np.zeros(n)
        evidence = 0.0
        for path in itertools.product([0, 1], repeat=n):
            w = p_init if path[0] else 1.0 - p_init
            for t in range(n):
                k, y = tags[s, t], obs[s, t]
                right = 1.0 - slip[k] if path[t] else guess[k]
                w *= right if y == 1 else 1.0 - right
                if t + 1 < n:  # no forgetting: a known skill stays known
                    if path[t] and not path[t + 1]:
                        w = 0.0
                    elif not path[t]:
                        w *= teach[s, t] if path[t + 1] else 1.0 - teach[s, t]
            evidence += w
            weight_known += w * np.array(path, dtype=float)
            for t in range(n - 1):
                weight_learnt[t] += w * (not path[t] and path[t + 1])
        total_ll += np.log(evidence)
        np.testing.assert_allclose(known[s, :n], weight_known / evidence, rtol=1e-10)
        np.testing.assert_allclose(learned[s, : n - 1], weight_learnt[:-1] / evidence, rtol=1e-9,
                                   atol=1e-14)  # fmt: skip
        assert learned[s, n - 1] == 0.0  # nothing follows the last answer
    assert loglik == pytest.approx(total_ll, rel=1e-12)
