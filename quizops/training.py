"""Training: choose the planning policy's settings in fitted simulators; track and register it.

The served policy plans on the beliefs of the knowledge tracer of feature engineering (see
:mod:`quizops.policy` and ``TrainingConfig.family`` for why not in PFA); a ``pfa`` planner is
available for reports in that family. Training chooses what the logs cannot give directly: the
weight of opened-up skills, the ZPD mask's mastery cap, the focus on the skill under way, the
softmax temperature, the exploration share and the per-decision cap. Each candidate setting is
simulated for a session of ``horizon`` questions in *every* fitted simulator family, all
candidates on the same students (common random numbers), and compared, paired, with each
family's best baseline; see :func:`train_policy` for the rule that keeps one (a win in every
family the evaluation gate judges when one exists, within the overlap and exposure limits;
settings that only win in the model their own tracer was fitted on give way to those that also
hold in worlds fitted to other students: :func:`cross_fitted_pairs`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError
from quizops.evaluation.offpolicy import rows_within
from quizops.evaluation.simulation_eval import item_shares
from quizops.features import FeatureSet, feature_spec, load_features
from quizops.features.tracer import first_rows_of_answers
from quizops.policy import PlanningModel, QuizPolicy, TrainingConfig

logger = logging.getLogger(__name__)


#: Most students in each half of the cross-fitted worlds (:func:`cross_fitted_pairs`).
CROSS_FIT_STUDENTS = 2000
#: Two-sided 95% normal quantile (paired intervals of the search).
Z95 = 1.959963984540054

#: unlock, mastery cap, focus, temperature, epsilon, per-decision probability cap
Setting = tuple[float, float, float, float, float, float, int]
#: Shapes (unlock, mastery cap, focus) tried first when the search's budget cannot hold the
#: whole grid: those the search kept on the benchmark courses and course D (README, "The
#: policy"), then the rest of the grid, lowest mastery cap and highest focus first.
SHAPE_PREFERENCE: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.9, 2.0),
    (1.0, 0.85, 2.0),
    (3.0, 0.9, 2.0),
    (0.0, 0.9, 1.0),
    (0.0, 0.9, 2.0),
    (3.0, 0.99, 0.3),
    (1.0, 0.9, 1.0),
    (3.0, 0.9, 0.3),
    (1.0, 0.95, 0.6),
)
#: Share of the search budget the first stage (shapes) may spend when the grid does not fit.
FIRST_STAGE_SHARE = 0.6
#: Seconds between two progress lines of the search.
PROGRESS_EVERY_S = 15.0
#: Fewest logged decisions the search measures overlap on, whatever the bank's size.
MIN_OVERLAP_DECISIONS = 1000
#: Cells (decisions x items) of one block of :func:`overlap_with_logs`.
OVERLAP_BLOCK_CELLS = 2_000_000


def _shapes(config: TrainingConfig) -> list[tuple[float, float, float]]:
    """Candidate (unlock, mastery_cap, focus) value shapes; given values fixed."""
    return list(
        itertools.product(
            config.unlocks if config.unlock is None else (config.unlock,),
            config.mastery_caps if config.mastery_cap is None else (config.mastery_cap,),
            config.focuses if config.focus is None else (config.focus,),
        )
    )


def _spreads(config: TrainingConfig) -> list[tuple[float, float, float]]:
    """Candidate (temperature, epsilon, max_choice) triples; given values fixed."""
    return list(
        itertools.product(
            config.temperatures if config.temperature <= 0 else (config.temperature,),
            config.epsilons if config.epsilon <= 0 else (config.epsilon,),
            config.max_choices,
        )
    )


def preferred_shapes(shapes: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """The shapes in the order a budget-cut search tries them (:data:`SHAPE_PREFERENCE`)."""
    rank = {shape: n for n, shape in enumerate(SHAPE_PREFERENCE)}
    return sorted(shapes, key=lambda x: (rank.get(x, len(rank)), x[1], -x[2], abs(x[0] - 1.0)))


def preferred_spreads(
    spreads: list[tuple[float, float, float]], temperature: float
) -> list[tuple[float, float, float]]:
    """(temperature, epsilon, cap) triples in the order a budget-cut search tries them.

    The first stage's temperature and its neighbours first, the least exploration and no cap
    first: what the search has kept most often.
    """
    return sorted(spreads, key=lambda x: (abs(np.log(x[0] / temperature)), x[1], -x[2]))


class _SearchClock:
    """Wall-clock budget and throttled progress lines of the policy search."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.monotonic()
        self.budget_s = float(budget_s)
        self.last_line = self.start
        self.cut = False

    def elapsed(self) -> float:
        """Seconds since the search started."""
        return time.monotonic() - self.start

    def progress(self, stage: str, done: int, total: int) -> None:
        """Logs where the search is, at most every :data:`PROGRESS_EVERY_S` seconds."""
        now = time.monotonic()
        if now - self.last_line < PROGRESS_EVERY_S and done < total:
            return
        self.last_line = now
        spent = now - self.start
        left = spent / max(done, 1) * (total - done) if stage == "shapes" else None
        logger.info(
            "policy search: %s, %d of %d settings simulated (%.0f s%s)",
            stage, done, total, spent,
            "" if left is None or done >= total else f"; about {left:.0f} s left in this stage",
        )  # fmt: skip


def cross_fitted_pairs(features: FeatureSet, config: TrainingConfig) -> list[tuple[Any, Any]]:
    """Planner tracers and worlds fitted on the two halves of the students, crossed.

    The students of ``features.interactions`` are split in halves by a seeded hash of their
    pseudonymous id (:func:`~quizops.simulation.fitted.split_students`, seed
    ``config.seed + 1``), each half cut to its first :data:`CROSS_FIT_STUDENTS` ids (pseudonymous:
    a random subset; the cost stays bounded on large logs, whose crossed worlds are then a little
    noisier than the served tracer); a tracer is fitted to each half as feature engineering fits
    the served one (prerequisites included). A planner on one half's tracer then teaches
    students of the ``bkt`` world of the other: its settings meet parameters that differ from
    its own by about what separates a fitted tracer from the students it will teach.

    Args:
        features: The training features (their ``interactions``).
        config: Training settings (``cross_fit`` and ``seed``).

    Returns:
        ``[(tracer of half A, world of half B), (tracer of half B, world of half A)]``, or an
        empty list when cross-fitting is off or not possible (no interactions, too few
        students, no skill traced on both halves); the reason is logged. A skill that a half
        lacks or cannot trace is left out of both halves' tracers and worlds (every setting
        then meets the same smaller course; the served tracer keeps it).
    """
    from quizops.errors import ModelFitError
    from quizops.features.fit import fit_on_shared_skills
    from quizops.simulation.fitted import FittedBKTWorld, split_students

    interactions = features.interactions
    if not config.cross_fit or interactions is None or interactions.empty:
        return []

    def capped(half: pd.DataFrame) -> pd.DataFrame:
        ids = half["student_id"].astype(str)
        kept = np.sort(ids.unique())[:CROSS_FIT_STUDENTS]
        return half.loc[ids.isin(kept).to_numpy()].reset_index(drop=True)

    expected = list(features.tracer.skill_ids)
    try:
        halves = [capped(h) for h in split_students(interactions, config.seed + 1, share=0.5)]
        # A skill that one half lacks (a rare skill of a real export) or cannot trace is left
        # out of both, so that each planner asks only items the other half's world knows.
        tracers, left_out = fit_on_shared_skills([(h, {}) for h in halves], skills=set(expected))
    except (InputDataError, ModelFitError) as exc:
        logger.warning("policy search: no cross-fitted worlds (%s)", exc)
        return []
    if left_out:
        logger.warning(
            "policy search: %d skill(s) left out of the cross-fitted worlds (a half lacks "
            "them or cannot trace them)", len(left_out),
        )  # fmt: skip
    if any(list(t.skill_ids) != [k for k in expected if k not in left_out] for t in tracers):
        logger.warning("policy search: no cross-fitted worlds (the halves' skills differ)")
        return []
    first, second = tracers
    return [(first, FittedBKTWorld(second)), (second, FittedBKTWorld(first))]


def not_worse_than_best(per_student: dict[Any, np.ndarray], z: float = Z95) -> set[Any]:
    """Candidates not shown worse than the best one, paired student by student.

    The best is the highest mean; a candidate stays when the upper bound of the normal
    interval of its paired difference to the best (``mean + z * sd / sqrt(n)``) is not below
    zero. The best always stays.

    Args:
        per_student: Per candidate, a figure per simulated student, the same students in the
            same order for every candidate (common random numbers).
        z: Normal quantile of the interval (two-sided 95% by default).

    Returns:
        The candidates kept.
    """
    if not per_student:
        return set()
    top = max(per_student, key=lambda key: float(np.mean(per_student[key])))
    kept = set()
    for key, values in per_student.items():
        diff = np.asarray(values, dtype=float) - np.asarray(per_student[top], dtype=float)
        half = z * diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else 0.0
        if diff.mean() + half >= 0.0:
            kept.add(key)
    return kept


def gated_families(simulators: dict[str, Any], margin: float = 0.0) -> list[str]:
    """Families the evaluation gate judges a challenger in (the gate's own rule).

    See :func:`quizops.evaluation.gate.family_fit_ok` (``GateConfig.family_fit_margin``):
    a family must not predict held-out answers worse than plain per-skill BKT, nor be ruled
    out by the held-out students against another fitted family; a family without
    validation figures (the default world of the tracer) counts.

    Args:
        simulators: Fitted simulators with their ``validation`` figures.
        margin: Log-likelihood per answer a family may lose.

    Returns:
        Family names.
    """
    from quizops.evaluation.gate import family_fit_ok

    nan = float("nan")
    out = []
    for name, world in simulators.items():
        v = getattr(world, "validation", {}) or {}
        if family_fit_ok(
            v.get("heldout_loglik", nan),
            v.get("plain_bkt_loglik", nan),
            v.get("fit_gap_high", nan),
            margin,
        ):
            out.append(name)
    return out


@dataclass(frozen=True)
class FamilyYardstick:
    """What a family's baselines reach on the search's simulated students.

    Attributes:
        best_baseline: Mean skills mastered by the best non-oracle baseline.
        best_name: Its name.
        random: Mean skills mastered by random choice.
        oracle: Mean skills mastered by the world's oracle.
        best_per_student: Skills mastered by the best baseline, per simulated student.
    """

    best_baseline: float
    best_name: str
    random: float
    oracle: float
    best_per_student: np.ndarray

    def margin(self, mastered: float) -> float:
        """Normalized improvement over the best baseline: (x - best) / (oracle - random)."""
        return (mastered - self.best_baseline) / max(self.oracle - self.random, 1e-9)

    def lift_lower_bound(self, per_student: np.ndarray, z: float = Z95) -> float:
        """Lower 95% bound of the paired improvement over the best baseline (same students).

        Args:
            per_student: Skills mastered by the candidate, per simulated student.
            z: Normal quantile.

        Returns:
            ``mean(d) - z * sd(d) / sqrt(n)`` with ``d`` the per-student difference.
        """
        d = np.asarray(per_student, dtype=float) - self.best_per_student
        half = z * float(d.std(ddof=1)) / np.sqrt(d.size) if d.size > 1 else 0.0
        return float(d.mean()) - half


def family_yardstick(tracer: Any, world: Any, config: TrainingConfig) -> FamilyYardstick:
    """Runs every baseline, the oracle and the best mastery threshold in a fitted world.

    Args:
        tracer: The fitted tracer the baselines use.
        world: The fitted world.
        config: Students, horizon and seed of the search (the same students as the settings).

    Returns:
        The yardstick.
    """
    from quizops.simulation.baselines import MasteryChooser, OracleChooser, baseline_choosers
    from quizops.simulation.rollouts import simulate

    scores: dict[str, float] = {}
    per_student: dict[str, np.ndarray] = {}
    choosers = [
        *baseline_choosers(tracer, horizon=config.horizon, thresholds=(0.6, 0.8, 0.9, 0.95)),
        OracleChooser(),
    ]
    for chooser in choosers:
        if isinstance(chooser, MasteryChooser):
            chooser.name = f"mastery {chooser.threshold:.2f}"
        result = simulate(chooser, world, students=config.validation_students,
                          steps=config.horizon, seed=config.seed)  # fmt: skip
        scores[chooser.name] = float(result.final_mastered.mean())
        per_student[chooser.name] = np.asarray(result.final_mastered, dtype=float)
    others = {k: v for k, v in scores.items() if k != "oracle"}
    best_name = max(others, key=lambda k: others[k])
    return FamilyYardstick(
        others[best_name], best_name, scores["random"], scores["oracle"], per_student[best_name]
    )


def choose_family(simulators: dict[str, Any] | None) -> str:
    """The simulator family with the best held-out log-likelihood (``bkt`` without any).

    Args:
        simulators: Fitted simulators with their ``validation`` figures.

    Returns:
        The family name.
    """
    if not simulators:
        return "bkt"
    return max(simulators, key=lambda n: simulators[n].validation.get("heldout_loglik", -np.inf))


def _logged_decisions(
    features: FeatureSet, limit: int = 20_000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """Logged states, chosen bank rows, propensities, support and places of the decisions.

    The support is a boolean matrix [decisions, bank items]: the items the logging policy gave
    at least a tenth of uniform probability (the gate's rule), known only where the
    propensities are estimated (None with logged propensities, which come without the rest of
    the logging distribution). The places are the answers before each decision (for a
    policy's endgame; None for a feature set saved before they were kept).

    Logged propensities are used when the logs carry them; otherwise (every real export) they
    are estimated with the evaluation's behaviour model (:func:`_estimated_decisions`), so that
    the search keeps the overlap the evaluation gate needs on any data. None when neither is
    possible (too few decisions).
    """
    from quizops.features import state_columns

    # No more decisions than off-policy evaluation holds for its own figure: on a large bank,
    # fewer.
    limit = min(limit, max(MIN_OVERLAP_DECISIONS, rows_within(len(features.items))))
    examples = features.examples
    if "propensity" in examples.columns:
        examples = examples[examples["propensity"].notna() & (examples["propensity"] > 0)]
    else:
        examples = examples.iloc[:0]
    bank = set(features.items["item_id"].astype(str))
    examples = examples[examples["item_id"].astype(str).isin(bank)]
    if len(examples) < 100:
        return _estimated_decisions(features, limit, seed)
    columns = state_columns(features.tracer.n_skills)
    if len(examples) > limit:
        # A fixed subsample, the same for every setting, chosen by the decisions' content so
        # that it does not depend on the pseudonyms (which order the rows).
        examples = examples.sort_values([*columns, "propensity", "correct"], kind="stable")
        examples = examples.iloc[np.linspace(0, len(examples) - 1, limit).astype(int)]
    states = examples[columns].to_numpy()
    index = {item: i for i, item in enumerate(features.items["item_id"].astype(str))}
    rows = np.array([index[i] for i in examples["item_id"].astype(str)], dtype=np.int64)
    positions = examples["position"].to_numpy() if "position" in examples.columns else None
    return states, rows, examples["propensity"].to_numpy(dtype=float), None, positions


def _estimated_decisions(
    features: FeatureSet, limit: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Logged decisions with propensities estimated by the evaluation's behaviour model.

    The model (:func:`quizops.evaluation.behaviour.fit_behaviour_model`, the one the gate
    uses) is fitted on the decisions of the training students (the evaluation's held-out
    students are already left out); the states are the tracer's beliefs before each decision.
    At most ``limit`` decisions, whole students, chosen by a keyed hash of the pseudonym.
    """
    from quizops.evaluation.behaviour import fit_behaviour_model
    from quizops.evaluation.decisions import build_decision_log, held_out_students
    from quizops.evaluation.offpolicy import SUPPORT_SHARE_OF_UNIFORM

    table = features.interactions
    if table is None or table.empty or len(table) < 500:
        return None
    if len(table) > limit:  # whole students, about `limit` rows, by a keyed hash of the id
        ids = table["student_id"].astype(str)
        unique = ids.unique()
        chosen = held_out_students(unique, limit / len(table), seed + 7919)
        if chosen.any():
            table = table[ids.isin(set(unique[chosen]))]
    try:
        # Propensities only: the reward is not used, so the cheaper one-step reward is built.
        log = build_decision_log(table, holdout_fraction=0.5, split_seed=seed, reward="next_answer")
        frame = log.frame
        student = frame["student"].to_numpy()
        if len(frame) < 500 or len(np.unique(student)) < 8:
            return None
        behaviour, _ = fit_behaviour_model(
            log.context, log.action, log.item_group, student, seed=seed
        )
    except (InputDataError, ValueError) as exc:
        logger.warning("training: no overlap estimate without logged propensities (%s)", exc)
        return None
    propensity = behaviour.propensity(log.context, log.action)
    # Which bank items the logging policy supports in each decision (the gate's rule).
    bank = pd.Index(features.items["item_id"].astype(str))
    log_items = pd.Index(np.asarray(log.items, dtype=str))
    column = log_items.get_indexer(bank)  # each bank item's column in the log (-1: absent)
    logging_dist = behaviour.distribution(log.context)
    supported = np.where(
        column[None, :] >= 0,
        logging_dist[:, np.maximum(column, 0)] >= SUPPORT_SHARE_OF_UNIFORM / len(log.items),
        False,
    )
    states = features.tracer.trace_interactions(
        frame["student_id"].astype(str).to_numpy(),
        frame["item_id"].astype(str).to_numpy(),
        frame["correct"].to_numpy(),
    )
    rows = bank.get_indexer(log_items[log.action])  # each decision's item in the bank
    known = rows >= 0
    logger.info(
        "training: overlap measured on %d logged decisions with estimated propensities",
        int(known.sum()),
    )
    positions = frame["position"].to_numpy()
    return states[known], rows[known], propensity[known], supported[known], positions[known]


def required_effective_share(features: FeatureSet, config: TrainingConfig) -> float:
    """The least effective share of the logged decisions a setting must keep (overlap).

    ``config.min_effective_share`` when given; else ``overlap_safety * min_effective_sample``
    over the decisions the evaluation will hold out, estimated from the training decisions
    (the held-out students are already left out of ``features``): the gate needs an absolute
    effective sample, so the share it implies depends on the size of the log.

    Args:
        features: The training feature set.
        config: Training settings.

    Returns:
        A share in (0, 1].
    """
    if config.min_effective_share > 0:
        return float(config.min_effective_share)
    table = features.interactions
    if table is None or table.empty:
        decisions = float(len(features.examples))
    else:
        decisions = float(first_rows_of_answers(table).sum())
    fraction = config.holdout_fraction
    held_out = decisions * fraction / max(1.0 - fraction, 1e-9)
    # Off-policy evaluation holds a bounded grid of decisions x items: on a large bank it judges
    # fewer held-out decisions than the students hold, and needs a larger share of them.
    held_out = min(held_out, float(rows_within(len(features.items))))
    return float(min(1.0, config.overlap_safety * config.min_effective_sample / max(held_out, 1.0)))


def overlap_with_logs(policy: QuizPolicy, states: np.ndarray, rows: np.ndarray,
                      propensity: np.ndarray, supported: np.ndarray | None,
                      positions: np.ndarray | None = None) -> tuple[float, float]:  # fmt: skip
    """Effective share and support of a policy on logged decisions (one pass of the policy).

    Args:
        policy: The target policy.
        states: Logged states.
        rows: Bank rows of the logged choices.
        propensity: Logging propensities of those choices.
        supported: Boolean matrix [decisions, bank items] (see :func:`_logged_decisions`), or
            None when unknown.
        positions: Answers before each decision (for a policy's endgame), or None.

    Returns:
        ``(effective share, support)``: ``(sum w)^2 / sum w^2 / n`` with ``w = pi(choice |
        state) / propensity``, and the mean share of the policy's probability on supported
        items (the gate's ``min_support`` figure; NaN without ``supported``).
    """
    bank = np.arange(len(policy.items))
    # In blocks of decisions, so that memory stays bounded on a large item bank (the policy's
    # values hold a [decisions, items, tags] array).
    step = rows_within(len(bank), OVERLAP_BLOCK_CELLS)
    weights = np.empty(len(rows))
    on_support = np.empty(len(rows))
    for lo in range(0, len(rows), step):
        hi = min(lo + step, len(rows))
        place = None if positions is None else positions[lo:hi]
        target = policy.probabilities(states[lo:hi], bank, place)
        weights[lo:hi] = target[np.arange(hi - lo), rows[lo:hi]] / propensity[lo:hi]
        if supported is not None:
            on_support[lo:hi] = (target * supported[lo:hi]).sum(axis=1)
    share = float(weights.sum() ** 2 / max((weights**2).sum(), 1e-300) / len(weights))
    if supported is None:
        return share, float("nan")
    return share, float(on_support.mean())


def train_policy(features: FeatureSet, config: TrainingConfig | None = None,
                 simulators: dict[str, Any] | None = None,
                 family: str | None = None) -> QuizPolicy:  # fmt: skip
    """Builds the planning policy and chooses its settings by simulation in every family.

    The ``bkt`` planner (the served one) is searched in two stages on the same simulated
    students (common random numbers): first the value's shape (unlock, mastery cap, focus) at
    ``search_temperature`` / ``search_epsilon``, then temperature, exploration and the
    per-decision cap for the ``refine`` best shapes. Every setting is simulated in *every*
    fitted family, and in each its paired improvement over that family's best baseline (the
    same simulated students) gets a lower 95% bound. The setting kept is, among those within
    the overlap and exposure limits, the best in the family that predicts held-out answers best
    (what the logs support) among the settings whose lower bound is above ``min_lift`` in
    every gated family (those fitting held-out answers at least as well as plain BKT: the ones
    the evaluation gate judges); when no setting wins in every gated family (the families
    disagree on what teaches), the best in that family, and the shortfall is logged and kept
    in the metrics (``search_wins_every_family`` = 0). With ``config.cross_fit``, each
    setting is also simulated out of its own model (:func:`cross_fitted_pairs`: planned on a
    tracer of one half of the students, taught to the ``bkt`` world of the other, and back),
    and at each of these steps the settings that the crossed worlds show to be worse than their
    best (:func:`not_worse_than_best`, paired) come after the others: what wins only in the
    model the planner was fitted on leans on that model's estimation errors.

    Args:
        features: Output of feature engineering (its tracer drives the ``bkt`` planner).
        config: Hyper-parameters and search grids.
        simulators: Fitted simulators (default: the ``bkt`` world of the tracer).
        family: Family to plan in (default: ``config.family``); a ``pfa`` planner is searched
            in its own family only (for reports).

    Returns:
        The trained policy (unversioned), with the search's figures in ``metrics``.

    Raises:
        InputDataError: Too few examples, or an unknown family.
    """
    from threadpoolctl import threadpool_limits

    from quizops.policy import PFAPlanningModel
    from quizops.simulation.fitted import FittedBKTWorld
    from quizops.simulation.rollouts import simulate

    config = config or TrainingConfig()
    if len(features.examples) < 100:
        raise InputDataError(f"training: {len(features.examples)} examples, need at least 100")
    worlds = dict(simulators or {"bkt": FittedBKTWorld(features.tracer)})
    family = family or config.family
    if family not in worlds:
        raise InputDataError(f"training: no fitted simulator of family '{family}'")
    items = features.items.reset_index(drop=True)
    judged = {family: worlds[family]} if family == "pfa" else worlds
    fitting = gated_families(judged) if config.exclude_unfit_families else list(judged)
    gated = [f for f in fitting if f in judged] or [family]
    fits = {f: getattr(w, "validation", {}).get("heldout_loglik", -np.inf)
            for f, w in judged.items()}  # fmt: skip
    primary = family if family == "pfa" or len(gated) == 1 else max(gated, key=fits.__getitem__)
    if primary not in gated:
        primary = gated[0]

    def build(setting: Setting, tracer: Any = None) -> QuizPolicy:
        unlock, cap, focus, temperature, epsilon, max_choice, endgame = setting
        model: Any = (
            PFAPlanningModel.from_world(worlds[family])
            if family == "pfa"
            else PlanningModel(unlock, cap, config.ready_floor, focus, endgame, config.horizon)
        )
        policy = QuizPolicy(
            features.tracer, items, model, temperature, epsilon, max_choice=max_choice
        )
        # A cross-fitted planner: the bank's items its (half's) tracer knows.
        return policy if tracer is None else policy.on_tracer(tracer)

    pairs = cross_fitted_pairs(features, config) if family == "bkt" else []
    crossed: dict[Setting, np.ndarray] = {}  # per simulated student, both pairs in turn
    clear: dict[int, set[Setting]] = {}  # not_worse_than_best(crossed), by size of crossed

    logged = _logged_decisions(features, seed=config.seed) if family == "bkt" else None
    required_share = required_effective_share(features, config)
    required_support = config.min_support + config.support_margin
    scored: dict[Setting, dict[str, float]] = {}
    lifts: dict[Setting, dict[str, float]] = {}
    shares: dict[Setting, float] = {}
    overlap: dict[Setting, float] = {}
    support: dict[Setting, float] = {}

    def evaluate(setting: Setting, families: list[str] | None = None) -> None:
        """Simulates a setting in the gated families (or in ``families``, filling in)."""
        if setting in scored and families is None:
            return
        policy = build(setting)
        scored.setdefault(setting, {})
        lifts.setdefault(setting, {})
        for name in gated if families is None else families:
            world = judged[name]
            result = simulate(policy.as_chooser(), world, students=config.validation_students,
                              steps=config.horizon, seed=config.seed)  # fmt: skip
            scored[setting][name] = float(result.final_mastered.mean())
            lifts[setting][name] = yardsticks[name].lift_lower_bound(result.final_mastered)
            if families is None:  # exposure as the gate reads it: the most in any gated family
                share = float(item_shares(result.chosen).max())
                shares[setting] = max(shares.get(setting, 0.0), share)
        if families is None and pairs:
            crossed[setting] = np.concatenate([
                simulate(build(setting, tracer).as_chooser(), world,
                         students=config.validation_students, steps=config.horizon,
                         seed=config.seed).final_mastered
                for tracer, world in pairs
            ]).astype(float)  # fmt: skip

    precise: set[Setting] = set()  # settings whose share was measured on exposure_students

    def exposure(setting: Setting) -> float:
        """A setting's largest item share, measured again on more students near the limit."""
        if (
            setting in precise
            or abs(shares[setting] - config.max_item_share) > config.exposure_screen
        ):
            return shares[setting]
        precise.add(setting)
        policy = build(setting)
        share = 0.0
        for name in gated:
            result = simulate(policy.as_chooser(), judged[name],
                              students=config.exposure_students, steps=config.horizon,
                              seed=config.seed)  # fmt: skip
            share = max(share, float(item_shares(result.chosen).max()))
        shares[setting] = share
        return share

    def robust(setting: Setting) -> bool:
        """Whether the cross-fitted worlds cannot tell a setting from their best (paired)."""
        if len(crossed) not in clear:  # crossed only grows: its size names its state
            clear[len(crossed)] = not_worse_than_best(crossed)
        return setting not in crossed or setting in clear[len(crossed)]

    def standing(setting: Setting) -> tuple[bool, float]:
        """Sort key, best first: robust settings, then own-model mastery."""
        return not robust(setting), -scored[setting][primary]

    def measure(setting: Setting) -> None:
        """Overlap with the logging policy (computed when first needed: it is the costly part)."""
        if setting not in overlap and logged is not None:
            overlap[setting], support[setting] = overlap_with_logs(build(setting), *logged)

    with threadpool_limits(1):
        yardsticks = {f: family_yardstick(features.tracer, w, config) for f, w in judged.items()}

        def wins(setting: Setting) -> bool:
            return all(lifts[setting][f] > config.min_lift for f in gated)

        def rank(pool: list[Setting]) -> tuple[Setting, bool]:
            winners = [s for s in pool if wins(s)]
            return min(winners or pool, key=standing), bool(winners)

        def overlaps(setting: Setting) -> bool:
            measure(setting)
            enough = overlap.get(setting, 1.0) >= required_share
            support_known = support.get(setting, float("nan"))
            return enough and (np.isnan(support_known) or support_known >= required_support)

        def choose(pool: list[Setting]) -> tuple[Setting, bool]:
            # The first in order of preference within the exposure and overlap limits.
            for s in sorted(pool, key=lambda s: (not wins(s), *standing(s))):
                if exposure(s) <= config.max_item_share and overlaps(s):
                    return s, wins(s)
            return rank(admissible(pool))

        def admissible(pool: list[Setting]) -> list[Setting]:
            within = [s for s in pool if overlaps(s)]
            if not within:  # nothing overlaps enough: the settings that overlap most
                top = max(overlap.get(s, 1.0) for s in pool)
                within = [s for s in pool if overlap.get(s, 1.0) >= top - 1e-12]
            spread = [s for s in within if exposure(s) <= config.max_item_share]
            # nothing within the exposure limit: the least concentrated settings
            return spread or [min(within, key=lambda s: (shares[s], *standing(s)))]

        if family == "pfa":  # the PFA planner has no shape: only temperature and exploration
            shapes = [(0.0, 0.0, 0.0)]
        else:
            shapes = _shapes(config)
        first = config.temperature if config.temperature > 0 else config.search_temperature
        first_eps = config.epsilon if config.epsilon > 0 else config.search_epsilon
        spreads = _spreads(config)
        n_refine = min(max(1, config.refine), len(shapes))
        total = len(shapes) + n_refine * len(spreads)
        clock = _SearchClock(config.search_budget_s)
        # The first setting's time says whether the whole grid fits the budget.
        evaluate((*shapes[0], first, first_eps, 1.0, 0))
        if clock.elapsed() * total > clock.budget_s:
            clock.cut = True
            shapes = [shapes[0], *[x for x in preferred_shapes(shapes) if x != shapes[0]]]
            logger.warning(
                "policy search: one setting took %.1f s (%d items in the bank), so the %d "
                "settings of the grid would take about %.0f s against a budget of %.0f s "
                "(search_budget_s): shapes in order of preference, each stage stopped when "
                "its share of the budget is spent",
                clock.elapsed(), len(items), total, clock.elapsed() * total, clock.budget_s,
            )  # fmt: skip
        for n, shape in enumerate(shapes):
            if clock.cut and clock.elapsed() > FIRST_STAGE_SHARE * clock.budget_s:
                logger.warning("policy search: budget spent after %d of %d shapes", n, len(shapes))
                break
            evaluate((*shape, first, first_eps, 1.0, 0))
            clock.progress("shapes", n + 1, len(shapes))
        stage_one = list(scored)
        ordered = sorted(stage_one, key=lambda s: (not wins(s), *standing(s)))
        refined = ordered[:n_refine]
        if not clock.cut:
            second = [(*s[:3], *spread, 0) for s in refined for spread in spreads]
        else:  # every kept shape at each spread in turn, so that a cut starves none of them
            second = [
                (*s[:3], *spread, 0)
                for spread in preferred_spreads(spreads, first)
                for s in refined
            ]
        for n, setting in enumerate(second):
            if clock.cut and clock.elapsed() > clock.budget_s:
                logger.warning(
                    "policy search: budget spent after %d of %d second-stage settings",
                    n, len(second),
                )  # fmt: skip
                break
            evaluate(setting)
            clock.progress("temperature, exploration and cap", n + 1, len(second))
        best, wins_all = choose(list(scored))
        # The endgame: the setting kept, its last questions planned without the focus term
        # (the place of a question is known in every world), then the rule above once more.
        endgames = [k for k in config.endgames if 0 < k < config.horizon]
        if (
            family != "pfa"
            and best[2] > 0
            and endgames
            and not (clock.cut and clock.elapsed() > clock.budget_s)
        ):
            for n, k in enumerate(endgames):
                evaluate((*best[:6], k))
                clock.progress("endgame", n + 1, len(endgames))
            best, wins_all = choose(list(scored))
        measure(best)
        # Families the search need not win in (ruled out by the held-out answers) are
        # simulated for the chosen setting only, for the metrics and the log.
        evaluate(best, [f for f in judged if f not in gated])
    policy = build(best)
    unlock, cap, focus, temperature, epsilon, max_choice, endgame = best
    metrics: dict[str, float] = {
        "train_examples": float(len(features.examples)),
        "search_settings": float(len(scored)),
        "search_best_mastered": scored[best][primary],
        "search_worst_mastered": float(min(v[primary] for v in scored.values())),
        "search_best_item_share": shares[best],
        "search_best_effective_share": overlap.get(best, float("nan")),
        "search_required_effective_share": required_share,
        "search_best_support": support.get(best, float("nan")),
        "search_cross_fitted": float(bool(pairs)),
        "search_best_cross_fitted_mastered": (
            float(crossed[best].mean()) if best in crossed else float("nan")
        ),
        "search_wins_every_family": float(wins_all),
        "search_budget_cut": float(clock.cut),
        "search_seconds": clock.elapsed(),
        "search_families_gated": float(len(gated)),
        "planning_family_pfa": float(family == "pfa"),
        "chosen_unlock": unlock,
        "chosen_mastery_cap": cap,
        "chosen_focus": focus,
        "chosen_temperature": temperature,
        "chosen_epsilon": epsilon,
        "chosen_max_choice": max_choice,
        "chosen_endgame": float(endgame),
    }
    for name, stick in yardsticks.items():
        metrics[f"search_{name}_lift_lower_bound"] = lifts[best][name]
        metrics[f"search_{name}_mastered"] = scored[best][name]
        metrics[f"search_{name}_best_baseline"] = stick.best_baseline
        metrics[f"search_{name}_oracle"] = stick.oracle
        metrics[f"search_{name}_margin"] = stick.margin(scored[best][name])
    # KFP metrics refuse NaN: a figure that does not apply (no logged propensities) is left out.
    policy.metrics = {k: v for k, v in metrics.items() if np.isfinite(v)}
    logger.info(
        "policy search: %d settings in %s; chosen unlock %.1f, cap %.3f, focus %.2f, "
        "temperature %.2f, epsilon %.2f, max choice %.2f, endgame %d",
        len(scored), ", ".join(judged), unlock, cap, focus, temperature, epsilon, max_choice,
        endgame,
    )  # fmt: skip
    for name, stick in yardsticks.items():
        logger.info(
            "  %s%s: %.3f skills mastered vs best baseline %s %.3f (oracle %.3f, random %.3f)",
            name, "" if name in gated else " (not gated: ruled out by the held-out answers)",
            scored[best][name], stick.best_name, stick.best_baseline, stick.oracle, stick.random,
        )  # fmt: skip
    if crossed:
        kept = sum(robust(s) for s in crossed)
        top = max(float(v.mean()) for v in crossed.values())
        logger.info(
            "  cross-fitted worlds: %d of %d settings shown worse than their best (%.3f "
            "skills mastered); the chosen setting masters %.3f there%s",
            len(crossed) - kept, len(crossed), top, float(crossed[best].mean()),
            "" if robust(best) else " (no setting clear of them met the other limits)",
        )  # fmt: skip
    if not wins_all:
        logger.warning(
            "policy search: no setting beats the best baseline in every gated family (%s); "
            "kept the best in %s, the family that predicts held-out answers best",
            ", ".join(gated), primary,
        )  # fmt: skip
    return policy


@dataclass(frozen=True)
class TrainingStageResult:
    """What :func:`run_training_stage` reports.

    Attributes:
        run_id: MLflow run id.
        model_version: Registered version of ``quiz-policy``.
        metrics: Training metrics (also logged to MLflow).
    """

    run_id: str
    model_version: str
    metrics: dict[str, float]

    def __getitem__(self, key: str) -> Any:
        """Read access by name, for callers written against the former dict result."""
        return getattr(self, key)


def _pyfunc_class() -> type:
    """Builds the MLflow pyfunc wrapper lazily (mlflow is imported only when tracking)."""
    import mlflow.pyfunc

    class QuizPolicyModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
        """MLflow pyfunc face of a :class:`QuizPolicy` (batch scoring and the registry).

        Input: a DataFrame with a ``history`` column, each a JSON list of
        ``{"item_id": ..., "correct": 0/1}``; output: ``item_id`` and ``propensity``.
        """

        def load_context(self, context: Any) -> None:
            from quizops.policy import QuizPolicy

            self.policy = QuizPolicy.load(context.artifacts["policy"])

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            import json as _json

            import pandas as _pd

            histories = []
            for raw in model_input["history"]:
                answers = _json.loads(raw) if isinstance(raw, str) else raw
                histories.append([(str(a["item_id"]), int(a["correct"])) for a in answers])
            items, propensities = self.policy.choose_many(histories)
            return _pd.DataFrame({"item_id": items, "propensity": propensities})

    return QuizPolicyModel


def code_version() -> str:
    """The quizops version and, inside a git checkout, the commit (``0.1.0+<sha>``).

    Returns:
        The version string.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("quizops")
    except PackageNotFoundError:
        base = "unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{base}+{sha}" if sha else base


def data_identity(interactions: pd.DataFrame | None, features_dir: Path) -> dict[str, str]:
    """Span and content hash of the training data (no values of any row).

    Args:
        interactions: The interaction table, if the feature set has it.
        features_dir: The feature set folder.

    Returns:
        ``data.span_start``, ``data.span_end``, ``data.sha256``.
    """
    digest = hashlib.sha256()
    for name in ("interactions.parquet", "examples.parquet", "items.parquet", "tracer.json"):
        path = features_dir / name
        if path.is_file():
            digest.update(path.read_bytes())
    out = {"data.sha256": digest.hexdigest()}
    if interactions is not None and not interactions.empty:
        out["data.span_start"] = str(interactions["timestamp"].min())
        out["data.span_end"] = str(interactions["timestamp"].max())
    return out


def without_held_out(features: FeatureSet, config: TrainingConfig) -> tuple[FeatureSet, int]:
    """The feature set without the students the evaluation holds out for off-policy estimates.

    The split is :func:`quizops.evaluation.held_out_students` on the pseudonymous student id
    with ``config.holdout_fraction`` and ``config.split_seed``, the evaluation's own settings,
    so the evaluation's held-out students are never seen by the simulators or the search.

    Args:
        features: The feature set.
        config: Training settings (the split).

    Returns:
        The reduced feature set and the number of held-out students removed.
    """
    from quizops.evaluation.decisions import held_out_students

    def keep(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or frame.empty or "student_id" not in frame.columns:
            return frame
        mask = held_out_students(
            frame["student_id"].to_numpy(), config.holdout_fraction, config.split_seed
        )
        return frame.loc[~mask].reset_index(drop=True)

    def students(frame: pd.DataFrame | None) -> int:
        if frame is None or "student_id" not in frame.columns:
            return 0
        return int(frame["student_id"].astype(str).nunique())

    kept = replace(
        features, examples=keep(features.examples), interactions=keep(features.interactions)
    )
    return kept, students(features.interactions) - students(kept.interactions)


def run_training_stage(*, features_dir: str | os.PathLike[str],
                       model_dir: str | os.PathLike[str], tracking_uri: str, experiment: str,
                       config: TrainingConfig | None = None, tags: dict[str, str] | None = None,
                       kfp_run_id: str = "", span: str = "",
                       image: str = "") -> TrainingStageResult:  # fmt: skip
    """Trains the policy, writes it to ``model_dir`` and registers it in MLflow.

    The policy is first saved to a temporary folder and moved into ``model_dir`` only after
    training and registration succeed, so a failed stage leaves no model behind.

    Args:
        features_dir: Output folder of feature engineering.
        model_dir: Destination folder of the policy (the KFP Model artifact).
        tracking_uri: MLflow tracking URI.
        experiment: MLflow experiment name.
        config: Hyper-parameters.
        tags: Extra MLflow run tags (no personal data).
        kfp_run_id: The KFP run id (a run tag; "" outside KFP).
        span: The data span trained on (a lineage tag; "" = the data's first to last
            timestamp).
        image: The image the stage runs in (a lineage tag; "" = ``QUIZOPS_IMAGE`` of the
            environment, else the core image's name).

    Returns:
        The result.

    Raises:
        ConfigurationError: No tracking URI.
        InputDataError: Missing or too small feature set.
    """
    import mlflow
    from mlflow.models import infer_signature

    from quizops.names import CORE_IMAGE, IMAGE_ENV
    from quizops.simulation.fitted import fit_simulators
    from quizops.tracking import REGISTERED_MODEL, Lineage, start_tracking, tag_lineage

    config = config or TrainingConfig()
    features_dir = Path(features_dir)
    all_features = load_features(features_dir)
    identity = data_identity(all_features.interactions, features_dir)
    features, held_out = without_held_out(all_features, config)
    logger.info(
        "training: %d students held out for off-policy evaluation (fraction %.2f, seed %d)",
        held_out, config.holdout_fraction, config.split_seed,
    )  # fmt: skip
    start_tracking(tracking_uri, experiment)
    interactions = features.interactions
    simulators = (
        fit_simulators(interactions, seed=config.seed) if interactions is not None else None
    )
    staging = Path(tempfile.mkdtemp(prefix="quizops-policy-"))
    run_tags = {**(tags or {}), "kfp_run_id": kfp_run_id, "code_version": code_version()}
    try:
        with mlflow.start_run(run_name="train_policy", tags=run_tags) as run:
            policy = train_policy(features, config, simulators)
            chosen = replace(
                config,
                temperature=policy.temperature,
                epsilon=policy.epsilon,
                unlock=policy.metrics["chosen_unlock"],
                mastery_cap=policy.metrics["chosen_mastery_cap"],
                focus=policy.metrics["chosen_focus"],
            )
            mlflow.log_param("planning_family", policy.family)
            mlflow.log_params(
                {f"train.{k}": v for k, v in asdict(chosen).items() if not isinstance(v, tuple)}
            )
            mlflow.log_params(
                {f"search.{k}": json.dumps(v) for k, v in asdict(config).items()
                 if isinstance(v, tuple)}
            )  # fmt: skip
            mlflow.log_params(
                {
                    "data.examples": len(features.examples),
                    "data.items": len(features.items),
                    "data.skills": features.tracer.n_skills,
                    "kfp_run_id": kfp_run_id or "none",
                    "code_version": run_tags["code_version"],
                    "data.held_out_students": held_out,
                    **identity,
                }
            )
            metrics = dict(policy.metrics)
            for name, world in (simulators or {}).items():
                for key, value in world.validation.items():
                    metrics[f"sim_{name}_{key}"] = float(value)
            mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
            mlflow.log_dict(feature_spec(features.tracer), "feature_spec.json")
            if simulators:
                mlflow.log_dict({n: w.validation for n, w in simulators.items()}, "simulators.json")
            policy.metrics = metrics
            policy.save(staging / "policy")
            example_ids = policy.item_bank[:2]
            example = pd.DataFrame(
                {"history": [json.dumps([{"item_id": i, "correct": 1} for i in example_ids])]}
            )
            output = pd.DataFrame({"item_id": [example_ids[0]], "propensity": [0.5]})
            import quizops

            info = mlflow.pyfunc.log_model(
                name="policy",
                python_model=_pyfunc_class()(),
                artifacts={"policy": str(staging / "policy")},
                code_paths=[str(Path(quizops.__file__).parent)],
                pip_requirements=[
                    "numpy>=2",
                    "pandas>=2",
                    "pyarrow",
                    "scikit-learn>=1.5",
                    "scipy",
                    "joblib",
                ],
                signature=infer_signature(example, output),
                input_example=example,
                registered_model_name=REGISTERED_MODEL,
            )
            version = str(info.registered_model_version)
            span_text = span or "{}..{}".format(
                identity.get("data.span_start", ""), identity.get("data.span_end", "")
            )
            tag_lineage(
                version,
                Lineage(
                    span=span_text.strip("."),
                    data_hash=identity["data.sha256"],
                    kfp_run_id=kfp_run_id,
                    image=image or os.environ.get(IMAGE_ENV, "") or CORE_IMAGE,
                    code_version=run_tags["code_version"],
                ),
                tracking_uri,
            )
        policy.version = version
        policy.save(staging / "policy")
        model_dir = Path(model_dir)
        if model_dir.exists():
            shutil.rmtree(model_dir)
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging / "policy"), model_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("registered %s version %s (run %s)", REGISTERED_MODEL, version, run.info.run_id)
    return TrainingStageResult(run.info.run_id, version, metrics)
