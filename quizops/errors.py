"""Exceptions raised by the quizops library.

Every error names the file, column or field at fault so that a user can act on it. Command-line
entry points map them to exit statuses: :class:`InputDataError` to 2, :class:`PIILeftError` to 3.
"""


class QuizopsError(Exception):
    """Base class of every error the library raises on purpose."""


class InputDataError(QuizopsError):
    """The input is unreadable, empty, malformed or lacks a required column."""


class PIILeftError(QuizopsError):
    """Personal data was found that the de-identification policy does not handle."""


class ValidationFailedError(QuizopsError):
    """Data validation found anomalies that fail the gate."""


class ModelNotFoundError(QuizopsError):
    """No model (or no blessed model) exists where one was asked for."""
