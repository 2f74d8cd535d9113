"""Numeric drift from quantile histograms against TFDV's standard-histogram value."""

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from quizops.validation import schema as schema_lib
from quizops.validation import statistics as stats_lib
from quizops.validation.drift import jensen_shannon, numeric_divergences


def stats_of(values):
    frame = pd.DataFrame({"response_time_ms": values})
    return stats_lib.generate_statistics(frame)


def feature(statistics):
    return statistics.datasets[0].features[0]


@pytest.fixture(scope="module")
def lognormal_pair():
    rng = np.random.default_rng(0)
    return stats_of(rng.lognormal(9.5, 0.8, 50_000)), stats_of(rng.lognormal(9.5, 0.8, 50_000))


def tfdv_js(current, baseline):
    schema = tfdv.infer_schema(baseline)
    schema.feature[0].drift_comparator.jensen_shannon_divergence.threshold = 1.0
    anomalies = tfdv.validate_statistics(current, schema, previous_statistics=baseline)
    return anomalies.drift_skew_info[0].drift_measurements[0].value


def test_same_distribution_measures_near_zero_where_tfdv_is_noisy(lognormal_pair):
    a, b = lognormal_pair
    ours = jensen_shannon(feature(a), feature(b))
    assert ours < 0.01
    assert ours < tfdv_js(a, b) / 2  # TFDV's equal-width rebucketing error on skewed data


def test_a_small_shift_stands_above_the_noise_and_order_is_monotone(lognormal_pair):
    a, b = lognormal_pair
    noise = jensen_shannon(feature(b), feature(a))
    rng = np.random.default_rng(1)
    slower = stats_of(rng.lognormal(9.5, 0.8, 50_000) * 1.3)  # a 30% slowdown
    small = jensen_shannon(feature(slower), feature(a))
    large = jensen_shannon(feature(stats_of(rng.lognormal(9.5, 0.8, 50_000) * 4.0)), feature(a))
    assert small > 3 * noise
    assert noise < small < large and large > 0.4
    # TFDV's standard-histogram value cannot tell this shift from resampling noise
    assert tfdv_js(slower, a) < tfdv_js(b, a)


def test_disjoint_integer_values_measure_one():
    a = stats_of(np.array([1.0, 2.0, 3.0] * 100))
    b = stats_of(np.array([7.0, 8.0, 9.0] * 100))
    assert jensen_shannon(feature(a), feature(b)) == pytest.approx(1.0, abs=1e-6)
    assert jensen_shannon(feature(a), feature(a)) == pytest.approx(0.0, abs=1e-9)


def test_features_without_values_are_skipped():
    empty = pd.DataFrame({"response_time_ms": [np.nan] * 10, "x": np.arange(10.0)})
    full = pd.DataFrame({"response_time_ms": np.arange(10.0), "x": np.arange(10.0)})
    out = numeric_divergences(
        stats_lib.generate_statistics(empty),
        stats_lib.generate_statistics(full),
        ["response_time_ms", "x", "absent"],
    )
    assert list(out) == ["x"]


def test_tfdv_numeric_comparators_only_measure():
    schema = schema_lib.with_comparators(schema_lib.load_schema(), 0.05, 0.1, 0.1, 0.05)
    by_name = {f.name: f for f in schema.feature}
    assert by_name["response_time_ms"].drift_comparator.jensen_shannon_divergence.threshold == 1
    assert by_name["item_id"].drift_comparator.infinity_norm.threshold == 0.1
