"""Every exception the quizops library raises on purpose.

Each class keeps the built-in parent that callers already catch (the scikit-learn
``NotFittedError(ValueError, AttributeError)`` pattern), so moving an error here never changes what
an ``except`` clause sees. Every message names the file, row, column or field at fault and never a
cell's value. Command-line entry points map each class to an exit status with
:func:`exit_status`: :class:`InputDataError`, :class:`ConfigurationError` and
:class:`ManifestInvalidError` (bad deploy arguments) to 2,
:class:`PIILeftError` to 3, :class:`RunLockedError` (a busy local home) to 4, every other
:class:`QuizopsError` to 1.
"""

from __future__ import annotations


class QuizopsError(Exception):
    """Base class of every error the library raises on purpose."""

    #: Exit status of the ``quizops`` command line for this error.
    exit_code: int = 1


class InputDataError(QuizopsError, ValueError):
    """The input is unreadable, empty, malformed or lacks a required column."""

    exit_code = 2


class ConfigurationError(QuizopsError, RuntimeError):
    """A required key, tracking URI, setting or installed part is missing or invalid."""

    exit_code = 2


class PIILeftError(QuizopsError):
    """Personal data was found that the de-identification policy does not handle."""

    exit_code = 3


class ValidationFailedError(QuizopsError):
    """Data validation found anomalies that fail the gate."""


class ModelNotFoundError(QuizopsError, LookupError):
    """No model (or no blessed model) exists where one was asked for."""


class ModelFitError(QuizopsError, ValueError):
    """A model fitted to the logs (knowledge tracing, a simulator) is not finite or identifiable."""


class RegistryError(QuizopsError, RuntimeError):
    """The model registry (MLflow) failed or answered against expectations."""


class DeploymentError(QuizopsError, RuntimeError):
    """A deployment (local or KServe) failed its smoke test, analysis or rollout."""


class ManifestInvalidError(DeploymentError, ValueError):
    """A rendered InferenceService manifest violates the CRD schema or its arguments are bad."""

    exit_code = 2


class PredictorStartError(DeploymentError):
    """The local predictor process could not be found, did not start or was not ready in time."""


class RequestContractError(QuizopsError, ValueError):
    """A predictor request breaks the serving contract; the message names the field, no value."""


class RequestTooLargeError(RequestContractError):
    """A predictor request exceeds a configured limit (body bytes, instances, history length)."""


class DecisionSinkError(QuizopsError, OSError):
    """The decision log could not be written to its sink (local folder or gs://)."""


class FeatureStoreError(QuizopsError, RuntimeError):
    """The feature store (Feast) is missing, misconfigured, or holds a state it cannot use."""


class RunLockedError(QuizopsError, RuntimeError):
    """Another run holds the local home (one run per home at a time)."""

    exit_code = 4


class SubmissionError(QuizopsError, RuntimeError):
    """A pipeline submission, schedule or run was refused or failed (KFP API, bad arguments)."""


def exit_status(error: BaseException) -> int:
    """Returns the command-line exit status for an error.

    Args:
        error: Any exception.

    Returns:
        The error's ``exit_code`` for a :class:`QuizopsError`, else 1.
    """
    if isinstance(error, QuizopsError):
        return error.exit_code
    return 1
