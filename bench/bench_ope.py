"""Off-policy evaluation: throughput and the behaviour model's accuracy.

1. Every estimator with 200 bootstrap resamples over students on 1,000,000 logged decisions
   (issue 9 target: at most 30 s). Anchor, in the same run: a plain loop of 200 decision-level
   resamples of one estimator (``rng.integers`` + fancy indexing + IPS mean per resample), the
   way a textbook bootstrap (and Open Bandit Pipeline's
   ``estimate_confidence_interval_by_bootstrap``) resamples rows.
2. The behaviour model on the simulator's logs (50,000 decisions, true propensities known):
   share of held-out propensities within 25% of the truth, whether OPE of a uniform target
   with estimated propensities lands inside the interval of OPE with the true ones (DR and
   IPS), and the mean importance weight the logging policy gets from estimated propensities
   (1 when they are right; IPS is biased by its excess). Anchor, in the same run: the group
   classifier as it was before early stopping by student (100 fixed rounds, leaves of 20).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from quizops.evaluation.decisions import DecisionLog
from quizops.evaluation.ope import BanditLog, estimate_with_intervals

DECISIONS = int(os.environ.get("QUIZOPS_BENCH_OPE_DECISIONS", "1000000"))
RESAMPLES = 200
PER_STUDENT = 50


def _log(n: int, seed: int = 0) -> BanditLog:
    rng = np.random.default_rng(seed)
    propensity = rng.uniform(0.005, 0.5, n)
    target = np.clip(propensity * rng.lognormal(0.0, 1.0, n), 0.0, 1.0)
    return BanditLog(
        group=np.arange(n) // PER_STUDENT,
        reward=rng.integers(-1, 2, n).astype(float),
        propensity=propensity,
        target=target,
        q_logged=rng.normal(0.0, 0.3, n),
        q_target=rng.normal(0.0, 0.3, n),
    )


def run() -> list[dict]:
    log = _log(DECISIONS)
    started = time.perf_counter()
    result = estimate_with_intervals(log, clip=20.0, resamples=RESAMPLES, seed=0)
    ours = time.perf_counter() - started
    assert all(np.isfinite(i.low) for i in result.intervals.values())

    rng = np.random.default_rng(0)
    weighted = log.weights * log.reward
    started = time.perf_counter()
    values = [weighted[rng.integers(0, DECISIONS, DECISIONS)].mean() for _ in range(RESAMPLES)]
    anchor = time.perf_counter() - started
    assert len(values) == RESAMPLES
    return [
        *_behaviour_rows(),
        {
            "benchmark": f"OPE 7 estimators, {RESAMPLES} student resamples, {DECISIONS:,} rows",
            "measured": ours,
            "unit": "s",
            "target": "<= 30 s",
            "anchor": f"row bootstrap of IPS alone, plain loop: {anchor:.1f} s",
        },
    ]


def _behaviour_rows() -> list[dict]:
    from threadpoolctl import threadpool_limits

    from quizops.evaluation.decisions import build_decision_log
    from quizops.evaluation.offpolicy import evaluate_off_policy, uniform_target
    from quizops.simulation import make_world, simulate_logs

    raw = simulate_logs(make_world(7), 50_000, seed=3)
    table = pd.DataFrame(
        {
            "interaction_id": raw["order_id"].astype(str),
            "student_id": raw["user_id"].astype(str),
            "item_id": raw["problem_id"].astype(str),
            "skill_id": raw["skill_id"].astype(str),
            "correct": raw["correct"],
            "timestamp": raw["order_id"],
            "propensity": raw["propensity"],
        }
    )
    log = build_decision_log(table, holdout_fraction=0.3, split_seed=0)
    with threadpool_limits(1):
        report = evaluate_off_policy(
            log, {"uniform": uniform_target}, clip=20.0, resamples=200, seed=0
        )
    true = report.results["uniform"].intervals["dr"]
    estimated = report.estimated_propensity_results["uniform"].intervals["dr"]
    inside = true.low <= estimated.estimate <= true.high
    true_ips = report.results["uniform"].intervals["ips"]
    estimated_ips = report.estimated_propensity_results["uniform"].intervals["ips"]
    ips_inside = true_ips.low <= estimated_ips.estimate <= true_ips.high
    check = report.propensity_check
    fixed_rounds = _fixed_rounds_mean_weight(log)
    return [
        {
            "benchmark": "behaviour model: mean weight of the logging policy (true / estimated)",
            "measured": check["mean_weight"],
            "unit": "weight",
            "target": "~1 (IPS's relative bias is the excess)",
            "anchor": f"before (100 fixed rounds, leaves of 20): {fixed_rounds:.3f}",
        },
        {
            "benchmark": "uniform target IPS: estimated vs true propensities",
            "measured": estimated_ips.estimate,
            "unit": "reward",
            "target": f"inside [{true_ips.low:.4f}, {true_ips.high:.4f}]: "
            f"{'yes' if ips_inside else 'NO'}",
            "anchor": f"true-propensity IPS {true_ips.estimate:.4f}",
        },
        {
            "benchmark": "behaviour model, simulator logs: held-out propensities within 25%",
            "measured": check["share_within_25pct"],
            "unit": "share",
            "target": "estimated-propensity OPE inside true-propensity interval",
            "anchor": f"log-propensity correlation {check['log_correlation']:.3f}",
        },
        {
            "benchmark": "uniform target DR: estimated vs true propensities",
            "measured": estimated.estimate,
            "unit": "reward",
            "target": f"inside [{true.low:.4f}, {true.high:.4f}]: {'yes' if inside else 'NO'}",
            "anchor": f"true-propensity DR {true.estimate:.4f}",
        },
    ]


def _fixed_rounds_mean_weight(log: DecisionLog) -> float:
    """Mean true / estimated propensity with the group classifier boosted a fixed 100 rounds."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from quizops.evaluation.behaviour import BehaviourModel, fit_behaviour_model

    frame = log.frame
    train = np.flatnonzero(~log.held_out)
    rows = np.flatnonzero(log.held_out & frame["reward"].notna().to_numpy())
    with threadpool_limits(1):
        fitted, _ = fit_behaviour_model(
            log.context[train], log.action[train], log.item_group,
            frame["student"].to_numpy()[train], seed=0,
        )  # fmt: skip
        classifier = HistGradientBoostingClassifier(  # the settings before early stopping
            max_iter=100, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
            early_stopping=False, random_state=0,
        )  # fmt: skip
        classifier.fit(log.context[train], fitted.item_class[log.action[train]])
        fixed = BehaviourModel(
            classifier, 1.0, fitted.item_class, fitted.within_class, fitted.n_classes,
            fitted.floor,
        )  # fmt: skip
        estimated = fixed.propensity(log.context[rows], log.action[rows])
    return float(np.mean(frame["propensity"].to_numpy()[rows] / estimated))


if __name__ == "__main__":
    for row in run():
        print(row)
