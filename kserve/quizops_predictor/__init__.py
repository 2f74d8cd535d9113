"""The quiz-policy predictor: a KServe model server that picks each student's next question.

The package lives under the top-level ``kserve/`` folder (which is not a Python package, so it
never shadows the real ``kserve`` distribution); run it with ``PYTHONPATH=kserve python -m
quizops_predictor``. The contract (v1 and the Open Inference Protocol) is in ``contract.py``.
"""

from quizops_predictor.contract import MODEL_NAME

__all__ = ["MODEL_NAME"]
