"""The curated schema of the canonical table: load, infer-and-curate, comparators.

The schema lives in the package (``quizops/validation/schema.pbtxt``) and changes only through
the explicit ``quizops update-schema`` command, which infers a schema from a table and applies
the curation rules below, so that a reviewer sees every change as a diff. Curation rules:

- no string domains: item, skill and student ids differ between sources (ASSISTments, EdNet,
  canonical) and between spans, so a domain inferred from one sample would reject the next;
- ``correct`` is a categorical int in [0, 1]; counts are ints >= 0; ``response_time_ms`` is a
  float >= 0; ``propensity`` a float in [0, 1];
- ``response_time_ms``, ``answer_text`` and ``propensity`` may be missing (EdNet has no
  propensity, real exports no answer text); every other column must be present in every row;
- environments: ``TRAINING`` (default) holds every column; ``SERVING`` (decision logs) holds
  only ``item_id`` and ``propensity``.

Drift and skew comparators are not stored: their thresholds are pipeline parameters and
:func:`with_comparators` adds them to a copy for each run. Numeric comparators get the
threshold 1 (the largest Jensen-Shannon divergence: TFDV measures but never fires); the gate
compares numeric features with :mod:`quizops.validation.drift` instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from quizops.canonical import CANONICAL_COLUMNS
from quizops.errors import InputDataError

#: The curated schema shipped with the package.
CURATED_SCHEMA_PATH = Path(__file__).with_name("schema.pbtxt")
TRAINING = "TRAINING"
SERVING = "SERVING"
#: Columns the serving decision logs carry (the SERVING environment).
SERVING_FEATURES: tuple[str, ...] = ("item_id", "propensity")
#: Columns that may be missing in some rows.
OPTIONAL_FEATURES: tuple[str, ...] = ("response_time_ms", "answer_text", "propensity")
#: Categorical columns compared span to span with the L-infinity distance.
DRIFT_CATEGORICAL: tuple[str, ...] = ("item_id", "skill_id", "correct")
#: Numeric columns compared span to span with the Jensen-Shannon divergence.
DRIFT_NUMERIC: tuple[str, ...] = ("attempt_count", "hint_count", "response_time_ms", "propensity")
#: Threshold given to TFDV's numeric comparators: measure only (JS divergence is at most 1).
TFDV_MEASURE_ONLY = 1.0
#: Training-serving skew comparisons (column -> "linf" or "js").
SKEW_COMPARATORS: dict[str, str] = {"item_id": "linf", "propensity": "js"}

_INT_DOMAINS: dict[str, tuple[int, int | None, bool]] = {
    # column -> (min, max, categorical)
    "correct": (0, 1, True),
    "timestamp": (0, None, False),
    "attempt_count": (0, None, False),
    "hint_count": (0, None, False),
}
_FLOAT_DOMAINS: dict[str, tuple[float, float | None]] = {
    "response_time_ms": (0.0, None),
    "propensity": (0.0, 1.0),
}


def load_schema(path: str | os.PathLike[str] | None = None) -> schema_pb2.Schema:
    """Loads a schema from text format (the curated one by default).

    Args:
        path: A ``.pbtxt`` schema; defaults to :data:`CURATED_SCHEMA_PATH`.

    Returns:
        The schema.

    Raises:
        InputDataError: The file is missing or not a schema.
    """
    path = Path(path or CURATED_SCHEMA_PATH)
    if not path.is_file():
        raise InputDataError(f"{path}: no schema file (create it with `quizops update-schema`)")
    try:
        return text_format.Parse(path.read_text(), schema_pb2.Schema())
    except text_format.ParseError as exc:
        raise InputDataError(f"{path}: not a TFDV schema: {exc}") from exc


SCHEMA_HEADER = (
    "# The curated schema of the canonical interaction table (quizops/validation/schema.py).\n"
    "# Change it only with `quizops update-schema --data TABLE` and review the diff.\n"
)


def schema_text(schema: schema_pb2.Schema, header: str = "") -> str:
    """Serializes a schema to text format.

    Args:
        schema: The schema.
        header: Comment lines to put first.

    Returns:
        The text.
    """
    return header + text_format.MessageToString(schema)


def curate(inferred: schema_pb2.Schema) -> schema_pb2.Schema:
    """Applies the curation rules of this module to an inferred schema.

    Args:
        inferred: A schema from ``tfdv.infer_schema`` on a canonical table.

    Returns:
        A new, curated schema.

    Raises:
        InputDataError: The inferred schema lacks a canonical column.
    """
    schema = schema_pb2.Schema()
    schema.CopyFrom(inferred)
    del schema.string_domain[:]
    names = [f.name for f in schema.feature]
    missing = [c for c in CANONICAL_COLUMNS if c not in names]
    if missing:
        raise InputDataError(f"the table lacks canonical column(s) {missing}")
    schema.default_environment[:] = [TRAINING, SERVING]
    for feature in schema.feature:
        for field in ("domain", "int_domain", "float_domain", "bool_domain", "string_domain"):
            feature.ClearField(field)
        feature.ClearField("distribution_constraints")
        feature.ClearField("in_environment")
        feature.ClearField("not_in_environment")
        feature.ClearField("drift_comparator")
        feature.ClearField("skew_comparator")
        if feature.name in _INT_DOMAINS:
            low, high, categorical = _INT_DOMAINS[feature.name]
            feature.type = schema_pb2.INT
            feature.int_domain.min = low
            if high is not None:
                feature.int_domain.max = high
            feature.int_domain.is_categorical = categorical
        elif feature.name in _FLOAT_DOMAINS:
            low_f, high_f = _FLOAT_DOMAINS[feature.name]
            feature.type = schema_pb2.FLOAT
            feature.float_domain.min = low_f
            if high_f is not None:
                feature.float_domain.max = high_f
        else:
            feature.type = schema_pb2.BYTES
        feature.ClearField("presence")
        feature.ClearField("value_count")
        feature.ClearField("shape")
        if feature.name in OPTIONAL_FEATURES:
            feature.presence.min_fraction = 0.0
            feature.presence.min_count = 0
            feature.value_count.min = 1
            feature.value_count.max = 1
        else:
            feature.presence.min_fraction = 1.0
            feature.presence.min_count = 1
            feature.shape.dim.add().size = 1
        if feature.name not in SERVING_FEATURES:
            feature.not_in_environment.append(SERVING)
    return schema


def infer_curated_schema(
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
) -> schema_pb2.Schema:
    """Infers a schema from statistics and curates it.

    Args:
        statistics: Statistics of a canonical table.

    Returns:
        The curated schema.
    """
    return curate(tfdv.infer_schema(statistics, infer_feature_shape=True))


def write_schema(schema: schema_pb2.Schema, path: str | os.PathLike[str]) -> Path:
    """Writes a schema in text format.

    Args:
        schema: The schema.
        path: Destination.

    Returns:
        The path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(schema, SCHEMA_HEADER))
    return path


def with_comparators(
    schema: schema_pb2.Schema,
    drift_js_threshold: float,
    drift_linf_threshold: float,
    skew_linf_threshold: float,
    skew_js_threshold: float,
) -> schema_pb2.Schema:
    """Returns a copy of the schema with this run's drift and skew comparators.

    Args:
        schema: The curated schema.
        drift_js_threshold: Jensen-Shannon threshold for numeric drift between spans (applied
            by the gate through :mod:`quizops.validation.drift`; kept for the signature).
        drift_linf_threshold: L-infinity threshold for categorical drift between spans.
        skew_linf_threshold: L-infinity threshold for categorical training-serving skew.
        skew_js_threshold: Jensen-Shannon threshold for numeric skew (applied by the gate).

    Returns:
        The new schema.
    """
    out = schema_pb2.Schema()
    out.CopyFrom(schema)
    for feature in out.feature:
        if feature.name in DRIFT_CATEGORICAL:
            feature.drift_comparator.infinity_norm.threshold = drift_linf_threshold
        elif feature.name in DRIFT_NUMERIC:
            feature.drift_comparator.jensen_shannon_divergence.threshold = TFDV_MEASURE_ONLY
        kind = SKEW_COMPARATORS.get(feature.name)
        if kind == "linf":
            feature.skew_comparator.infinity_norm.threshold = skew_linf_threshold
        elif kind == "js":
            feature.skew_comparator.jensen_shannon_divergence.threshold = TFDV_MEASURE_ONLY
    return out
