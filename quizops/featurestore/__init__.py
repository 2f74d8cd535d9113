"""Student state in a feature store (Feast): offline features, materialization, online state.

* :mod:`~quizops.featurestore.definitions`: entities and feature views.
* :mod:`~quizops.featurestore.config`: where the repository lives, opening it.
* :mod:`~quizops.featurestore.state`: the stored state and the one answer-update code path.
* :mod:`~quizops.featurestore.offline`: states after every answer; item parameters.
* :mod:`~quizops.featurestore.materialize`: the pipeline stage.
* :mod:`~quizops.featurestore.online`: the predictor's read, apply-once and write.
* :mod:`~quizops.featurestore.serving`: the stateful request form (a request's states, written
  only once it is answered; choosing from stored states; opening the store at start).

Nothing here imports Feast at module import; the functions that need it do.
"""

from quizops.featurestore.materialize import MaterializeResult, run_materialize_features_stage

__all__ = ["MaterializeResult", "run_materialize_features_stage"]
