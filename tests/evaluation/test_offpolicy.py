"""Off-policy evaluation on the simulator's logs, whose true propensities are known."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from quizops.errors import InputDataError
from quizops.evaluation.decisions import build_decision_log, held_out_students
from quizops.evaluation.offpolicy import evaluate_off_policy, histories_before, uniform_target
from tests.conftest import SMALL_SEARCH


def logging_policy_distribution(world, epsilon=0.3, streak=3):
    """The simulator's logging policy written out independently: from the history, the first
    skill (course order) without ``streak`` correct answers in a row; uniform over its items
    with probability 1 - epsilon, over all items with probability epsilon."""
    skill_of = {item: int(world.item_skill[i]) for i, item in enumerate(world.item_ids)}

    def distribution(histories, items):
        col_skill = np.array([skill_of[i] for i in items])
        per_skill = np.bincount(col_skill, minlength=world.n_skills)
        out = np.empty((len(histories), len(items)))
        for row, history in enumerate(histories):
            runs = np.zeros(world.n_skills, dtype=int)
            for item, correct in history:
                s = skill_of[item]
                runs[s] = runs[s] + 1 if correct else 0
            open_skills = np.flatnonzero(runs < streak)
            if len(open_skills):
                focus = np.zeros(world.n_skills)
                focus[open_skills[0]] = 1.0
            else:
                focus = np.full(world.n_skills, 1.0 / world.n_skills)
            out[row] = (
                epsilon / len(items) + (1 - epsilon) * focus[col_skill] / per_skill[col_skill]
            )
        return out

    return distribution


def last_skill_first(world):
    """A target far from the logging policy: the last skills of the course, mostly."""
    skill_of = np.array([int(world.item_skill[world.item_ids.index(i)]) for i in world.item_ids])

    def distribution(histories, items):
        skills = np.array([skill_of[world.item_ids.index(i)] for i in items])
        weights = np.exp(0.4 * skills)
        return np.tile(weights / weights.sum(), (len(histories), 1))

    return distribution


@pytest.fixture(scope="module")
def log(sim_table):
    return build_decision_log(sim_table, holdout_fraction=0.3, split_seed=0)


@pytest.fixture(scope="module")
def report(log, world, sim_table):
    from quizops.evaluation.stage import policy_distribution
    from quizops.features import engineer_features
    from quizops.policy import TrainingConfig, train_policy

    # A learned policy, whichever setting the search keeps: the small grid (tests/conftest.py).
    features = engineer_features(sim_table.drop(columns=["propensity"]))
    learned = train_policy(features, TrainingConfig(**SMALL_SEARCH))
    with threadpool_limits(1):  # many small model calls; threads cost more than they give
        return evaluate_off_policy(
            log,
            {
                "logging": logging_policy_distribution(world),
                "uniform": uniform_target,
                "last_skill_first": last_skill_first(world),
                "learned": policy_distribution(learned),
            },
            clip=20.0,
            resamples=200,
            seed=0,
        )


def test_histories_are_the_answers_before_each_decision(log):
    frame = log.frame
    rows = np.flatnonzero(frame["position"].to_numpy() == 3)[:5]
    for row, history in zip(rows, histories_before(log, rows), strict=True):
        assert len(history) == 3
        earlier = frame.iloc[row - 3 : row]
        assert (earlier["student_id"] == frame.loc[row, "student_id"]).all()
        assert history == list(zip(earlier["item_id"], earlier["correct"].astype(int), strict=True))


def test_snips_of_the_logging_policy_equals_the_logged_mean_reward(report, log):
    # The logging policy written out independently reproduces the logged propensities, so its
    # importance weights are 1 and SNIPS is the mean reward of the held-out decisions, which
    # is computed here straight from the table.
    frame = log.frame
    held = frame[frame["held_out"] & frame["reward"].notna()]
    mean_reward = held["reward"].mean()
    result = report.results["logging"].intervals
    assert result["logged"].estimate == pytest.approx(mean_reward, abs=1e-12)
    assert result["snips"].estimate == pytest.approx(mean_reward, abs=2e-3)
    assert report.overlap["logging"].effective_share > 0.99
    # A different target gives a different number: the check can fail.
    assert report.results["last_skill_first"].intervals["snips"].estimate != pytest.approx(
        mean_reward, abs=2e-3
    )
    # Logged propensities were used, and the behaviour model was checked against them.
    assert report.propensity_source == "logged"
    assert report.propensity_check["log_correlation"] > 0.9


def test_ope_with_estimated_propensities_lands_inside_the_true_intervals(report):
    # Every estimator, unnormalised IPS included, for the logging policy itself, for targets
    # near (uniform) and far from it (last skills first), and for the learned policy.
    for target in ("logging", "uniform", "last_skill_first", "learned"):
        true = report.results[target].intervals
        estimated = report.estimated_propensity_results[target].intervals
        for name in ("dm", "ips", "snips", "clipped_ips", "dr", "switch_dr"):
            assert true[name].low <= estimated[name].estimate <= true[name].high, (target, name)
    # The simulator's tutor explores (uniform over items 30% of the time); the fitted share
    # corrects what the skill classifier underestimates in rare states (without it the far
    # target's unnormalised IPS came out 0.0360 against 0.0327 [0.0293, 0.0359]).
    assert report.calibration.exploration_share > 1e-3


def _refit_propensities(log, train, rows):
    """The evaluation's behaviour model refitted on ``train``: propensities of ``rows``."""
    from quizops.evaluation.behaviour import fit_behaviour_model

    with threadpool_limits(1):
        model, calibration = fit_behaviour_model(
            log.context[train],
            log.action[train],
            log.item_group,
            log.frame["student"].to_numpy()[train],
            seed=0,
        )
        return model.propensity(log.context[rows], log.action[rows]), calibration


def test_estimated_weights_of_the_logging_policy_average_one(report, log):
    # IPS is unbiased only if the mean importance weight of the logging policy is 1; with
    # estimated propensities that weight is true / estimated. Refit the behaviour model on the
    # training students here and compute it against the table's true propensities.

    frame = log.frame
    train = np.flatnonzero(~log.held_out)
    rows = np.flatnonzero(log.held_out & frame["reward"].notna().to_numpy())
    estimated, calibration = _refit_propensities(log, train, rows)
    weight = frame["propensity"].to_numpy()[rows] / estimated
    # Before early stopping (100 fixed boosting rounds) this was 1.08 and IPS 14% too high.
    assert 0.97 < weight.mean() < 1.04
    assert report.propensity_check["mean_weight"] == pytest.approx(weight.mean())
    assert np.mean(np.abs(1 / weight - 1) <= 0.25) > 0.9
    reward = frame["reward"].to_numpy()[rows]
    ips = report.estimated_propensity_results["logging"].intervals["ips"].estimate
    assert ips == pytest.approx(np.mean(weight * reward), rel=1e-4)  # target ~ true propensity
    assert ips == pytest.approx(reward.mean(), rel=0.05)
    assert 0 < calibration.rounds < 300
    assert calibration.expected_calibration_error < 0.01
    assert 0.95 < calibration.class_weight_balance < 1.1
    # Reliable: in every well-populated bin the observed frequency is near the predicted one
    # (the largest gap, 0.05, is the tutor's focus skill, true probability 0.74, predicted a
    # little low at 0.68 on average).
    populated = [row for row in calibration.reliability if row[2] >= 500]
    assert len(populated) >= 2
    for predicted, observed, count in populated:
        assert abs(predicted - observed) < 0.06, (predicted, observed, count)


def test_overlap_tells_a_covered_target_from_an_uncovered_one(report):
    assert report.overlap["uniform"].support > 0.95
    assert (
        report.overlap["last_skill_first"].effective_sample
        < report.overlap["logging"].effective_sample / 2
    )


def test_logs_without_propensities_use_the_behaviour_model(sim_table, world):
    table = sim_table.drop(columns=["propensity"])
    log = build_decision_log(table, holdout_fraction=0.3, split_seed=0)
    assert not log.has_propensities
    result = evaluate_off_policy(log, {"uniform": uniform_target}, clip=20.0, resamples=50, seed=0)
    assert result.propensity_source == "estimated"
    assert result.estimated_propensity_results == {}
    assert np.isfinite(result.results["uniform"].intervals["dr"].estimate)


def test_split_is_by_student_and_stable():
    ids = np.array([f"s{i}" for i in range(2000)])
    mask = held_out_students(ids, 0.2, seed=1)
    assert 0.16 < mask.mean() < 0.24
    assert np.array_equal(mask, held_out_students(ids[::-1], 0.2, seed=1)[::-1])
    assert not np.array_equal(mask, held_out_students(ids, 0.2, seed=2))


def test_a_table_without_required_columns_is_refused(sim_table):
    with pytest.raises(InputDataError, match="skill_id"):
        build_decision_log(sim_table.drop(columns=["skill_id"]), holdout_fraction=0.2, split_seed=0)


def test_held_out_rows_are_cut_to_whole_students_within_the_grid_budget(monkeypatch):
    from quizops.evaluation import offpolicy

    student = np.repeat(np.arange(5), 4)  # 5 students, 4 decisions each
    rows = np.arange(20)
    monkeypatch.setattr(offpolicy, "MAX_GRID_CELLS", 10 * 3)  # 10 decisions of 3 items
    kept = offpolicy._bounded(rows, student, n_items=3)
    assert np.array_equal(kept, np.arange(8))  # two whole students; a third would not fit
    monkeypatch.setattr(offpolicy, "MAX_GRID_CELLS", 1000)
    assert np.array_equal(offpolicy._bounded(rows, student, n_items=3), rows)


def test_exact_propensities_where_logged_and_the_behaviour_model_elsewhere(sim_table, world):
    # Four students in ten keep their logged propensities (as if their answers came from
    # served decisions); the others' are gone (as in a real export).

    ids = sim_table["student_id"].unique()
    keep = set(ids[held_out_students(ids, 0.4, seed=9)])
    table = sim_table.copy()
    table.loc[~table["student_id"].isin(keep), "propensity"] = np.nan
    log = build_decision_log(table, holdout_fraction=0.3, split_seed=0)
    targets = {"uniform": uniform_target, "logging": logging_policy_distribution(world)}
    with threadpool_limits(1):
        mixed = evaluate_off_policy(log, targets, clip=20.0, resamples=100, seed=0)
    frame = log.frame
    rows = np.flatnonzero(log.held_out & frame["reward"].notna().to_numpy())
    logged = frame["propensity"].to_numpy()[rows]
    exact = np.isfinite(logged)
    assert mixed.propensity_source == "mixed"
    assert mixed.exact_decisions == exact.sum() > 0
    assert mixed.estimated_decisions == (~exact).sum() > 0
    from quizops.evaluation.report import propensity_text

    text = propensity_text(mixed)
    assert text.startswith("propensities mixed:")
    assert f"exact {exact.sum()}, estimated {(~exact).sum()}" in text
    # IPS of the uniform target by hand: 1 / (items * propensity) with the logged propensity
    # where there is one and, elsewhere, the behaviour model fitted on the training decisions
    # without one.
    train = np.flatnonzero(~log.held_out & ~np.isfinite(frame["propensity"].to_numpy()))
    estimated, _ = _refit_propensities(log, train, rows)
    propensity = np.where(exact, logged, estimated)
    reward = frame["reward"].to_numpy()[rows]
    expected = np.mean(reward / (len(log.items) * propensity))
    ips = mixed.results["uniform"].intervals["ips"]
    assert ips.estimate == pytest.approx(expected, rel=1e-9)
    everywhere_estimated = mixed.estimated_propensity_results["uniform"].intervals["ips"]
    assert everywhere_estimated.estimate == pytest.approx(
        np.mean(reward / (len(log.items) * estimated)), rel=1e-9
    )
    assert everywhere_estimated.estimate != pytest.approx(ips.estimate, rel=1e-6)
    # The behaviour model is checked against the logged propensities only where there are some.
    assert mixed.propensity_check["median_ratio"] == pytest.approx(
        np.median(estimated[exact] / logged[exact])
    )
    # Mixed estimates land inside the intervals of the all-true-propensity evaluation.
    with threadpool_limits(1):
        true = evaluate_off_policy(
            build_decision_log(sim_table, holdout_fraction=0.3, split_seed=0),
            targets,
            clip=20.0,
            resamples=100,
            seed=0,
        )
    for target in targets:
        for name in ("ips", "snips", "dr"):
            interval = true.results[target].intervals[name]
            value = mixed.results[target].intervals[name].estimate
            assert interval.low <= value <= interval.high, (target, name)


def test_reward_matrix_in_pair_chunks_is_the_models_prediction_of_every_pair(log, monkeypatch):
    # The q matrix is predicted in chunks of (context, item) pairs, so that a large bank cannot
    # exhaust memory; each cell must be the model's prediction for that pair.
    import quizops.evaluation.offpolicy as offpolicy

    model = offpolicy.fit_reward_model(log, np.flatnonzero(~log.held_out))
    context = log.context[:23]
    n_items = len(log.items)
    monkeypatch.setattr(offpolicy, "PAIRS_PER_CHUNK", 3 * n_items + 1)  # chunks of 3 contexts
    matrix = model.matrix(context)
    rows = np.repeat(np.arange(len(context)), n_items)
    items = np.tile(np.arange(n_items), len(context))
    expected = model.predict(context[rows], items).reshape(len(context), n_items)
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("off_plan", "expected_support"),
    [(0.05, 1.0), (0.1, 1.0), (0.01, 0.0), (0.0, 0.0)],
)
def test_a_curriculum_tutor_a_few_percent_off_plan_supports_every_item(off_plan, expected_support):
    # The gate's support rule with its own floor (SUPPORT_SHARE_OF_UNIFORM of uniform): a
    # tutor on one skill's 10 items of 80 that asks a share `off_plan` uniformly at random.
    # Known answer for a target that only asks off-plan items: all of its mass is supported
    # when the tutor's off-plan probability reaches the floor, none of it otherwise. (At the
    # floor of 0.1 before 2026-11-25, a tutor a tenth off plan sat on the line and one at 5%
    # supported nothing.)
    from quizops.evaluation.offpolicy import SUPPORT_SHARE_OF_UNIFORM
    from quizops.evaluation.ope import overlap

    items, decisions = 80, 50
    logging = np.full((decisions, items), off_plan / items)
    logging[:, :10] += (1.0 - off_plan) / 10
    target = np.zeros((decisions, items))
    target[:, 10:] = 1.0 / 70
    stats = overlap(
        np.ones(decisions), target, logging, support_floor=SUPPORT_SHARE_OF_UNIFORM / items
    )
    assert stats.support == pytest.approx(expected_support)
