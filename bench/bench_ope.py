"""Off-policy evaluation throughput: every estimator with 200 bootstrap resamples over students
on 1,000,000 logged decisions (issue 9 target: at most 30 s).

Anchor, in the same run: a plain loop of 200 decision-level resamples of one estimator
(``rng.integers`` + fancy indexing + IPS mean per resample), the way a textbook bootstrap (and
Open Bandit Pipeline's ``estimate_confidence_interval_by_bootstrap``) resamples rows.
"""

from __future__ import annotations

import os
import time

import numpy as np

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
        {
            "benchmark": f"OPE 7 estimators, {RESAMPLES} student resamples, {DECISIONS:,} rows",
            "measured": ours,
            "unit": "s",
            "target": "<= 30 s",
            "anchor": f"row bootstrap of IPS alone, plain loop: {anchor:.1f} s",
        }
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
