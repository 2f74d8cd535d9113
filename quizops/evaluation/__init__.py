"""Evaluation of a challenger policy: off-policy, in simulation, and the champion gate.

The package is being built (issue 9); until its stage lands, the previous evaluation API is
re-exported from :mod:`quizops.evaluation_old` so that callers keep working.
"""

from quizops.evaluation_old import (
    Evaluation,
    GateConfig,
    evaluate_challenger,
    render_report,
    run_evaluation_stage,
    snips,
)

__all__ = [
    "Evaluation",
    "GateConfig",
    "evaluate_challenger",
    "render_report",
    "run_evaluation_stage",
    "snips",
]
