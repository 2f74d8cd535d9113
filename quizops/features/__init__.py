"""Knowledge-state features: one code path for training and the predictor.

:mod:`~quizops.features.bkt` fits Bayesian Knowledge Tracing by EM with tag-level parameters,
:mod:`~quizops.features.fit` fits the tracer to a log (prerequisites included),
:mod:`~quizops.features.tracer` holds the update rule (vectorized offline, scalar online),
:mod:`~quizops.features.engineer` builds the feature set and :mod:`~quizops.features.stage` is
the pipeline stage.
"""

from quizops.features.bkt import BKTParams, EMFit, _sequences, fit_bkt_em, fit_bkt_skill
from quizops.features.engineer import (
    FEATURE_SPEC_VERSION,
    FeatureSet,
    engineer_features,
    feature_spec,
    load_features,
    save_features,
    state_columns,
)
from quizops.features.fit import estimate_prerequisites, fit_tracer, sort_log
from quizops.features.stage import FeaturesStageResult, run_features_stage
from quizops.features.tracer import KnowledgeTracer, TagArrays, interaction_keys

__all__ = [
    "FEATURE_SPEC_VERSION",
    "BKTParams",
    "EMFit",
    "FeatureSet",
    "FeaturesStageResult",
    "KnowledgeTracer",
    "TagArrays",
    "_sequences",
    "engineer_features",
    "estimate_prerequisites",
    "feature_spec",
    "fit_bkt_em",
    "fit_bkt_skill",
    "fit_tracer",
    "interaction_keys",
    "load_features",
    "run_features_stage",
    "save_features",
    "sort_log",
    "state_columns",
]
