"""Data validation: TFDV statistics, curated schema, anomalies, drift, skew and domain checks.

Runs in the validation environment (TensorFlow Data Validation 1.16). TFDV is imported by the
submodules that need it, never by this package's ``__init__`` and never by ``quizops`` itself,
so that the core environment (which has no TFDV) can import the rest of the library and the
command line. The entry point of the pipeline stage is :func:`run_validation_stage`
(:mod:`quizops.validation.gate`), loaded on first use so that importing this package needs no
TFDV.
"""

from typing import Any

__all__ = ["run_validation_stage"]


def __getattr__(name: str) -> Any:
    """Loads the stage entry point lazily (it imports TFDV).

    Args:
        name: The attribute asked for.

    Returns:
        The attribute.

    Raises:
        AttributeError: Any other name.
    """
    if name == "run_validation_stage":
        from quizops.validation.gate import run_validation_stage

        return run_validation_stage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
