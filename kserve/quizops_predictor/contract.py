"""The predictor contract: request parsing and validation, independent of the server.

v1 (``POST /v1/models/quiz-policy:predict``)::

    {"instances": [{"student_id": "s-17",
                    "history": [{"item_id": "p12", "correct": 1}],
                    "candidates": ["p7", "p8"]}]}

answers ``{"predictions": [{"item_id", "propensity", "policy_version"}]}``. Over v2 the input
tensor ``request`` (BYTES [N]) carries one JSON instance per element, and the outputs are
``item_id`` (BYTES [N]), ``propensity`` (FP32 [N]) and ``policy_version`` (BYTES [N]).

Every violation raises :class:`ContractError` whose message starts with the path of the field at
fault (``instances[0].history[2].correct: ...``) so that the server can answer 400 with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quizops.names import MODEL_NAME

__all__ = ["MODEL_NAME", "ContractError"]
#: v2 input and output tensor names.
V2_INPUT = "request"
V2_OUTPUTS = ("item_id", "propensity", "policy_version")
#: Bounds that keep one request from monopolising the server.
MAX_INSTANCES = 1024
MAX_HISTORY = 10_000
MAX_CANDIDATES = 100_000
MAX_ID_LENGTH = 256

_INSTANCE_KEYS = frozenset({"student_id", "history", "candidates"})
_ANSWER_KEYS = frozenset({"item_id", "correct"})


class ContractError(ValueError):
    """A request does not follow the predictor contract; the message names the field."""


@dataclass(frozen=True)
class Instance:
    """One parsed request instance.

    Attributes:
        student_id: The caller's student id (never logged raw).
        history: ``(item_id, correct)`` pairs, oldest first.
        candidates: Items the policy may choose from, or None for the whole bank.
    """

    student_id: str
    history: tuple[tuple[str, int], ...]
    candidates: tuple[str, ...] | None


def _item_id(value: Any, where: str, item_bank: frozenset[str] | None) -> str:
    if not isinstance(value, str) or not value:
        raise ContractError(f"{where}: must be a non-empty string item id, got {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise ContractError(f"{where}: longer than {MAX_ID_LENGTH} characters")
    if item_bank is not None and value not in item_bank:
        raise ContractError(f"{where}: unknown item {value!r} (not in the policy's item bank)")
    return value


def parse_instance(raw: Any, where: str, item_bank: frozenset[str] | None = None) -> Instance:
    """Parses and validates one instance.

    Args:
        raw: The decoded JSON value of the instance.
        where: The path of the instance for messages, e.g. ``instances[3]``.
        item_bank: Known item ids; when given, unknown ids are rejected.

    Returns:
        The instance.

    Raises:
        ContractError: A field is missing, of the wrong type, unknown or out of bounds.
    """
    if not isinstance(raw, Mapping):
        raise ContractError(f"{where}: must be a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _INSTANCE_KEYS)
    if unknown:
        raise ContractError(
            f"{where}.{unknown[0]}: unknown field (expected student_id, history, candidates)"
        )
    student_id = raw.get("student_id")
    if not isinstance(student_id, str) or not student_id:
        raise ContractError(f"{where}.student_id: required non-empty string")
    if len(student_id) > MAX_ID_LENGTH:
        raise ContractError(f"{where}.student_id: longer than {MAX_ID_LENGTH} characters")
    if "history" not in raw:
        raise ContractError(f"{where}.history: required (a list, empty for a new student)")
    history_raw = raw["history"]
    if not isinstance(history_raw, list):
        raise ContractError(f"{where}.history: must be a list of {{item_id, correct}} objects")
    if len(history_raw) > MAX_HISTORY:
        raise ContractError(f"{where}.history: more than {MAX_HISTORY} answers")
    history: list[tuple[str, int]] = []
    for i, answer in enumerate(history_raw):
        at = f"{where}.history[{i}]"
        if not isinstance(answer, Mapping):
            raise ContractError(f"{at}: must be an object with item_id and correct")
        extra = sorted(set(answer) - _ANSWER_KEYS)
        if extra:
            raise ContractError(f"{at}.{extra[0]}: unknown field (expected item_id, correct)")
        if "item_id" not in answer:
            raise ContractError(f"{at}.item_id: required")
        item = _item_id(answer["item_id"], f"{at}.item_id", item_bank)
        correct = answer.get("correct")
        if isinstance(correct, bool):
            correct = int(correct)
        if correct not in (0, 1) or isinstance(correct, float):
            raise ContractError(f"{at}.correct: required, 0 or 1, got {correct!r}")
        history.append((item, int(correct)))
    candidates: tuple[str, ...] | None = None
    if raw.get("candidates") is not None:
        cands = raw["candidates"]
        if not isinstance(cands, list) or not cands:
            raise ContractError(f"{where}.candidates: must be a non-empty list of item ids")
        if len(cands) > MAX_CANDIDATES:
            raise ContractError(f"{where}.candidates: more than {MAX_CANDIDATES} items")
        parsed = [_item_id(c, f"{where}.candidates[{i}]", item_bank) for i, c in enumerate(cands)]
        if len(set(parsed)) != len(parsed):
            raise ContractError(f"{where}.candidates: contains duplicate item ids")
        candidates = tuple(parsed)
    return Instance(student_id=student_id, history=tuple(history), candidates=candidates)


def parse_v1(body: Any, item_bank: frozenset[str] | None = None) -> list[Instance]:
    """Parses a v1 predict body.

    Args:
        body: The decoded JSON body.
        item_bank: Known item ids.

    Returns:
        The instances, in request order.

    Raises:
        ContractError: The body or an instance breaks the contract.
    """
    if not isinstance(body, Mapping):
        raise ContractError("body: must be a JSON object with an 'instances' list")
    if "instances" not in body:
        raise ContractError("instances: required (a list of instance objects)")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise ContractError("instances: must be a non-empty list")
    if len(instances) > MAX_INSTANCES:
        raise ContractError(f"instances: more than {MAX_INSTANCES} per request")
    return [parse_instance(raw, f"instances[{i}]", item_bank) for i, raw in enumerate(instances)]


def parse_v2_elements(
    elements: Sequence[Any], item_bank: frozenset[str] | None = None
) -> list[Instance]:
    """Parses the elements of the v2 ``request`` tensor (one JSON instance each).

    Args:
        elements: bytes or str elements.
        item_bank: Known item ids.

    Returns:
        The instances, in tensor order.

    Raises:
        ContractError: An element is not UTF-8 JSON or breaks the contract.
    """
    if not elements:
        raise ContractError(f"{V2_INPUT}: must hold at least one element")
    if len(elements) > MAX_INSTANCES:
        raise ContractError(f"{V2_INPUT}: more than {MAX_INSTANCES} elements per request")
    instances = []
    for i, element in enumerate(elements):
        where = f"{V2_INPUT}[{i}]"
        if isinstance(element, bytes | bytearray):
            try:
                element = bytes(element).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ContractError(f"{where}: not UTF-8 ({exc.reason})") from exc
        if not isinstance(element, str):
            raise ContractError(f"{where}: must be a JSON string, got {type(element).__name__}")
        try:
            raw = json.loads(element)
        except json.JSONDecodeError as exc:
            raise ContractError(f"{where}: not valid JSON ({exc.msg})") from exc
        instances.append(parse_instance(raw, where, item_bank))
    return instances
