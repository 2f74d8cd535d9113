"""Monitoring of the served policy: drift and skew of decisions, live decision quality.

:func:`run_monitoring_stage` (the pipeline stage, in the validation image: it uses TFDV) lives
in :mod:`quizops.monitoring.stage`; :mod:`quizops.monitoring.decisions` lists decision spans
without TFDV; :mod:`quizops.monitoring.retrain` starts a training run through the KFP REST API.
The stage is loaded on first use so that this package imports without TFDV.
"""

from typing import Any

__all__ = ["run_monitoring_stage"]


def __getattr__(name: str) -> Any:
    """Loads the stage entry point lazily (it imports TFDV).

    Args:
        name: The attribute asked for.

    Returns:
        The attribute.

    Raises:
        AttributeError: Any other name.
    """
    if name == "run_monitoring_stage":
        from quizops.monitoring.stage import run_monitoring_stage

        return run_monitoring_stage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
