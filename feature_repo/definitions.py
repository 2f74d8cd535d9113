"""Feast definitions of the quizops repository, for the ``feast`` command line.

The pipeline and the predictor build the same objects with
:func:`quizops.featurestore.definitions.build_definitions`; this file lets ``feast`` list, plan or
apply them by hand::

    QUIZOPS_HOME=$PWD/.quizops .venvs/core/bin/feast -c feature_repo plan

The offline files live in ``$QUIZOPS_FEAST_OFFLINE`` (production: a gs:// prefix) or, by
default, ``$QUIZOPS_HOME/feature_store/data``.
"""

import os

from quizops.featurestore.definitions import build_definitions

_OFFLINE = os.environ.get("QUIZOPS_FEAST_OFFLINE") or os.path.join(
    os.environ.get("QUIZOPS_HOME", ".quizops"), "feature_store", "data"
)
_DEFINITIONS = build_definitions(_OFFLINE)

student = _DEFINITIONS.student
item = _DEFINITIONS.item
tracer = _DEFINITIONS.tracer
student_state_source = _DEFINITIONS.student_source
student_state_push = _DEFINITIONS.student_push
student_state = _DEFINITIONS.student_view
item_params_source = _DEFINITIONS.item_source
item_params = _DEFINITIONS.item_view
