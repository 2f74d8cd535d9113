"""Evaluation of a challenger policy: in fitted simulators, off-policy, and the champion gate.

One module per concern: :mod:`~quizops.evaluation.decisions` (logged decisions, contexts,
rewards, the student split), :mod:`~quizops.evaluation.behaviour` (propensities when the logs
carry none), :mod:`~quizops.evaluation.ope` (estimators, student bootstrap, overlap),
:mod:`~quizops.evaluation.offpolicy` (OPE of policies on held-out students),
:mod:`~quizops.evaluation.simulation_eval` (paired rollouts in fitted simulators),
:mod:`~quizops.evaluation.gate` (thresholds and the decision), :mod:`~quizops.evaluation.report`
and :mod:`~quizops.evaluation.svg` (HTML, Markdown, metrics, charts) and
:mod:`~quizops.evaluation.stage` (:func:`run_evaluation_stage`).
"""

from quizops.evaluation.decisions import held_out_students
from quizops.evaluation.gate import GateConfig, GateDecision
from quizops.evaluation.stage import (
    GATE_BLESSED_TAG,
    GATE_CHAMPION_TAG,
    EvaluationResult,
    run_evaluation_stage,
)

__all__ = [
    "GATE_BLESSED_TAG",
    "GATE_CHAMPION_TAG",
    "EvaluationResult",
    "GateConfig",
    "GateDecision",
    "held_out_students",
    "run_evaluation_stage",
]
