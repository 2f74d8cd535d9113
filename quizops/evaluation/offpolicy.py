"""Off-policy evaluation of target policies on the held-out students of a decision log.

The pieces: the logging propensities (per decision: the exact logged one where the log carries
it, as simulated logs and answers to served decisions do; elsewhere the estimate of the behaviour
model fitted on the training students' decisions that carry none), a reward model for the direct
and doubly robust estimators (fitted on the training students), each target policy's
distribution over the items at every held-out decision, and one set of bootstrap resamples over
held-out students shared by every target, so that the difference between two policies has a
paired interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from quizops.errors import InputDataError
from quizops.evaluation.behaviour import Calibration, fit_behaviour_model, propensity_error
from quizops.evaluation.decisions import DecisionLog
from quizops.evaluation.ope import (
    BanditLog,
    Interval,
    OPEResult,
    Overlap,
    bootstrap_counts,
    estimate_with_intervals,
    overlap,
    paired_difference,
    percentile_interval,
)

logger = logging.getLogger(__name__)

#: A target policy as OPE sees it: histories before each decision and the log's items in, the
#: policy's probability of each item at each decision out ([decisions, items], rows sum to 1).
TargetDistribution = Callable[[list[list[tuple[str, int]]], list[str]], np.ndarray]

#: (context, item) pairs the reward model predicts at once in :meth:`RewardModel.matrix` (each
#: pair is a row of context and item features: 250,000 pairs hold about 170 MB). A fixed number
#: of contexts per chunk instead held 2,000 x items pairs: 29 million rows of ~85 features on a
#: 14,500-item bank, which exhausted 24 GiB.
PAIRS_PER_CHUNK = 250_000
#: An item counts as supported by the logging policy when its probability is at least this
#: share of uniform over the logged items (the gate's ``min_support`` figure; training's
#: search checks the same rule). A curriculum tutor that asks a few percent of its items off
#: its plan supports every item (at 0.1, as before 2026-11-25, a tutor with a tenth off-plan
#: sat on the line: support 0.86 with an effective sample of 322 and a positive DR interval,
#: refused); one that never leaves its plan does not, and the effective sample and the
#: estimators' intervals then carry the judgment the issue asks for.
SUPPORT_SHARE_OF_UNIFORM = 0.02
#: Largest (decisions x items) grid OPE holds at once; beyond it, whole held-out students are
#: taken in a fixed order until the grid is full (memory and time stay bounded on big logs).
MAX_GRID_CELLS = 40_000_000
#: Most training decisions the behaviour and reward models are fitted on (whole students, in a
#: fixed order, beyond it).
MAX_FIT_DECISIONS = 200_000
#: Least training decisions without a logged propensity for the behaviour model to be fitted on
#: those alone (fewer: on every training decision).
MIN_BEHAVIOUR_DECISIONS = 500


def histories_before(log: DecisionLog, rows: np.ndarray) -> list[list[tuple[str, int]]]:
    """Each student's ``(item_id, correct)`` answers before each of the given decisions.

    Args:
        log: The decision log (sorted by student, then time).
        rows: Decision rows.

    Returns:
        One history per row.
    """
    frame = log.frame
    items = frame["item_id"].to_numpy()
    correct = frame["correct"].to_numpy()
    position = frame["position"].to_numpy()
    out = []
    for row in rows:
        start = row - position[row]
        out.append([(str(items[i]), int(correct[i])) for i in range(start, row)])
    return out


def rows_within(n_items: int, cells: int | None = None) -> int:
    """How many rows of ``n_items`` columns fit in ``cells`` cells (at least one).

    By default, the most decisions off-policy evaluation holds at once
    (:data:`MAX_GRID_CELLS`); training bounds its overlap measure by the same number.

    Args:
        n_items: Columns of a row (items of the bank).
        cells: Cells available (None: :data:`MAX_GRID_CELLS`, read when called).

    Returns:
        The number of rows.
    """
    available = MAX_GRID_CELLS if cells is None else cells
    return max(1, available // max(1, n_items))


def _bounded(rows: np.ndarray, student: np.ndarray, n_items: int) -> np.ndarray:
    """The held-out rows, cut to whole students so that rows x items fits the grid budget."""
    limit = rows_within(n_items)
    if len(rows) <= limit:
        return rows
    codes = student[rows]
    # Rows are in student order; keep the students whose last row falls within the limit.
    last_of_student = np.r_[codes[1:] != codes[:-1], True]
    ends = np.flatnonzero(last_of_student)
    keep = ends[ends < limit]
    cut = int(keep[-1]) + 1 if len(keep) else limit
    logger.warning(
        "off-policy evaluation: %d held-out decisions x %d items exceed the grid budget; "
        "using the first %d decisions (whole students)",
        len(rows),
        n_items,
        cut,
    )
    return rows[:cut]


@dataclass
class RewardModel:
    """``q(x, a)``: expected reward of giving item ``a`` in context ``x``.

    Attributes:
        regressor: Gradient-boosted regressor over context, item group, item difficulty and the
            item's mean reward among training students (shrunk to the group's).
        item_features: Matrix [items, 3]: group code, difficulty, mean reward.
    """

    regressor: HistGradientBoostingRegressor
    item_features: np.ndarray

    def predict(self, context: np.ndarray, action: np.ndarray) -> np.ndarray:
        """Predicted reward of the given (context, item) pairs."""
        return self.regressor.predict(np.hstack([context, self.item_features[action]]))

    def matrix(self, context: np.ndarray) -> np.ndarray:
        """``q(x, a)`` for every context and every item [contexts, items] (in chunks)."""
        n_items = len(self.item_features)
        out = np.empty((len(context), n_items))
        step = rows_within(n_items, PAIRS_PER_CHUNK)
        for start in range(0, len(context), step):
            ctx = context[start : start + step]
            pairs = np.hstack(
                [np.repeat(ctx, n_items, axis=0), np.tile(self.item_features, (len(ctx), 1))]
            )
            out[start : start + len(ctx)] = self.regressor.predict(pairs).reshape(len(ctx), n_items)
        return out


def fit_reward_model(log: DecisionLog, rows: np.ndarray, seed: int = 0) -> RewardModel:
    """Fits the reward model on the given (training) decisions that have a reward.

    Args:
        log: The decision log.
        rows: Decision rows to fit on.
        seed: Seed of the learner.

    Returns:
        The model.

    Raises:
        InputDataError: Fewer than 50 rewarded decisions.
    """
    frame = log.frame
    reward = frame["reward"].to_numpy()
    rows = rows[np.isfinite(reward[rows])]
    if len(rows) < 50:
        raise InputDataError(f"reward model: {len(rows)} rewarded training decisions, need 50")
    action = frame["action"].to_numpy()
    n_items = len(log.items)
    correct = frame["correct"].to_numpy().astype(float)
    attempts = np.bincount(action[rows], minlength=n_items)
    right = np.bincount(action[rows], weights=correct[rows], minlength=n_items)
    gain = np.bincount(action[rows], weights=reward[rows], minlength=n_items)
    groups = log.item_group
    g_attempts = np.bincount(groups, weights=attempts, minlength=len(log.groups))
    g_right = np.bincount(groups, weights=right, minlength=len(log.groups))
    g_gain = np.bincount(groups, weights=gain, minlength=len(log.groups))
    overall = right.sum() / max(1, attempts.sum())
    g_rate = (g_right + 10 * overall) / (g_attempts + 10)
    g_mean_gain = g_gain / np.maximum(g_attempts, 1)
    shrink = attempts + 20.0
    difficulty = 1.0 - (right + 20.0 * g_rate[groups]) / shrink
    mean_gain = (gain + 20.0 * g_mean_gain[groups]) / shrink
    item_features = np.column_stack([groups, difficulty, mean_gain]).astype(float)
    n_context = log.context.shape[1]
    categorical = np.zeros(n_context + 3, dtype=bool)
    categorical[n_context] = len(log.groups) <= 250
    regressor = HistGradientBoostingRegressor(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=31,
        min_samples_leaf=50,
        categorical_features=categorical,
        early_stopping=False,
        random_state=seed,
    )
    x = np.hstack([log.context[rows], item_features[action[rows]]])
    regressor.fit(x, reward[rows])
    return RewardModel(regressor, item_features)


@dataclass(frozen=True)
class OffPolicyReport:
    """Off-policy evaluation of every target on the held-out students.

    Attributes:
        results: Target name -> estimates with intervals (``logged`` in each is the logging
            policy's own value on the same resamples).
        overlap: Target name -> overlap with the logging policy.
        differences: Target name -> estimator -> paired difference target - reference.
        reference: ``champion`` or ``logging policy``.
        propensity_source: ``logged`` (every held-out decision carries its exact propensity),
            ``estimated`` (none does: the behaviour model's) or ``mixed`` (exact where logged,
            the behaviour model's elsewhere).
        calibration: The behaviour model's calibration.
        propensity_check: Estimated vs logged propensities on the decisions that carry one.
        estimated_propensity_results: Target name -> estimates with the behaviour model's
            propensities on every decision (when some carry exact ones, to check the model).
        decisions: Held-out decisions with a reward.
        students: Held-out students.
        exact_decisions: Held-out decisions with a reward whose exact propensity was used.
        notes: Sentences on what each target is (for the report).
    """

    results: dict[str, OPEResult]
    overlap: dict[str, Overlap]
    differences: dict[str, dict[str, Interval]]
    reference: str
    propensity_source: str
    calibration: Calibration
    propensity_check: dict[str, float] = field(default_factory=dict)
    estimated_propensity_results: dict[str, OPEResult] = field(default_factory=dict)
    decisions: int = 0
    students: int = 0
    exact_decisions: int = 0
    notes: tuple[str, ...] = ()

    @property
    def estimated_decisions(self) -> int:
        """Held-out decisions whose propensity came from the behaviour model."""
        return self.decisions - self.exact_decisions


def evaluate_off_policy(
    log: DecisionLog,
    targets: dict[str, TargetDistribution],
    *,
    clip: float,
    resamples: int,
    seed: int,
    reference: str | None = None,
    level: float = 0.95,
) -> OffPolicyReport:
    """Estimates each target's value on the held-out students.

    Args:
        log: The decision log with its student split.
        targets: Target name -> distribution function.
        clip: Weight cap of the clipped and switch estimators.
        resamples: Bootstrap resamples over held-out students.
        seed: Seed of the models and resamples.
        reference: Target that others are compared with (None = the logging policy).
        level: Interval coverage.

    Returns:
        The report.

    Raises:
        InputDataError: Too few held-out decisions, or a target's distribution is malformed.
    """
    frame = log.frame
    held = log.held_out
    reward = frame["reward"].to_numpy()
    train_rows = np.flatnonzero(~held)
    if len(train_rows) > MAX_FIT_DECISIONS:
        codes = frame["student"].to_numpy()[train_rows]
        ends = np.flatnonzero(np.r_[codes[1:] != codes[:-1], True])
        fits = ends[ends < MAX_FIT_DECISIONS]
        train_rows = train_rows[: int(fits[-1]) + 1 if len(fits) else MAX_FIT_DECISIONS]
    eval_rows = np.flatnonzero(held & np.isfinite(reward))
    if len(eval_rows) < 20:
        raise InputDataError(
            f"off-policy evaluation: {len(eval_rows)} held-out decisions with a reward, need 20"
        )
    student = frame["student"].to_numpy()
    eval_rows = _bounded(eval_rows, student, len(log.items))
    exact_all = log.exact_propensity
    # The behaviour model stands in for the process that logged no propensity: fit it on those
    # decisions when there are enough (a served policy's decisions, exact, are another process).
    fit_rows = train_rows[~exact_all[train_rows]]
    if len(fit_rows) < MIN_BEHAVIOUR_DECISIONS or len(np.unique(student[fit_rows])) < 4:
        fit_rows = train_rows
    behaviour, calibration = fit_behaviour_model(
        log.context[fit_rows], log.action[fit_rows], log.item_group, student[fit_rows], seed=seed
    )
    context = log.context[eval_rows]
    action = log.action[eval_rows]
    logging_dist = behaviour.distribution(context)
    estimated = logging_dist[np.arange(len(eval_rows)), action]
    logged = frame["propensity"].to_numpy(dtype=float)[eval_rows]
    exact = exact_all[eval_rows]
    has_true = bool(exact.any())
    propensity = np.where(exact, logged, estimated)
    source = "logged" if exact.all() else "mixed" if has_true else "estimated"
    rewards = reward[eval_rows]
    reward_model = fit_reward_model(log, train_rows, seed=seed)
    q_matrix = reward_model.matrix(context)  # shared by every target
    q_logged = q_matrix[np.arange(len(eval_rows)), action]
    group = np.unique(student[eval_rows], return_inverse=True)[1]
    n_groups = int(group.max()) + 1
    counts = bootstrap_counts(n_groups, resamples, seed)
    histories = histories_before(log, eval_rows)
    results: dict[str, OPEResult] = {}
    estimated_results: dict[str, OPEResult] = {}
    overlaps: dict[str, Overlap] = {}
    for name, distribution in targets.items():
        dist = np.asarray(distribution(histories, list(log.items)), dtype=float)
        if dist.shape != (len(eval_rows), len(log.items)) or not np.all(np.isfinite(dist)):
            raise InputDataError(
                f"off-policy evaluation: target '{name}' gave a malformed distribution"
            )
        dist = dist / dist.sum(axis=1, keepdims=True)
        target_p = dist[np.arange(len(eval_rows)), action]
        q_target = (q_matrix * dist).sum(axis=1)

        def bandit(
            p: np.ndarray, tp: np.ndarray = target_p, qt: np.ndarray = q_target
        ) -> BanditLog:
            return BanditLog(group, rewards, p, tp, q_logged, qt)

        results[name] = estimate_with_intervals(
            bandit(propensity), clip=clip, counts=counts, level=level
        )
        if has_true:
            estimated_results[name] = estimate_with_intervals(
                bandit(estimated), clip=clip, counts=counts, level=level
            )
        overlaps[name] = overlap(
            target_p / propensity,
            dist,
            logging_dist,
            support_floor=SUPPORT_SHARE_OF_UNIFORM / len(log.items),
        )
    differences: dict[str, dict[str, Interval]] = {}
    for name, result in results.items():
        if reference is not None and name == reference:
            continue
        per: dict[str, Interval] = {}
        for estimator in result.intervals:
            if estimator == "logged":  # the same logged rewards for every target
                continue
            if reference is not None:
                per[estimator] = paired_difference(result, results[reference], estimator, level)
            else:
                point = result.intervals[estimator].estimate - result.intervals["logged"].estimate
                per[estimator] = percentile_interval(
                    point, result.resamples[estimator] - result.resamples["logged"], level
                )
        differences[name] = per
    check = propensity_error(estimated[exact], logged[exact]) if has_true else {}
    logger.info(
        "off-policy evaluation: %d held-out decisions of %d students, propensities %s "
        "(%d exact, %d estimated)",
        len(eval_rows),
        n_groups,
        source,
        int(exact.sum()),
        int((~exact).sum()),
    )
    return OffPolicyReport(
        results=results,
        overlap=overlaps,
        differences=differences,
        reference=reference or "logging policy",
        propensity_source=source,
        calibration=calibration,
        propensity_check=check,
        estimated_propensity_results=estimated_results,
        decisions=len(eval_rows),
        students=n_groups,
        exact_decisions=int(exact.sum()),
    )


def uniform_target(histories: Sequence[Sequence[tuple[str, int]]], items: list[str]) -> np.ndarray:
    """A target that picks any item uniformly (for tests and reports).

    Args:
        histories: Histories (one per decision).
        items: The items.

    Returns:
        The uniform distribution per decision.
    """
    return np.full((len(histories), len(items)), 1.0 / len(items))
