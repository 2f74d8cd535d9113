"""Numeric drift and skew from quantile histograms: a Jensen-Shannon divergence that works.

TFDV's numeric Jensen-Shannon comparator uses the standard histogram: equal-width buckets
between each dataset's own min and max, re-bucketed onto common boundaries assuming uniform
mass inside each bucket. On skewed data (response times, log-normal) one extreme value stretches
every bucket, most of the mass lands in the first one, and the re-bucketing error dominates.
Measured on log-normal response times, 50,000 rows a side (tests/validation/test_drift.py):
TFDV gives 0.050 for two samples of the same distribution and 0.034 for a 30% slowdown (noise
above the signal, not even monotone), 0.105 for a doubling. This module gives 0.007, 0.029 and
0.143. It compares the quantile histograms instead (equal-mass
buckets, which follow the data where it is dense): each dataset's CDF is piecewise linear between
its quantile boundaries (with jumps for repeated values, e.g. integer counts), both CDFs are
evaluated on the union of the boundaries, and the divergence is computed between the resulting
bucket masses (base 2, so it lies in [0, 1] like TFDV's).

The gate uses these values for numeric features; TFDV's own values are still recorded (as
``js_tfdv``) for comparison.
"""

from __future__ import annotations

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2


def _quantile_buckets(feature: statistics_pb2.FeatureNameStatistics) -> np.ndarray | None:
    """Returns ``[[low, high, count], ...]`` of a feature's quantile histogram.

    Args:
        feature: Feature statistics.

    Returns:
        The buckets, or None when the feature has no (non-empty) quantile histogram.
    """
    if not feature.HasField("num_stats"):
        return None
    for histogram in feature.num_stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES:
            buckets = np.array(
                [(b.low_value, b.high_value, b.sample_count) for b in histogram.buckets],
                dtype=np.float64,
            )
            if buckets.size and buckets[:, 2].sum() > 0:
                return buckets
    return None


def _cdf(buckets: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Evaluates the piecewise-linear CDF of quantile buckets (right-continuous).

    Args:
        buckets: ``[[low, high, count], ...]``.
        points: Where to evaluate.

    Returns:
        CDF values in [0, 1].
    """
    low, high, count = buckets[:, 0:1], buckets[:, 1:2], buckets[:, 2:3]
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(width > 0, (points[None, :] - low) / width, 0.0)
    share = np.where(width > 0, np.clip(inside, 0.0, 1.0), (points[None, :] >= low) * 1.0)
    return (count * share).sum(axis=0) / count.sum()


def _masses(buckets: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Bucket masses of a distribution on a common grid (below, between, above).

    Args:
        buckets: Quantile buckets.
        grid: Sorted common boundaries.

    Returns:
        Masses summing to 1.
    """
    cdf = _cdf(buckets, grid)
    return np.clip(np.concatenate([[cdf[0]], np.diff(cdf), [1.0 - cdf[-1]]]), 0.0, None)


def jensen_shannon(
    current: statistics_pb2.FeatureNameStatistics,
    baseline: statistics_pb2.FeatureNameStatistics,
) -> float | None:
    """Jensen-Shannon divergence (base 2) between two features' quantile histograms.

    Args:
        current: This span's feature statistics.
        baseline: The baseline's feature statistics.

    Returns:
        The divergence in [0, 1], or None when either side has no values.
    """
    a, b = _quantile_buckets(current), _quantile_buckets(baseline)
    if a is None or b is None:
        return None
    grid = np.unique(np.concatenate([a[:, :2].ravel(), b[:, :2].ravel()]))
    p, q = _masses(a, grid), _masses(b, grid)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(x: np.ndarray, y: np.ndarray) -> float:
        keep = x > 0
        return float(np.sum(x[keep] * np.log2(x[keep] / y[keep])))

    return float(min(1.0, max(0.0, 0.5 * kl(p, m) + 0.5 * kl(q, m))))


def _features(
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
) -> dict[str, statistics_pb2.FeatureNameStatistics]:
    dataset = statistics.datasets[0]
    return {".".join(f.path.step) or f.name: f for f in dataset.features}


def numeric_divergences(
    current: statistics_pb2.DatasetFeatureStatisticsList,
    baseline: statistics_pb2.DatasetFeatureStatisticsList,
    features: tuple[str, ...] | list[str],
) -> dict[str, float]:
    """Quantile-histogram Jensen-Shannon divergences of numeric features.

    Args:
        current: This span's statistics (training side).
        baseline: The previous span's (drift) or the serving statistics (skew).
        features: Numeric feature names to compare.

    Returns:
        Feature -> divergence, for features present with values on both sides.
    """
    mine, theirs = _features(current), _features(baseline)
    out = {}
    for name in features:
        if name in mine and name in theirs:
            value = jensen_shannon(mine[name], theirs[name])
            if value is not None:
                out[name] = value
    return out
