"""The predictor contract: request parsing and validation, independent of the server.

v1 (``POST /v1/models/quiz-policy:predict``)::

    {"instances": [{"student_id": "s-17",
                    "history": [{"item_id": "p12", "correct": 1}],
                    "candidates": ["p7", "p8"]}]}

answers ``{"predictions": [{"item_id", "propensity", "policy_version"}]}``. The stateful form
(feature store) leaves out ``history``: ``{"student_id": "s-17", "answer": {"item_id": "p12",
"correct": 1}, "request_id": "r-9"}`` (``answer`` and ``request_id`` optional); the predictor
reads the student's state from the store, applies the answer once per request id and writes the
state back (:mod:`quizops.featurestore.serving`). Over v2 the input
tensor ``request`` (BYTES [N]) carries one JSON instance per element, and the outputs are
``item_id`` (BYTES [N]), ``propensity`` (FP32 [N]) and ``policy_version`` (BYTES [N]).

Every violation raises :class:`ContractError` whose message starts with the path of the field at
fault (``instances[0].history[2].correct: ...``) and says what kind of problem it is, so that the
server can answer 400 with it. A message never holds a value of the request: a request may carry
personal data in any field, and error messages reach logs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quizops.errors import RequestContractError, RequestTooLargeError
from quizops.names import MODEL_NAME

__all__ = ["MODEL_NAME", "ContractError", "Limits", "RequestTooLargeError"]
#: v2 input and output tensor names.
V2_INPUT = "request"
V2_OUTPUTS = ("item_id", "propensity", "policy_version")
#: Default bounds that keep one request from monopolising the server.
MAX_BODY_BYTES = 1 << 20
MAX_INSTANCES = 256
MAX_HISTORY = 10_000
MAX_CANDIDATES = 10_000
MAX_ID_LENGTH = 256

_INSTANCE_KEYS = frozenset({"student_id", "history", "candidates", "request_id", "answer"})
_ANSWER_KEYS = frozenset({"item_id", "correct"})

#: The contract's error (kept under this name for callers of the predictor package).
ContractError = RequestContractError


@dataclass(frozen=True)
class Limits:
    """Request bounds; a request beyond one is refused before any model work.

    Attributes:
        max_body_bytes: Largest request body (413 beyond).
        max_instances: Instances per request (v1 ``instances``, v2 ``request`` elements).
        max_history: Answers in one instance's history.
        max_candidates: Items in one instance's candidate list.
        max_id_length: Characters of one id.
    """

    max_body_bytes: int = MAX_BODY_BYTES
    max_instances: int = MAX_INSTANCES
    max_history: int = MAX_HISTORY
    max_candidates: int = MAX_CANDIDATES
    max_id_length: int = MAX_ID_LENGTH

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_instances", "max_history", "max_candidates"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be at least 1")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Instance:
    """One parsed request instance.

    Attributes:
        student_id: The caller's student id (never logged raw).
        history: ``(item_id, correct)`` pairs, oldest first.
        candidates: Items the policy may choose from, or None for the whole bank.
        request_id: The caller's id of this decision, if it sent one.
        answer: Stateful form: ``(item_id, correct)`` of the previous question, or None.
        stateful: True for the stateful form (no ``history``: the state is in the store).
        unknown_history: Answers (history, or the stateful ``answer``) on items outside the
            policy's item bank; the tracer leaves the state unchanged by them.
        unknown_candidates: Candidates outside the item bank, left out of the choice.
        left_out_history: Of ``unknown_history``, those on items training left out (their
            skills could not be traced): retraining does not bring them into the bank.
        left_out_candidates: Of ``unknown_candidates``, those on such items.
    """

    student_id: str
    history: tuple[tuple[str, int], ...]
    candidates: tuple[str, ...] | None
    request_id: str | None = None
    answer: tuple[str, int] | None = None
    stateful: bool = False
    unknown_history: int = 0
    unknown_candidates: int = 0
    left_out_history: int = 0
    left_out_candidates: int = 0


def _kind(value: Any) -> str:
    """The JSON kind of a value, for messages that must not quote it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _id(value: Any, where: str, limits: Limits) -> str:
    # A JSON integer is read as its decimal string: exports such as ASSISTments number their
    # problems and students, and a client that sends ``12`` means the id ``"12"``.
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ContractError(
            f"{where}: must be a non-empty string (or an integer), got {_kind(value)}"
        )
    if len(value) > limits.max_id_length:
        raise ContractError(f"{where}: longer than {limits.max_id_length} characters")
    return value


def _unknown_field(keys: Any, allowed: frozenset[str], where: str, expected: str) -> None:
    for key in keys:
        if key not in allowed:
            # A key is request content too: it is named only when it has the shape of a field
            # name (letters, digits and underscores, at most 32), else by its position.
            named = isinstance(key, str) and len(key) <= 32 and key.replace("_", "").isalnum()
            at = f"{where}.{key}" if named and key.isascii() else where
            raise ContractError(f"{at}: unknown field (expected {expected})")


def _answer(raw: Any, at: str, limits: Limits) -> tuple[str, int]:
    if not isinstance(raw, Mapping):
        raise ContractError(f"{at}: must be an object with item_id and correct")
    _unknown_field(raw, _ANSWER_KEYS, at, "item_id, correct")
    if "item_id" not in raw:
        raise ContractError(f"{at}.item_id: required")
    item = _id(raw["item_id"], f"{at}.item_id", limits)
    correct = raw.get("correct")
    # JSON has one number type: 1.0 is the number 1 (clients that build bodies from floats,
    # numpy's among them, write it so); 0.5 or 2 is not an answer.
    if isinstance(correct, bool) or (isinstance(correct, float) and correct in (0.0, 1.0)):
        correct = int(correct)
    if not isinstance(correct, int) or correct not in (0, 1):
        raise ContractError(f"{at}.correct: required, 0 or 1, got {_kind(correct)}")
    return item, int(correct)


def parse_instance(
    raw: Any,
    where: str,
    item_bank: frozenset[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    left_out: frozenset[str] = frozenset(),
) -> Instance:
    """Parses and validates one instance.

    Args:
        raw: The decoded JSON value of the instance.
        where: The path of the instance for messages, e.g. ``instances[3]``.
        item_bank: Known item ids; when given, answers on other items are counted and
            candidates outside it are left out (none left: an error).
        limits: Request bounds.
        left_out: Items training left out (the tracer's ``left_out_items``): counted apart
            among the items outside the bank.

    Returns:
        The instance.

    Raises:
        ContractError: A field is missing, of the wrong type, unknown or out of bounds.
        RequestTooLargeError: The history or the candidates exceed their bound.
    """
    if not isinstance(raw, Mapping):
        raise ContractError(f"{where}: must be a JSON object, got {_kind(raw)}")
    _unknown_field(
        raw, _INSTANCE_KEYS, where, "student_id, history, candidates, request_id, answer"
    )
    if "student_id" not in raw:
        raise ContractError(f"{where}.student_id: required non-empty string")
    student_id = _id(raw["student_id"], f"{where}.student_id", limits)
    request_id = None
    if raw.get("request_id") is not None:
        request_id = _id(raw["request_id"], f"{where}.request_id", limits)
    answer = None
    if "history" not in raw:  # the stateful form: the state is in the feature store
        if raw.get("answer") is not None:
            answer = _answer(raw["answer"], f"{where}.answer", limits)
        history_raw: Any = []
    elif "answer" in raw:
        raise ContractError(f"{where}.answer: only in the stateful form (without history)")
    else:
        history_raw = raw["history"]
    if not isinstance(history_raw, list):
        raise ContractError(
            f"{where}.history: must be a list of {{item_id, correct}} objects, "
            f"got {_kind(history_raw)}"
        )
    if len(history_raw) > limits.max_history:
        raise RequestTooLargeError(f"{where}.history: more than {limits.max_history} answers")
    history: list[tuple[str, int]] = []
    max_id = limits.max_id_length
    for i, entry in enumerate(history_raw):
        # (Not named ``answer``: that is the stateful form's field, set above.) The common case,
        # a dict of exactly a known item id and a 0/1 ``correct``, is accepted inline without
        # building the entry's path; anything else goes through _answer, which finds the fault
        # and names it (both accept exactly the same entries and return the same pair).
        if type(entry) is dict and len(entry) == 2:
            item = entry.get("item_id")
            correct = entry.get("correct")
            if (
                type(item) is str
                and 0 < len(item) <= max_id
                and (correct == 0 or correct == 1)
                and type(correct) in (int, bool, float)
            ):
                history.append((item, int(correct)))
                continue
        history.append(_answer(entry, f"{where}.history[{i}]", limits))
    # An item the policy was not trained on (added to the bank since) carries no fitted
    # parameters: the tracer leaves the state unchanged by it, online as offline, and it is
    # counted (metric `unknown_items_total`) rather than refused, so that a bank that grows between
    # trainings does not stop the quiz of every student who met a new item.
    unknown_history = left_out_history = 0
    if item_bank is not None:
        outside = [item for item, _ in history if item not in item_bank]
        if answer is not None and answer[0] not in item_bank:
            outside.append(answer[0])
        unknown_history = len(outside)
        left_out_history = sum(item in left_out for item in outside)
    candidates: tuple[str, ...] | None = None
    unknown_candidates = left_out_candidates = 0
    if raw.get("candidates") is not None:
        cands = raw["candidates"]
        if not isinstance(cands, list) or not cands:
            raise ContractError(f"{where}.candidates: must be a non-empty list of item ids")
        if len(cands) > limits.max_candidates:
            raise RequestTooLargeError(
                f"{where}.candidates: more than {limits.max_candidates} items"
            )
        parsed = [_id(c, f"{where}.candidates[{i}]", limits) for i, c in enumerate(cands)]
        if len(set(parsed)) != len(parsed):
            raise ContractError(f"{where}.candidates: contains duplicate item ids")
        # Items the policy cannot value (not in its bank) are left out of the choice; the
        # propensity is over the rest. None of them known is a client error (most often ids
        # in another form than the training data's).
        known = parsed if item_bank is None else [c for c in parsed if c in item_bank]
        if not known:
            raise ContractError(
                f"{where}.candidates: none is in the policy's item bank (item ids are the "
                "training data's own ids)"
            )
        unknown_candidates = len(parsed) - len(known)
        if unknown_candidates:
            left_out_candidates = sum(c in left_out for c in parsed if c not in item_bank)
        candidates = tuple(known)
    return Instance(
        student_id=student_id,
        history=tuple(history),
        candidates=candidates,
        request_id=request_id,
        answer=answer,
        stateful="history" not in raw,
        unknown_history=unknown_history,
        unknown_candidates=unknown_candidates,
        left_out_history=left_out_history,
        left_out_candidates=left_out_candidates,
    )


def parse_v1(
    body: Any,
    item_bank: frozenset[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    left_out: frozenset[str] = frozenset(),
) -> list[Instance]:
    """Parses a v1 predict body.

    Args:
        body: The decoded JSON body.
        item_bank: Known item ids.
        limits: Request bounds.
        left_out: Items training left out (:func:`parse_instance`).

    Returns:
        The instances, in request order.

    Raises:
        ContractError: The body or an instance breaks the contract.
        RequestTooLargeError: A bound is exceeded.
    """
    if not isinstance(body, Mapping):
        raise ContractError(
            f"body: must be a JSON object with an 'instances' list, got {_kind(body)}"
        )
    if "instances" not in body:
        raise ContractError("instances: required (a list of instance objects)")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise ContractError("instances: must be a non-empty list")
    if len(instances) > limits.max_instances:
        raise RequestTooLargeError(f"instances: more than {limits.max_instances} per request")
    return [
        parse_instance(raw, f"instances[{i}]", item_bank, limits, left_out)
        for i, raw in enumerate(instances)
    ]


def parse_v2_elements(
    elements: Sequence[Any],
    item_bank: frozenset[str] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    left_out: frozenset[str] = frozenset(),
) -> list[Instance]:
    """Parses the elements of the v2 ``request`` tensor (one JSON instance each).

    Args:
        elements: bytes or str elements.
        item_bank: Known item ids.
        limits: Request bounds.
        left_out: Items training left out (:func:`parse_instance`).

    Returns:
        The instances, in tensor order.

    Raises:
        ContractError: An element is not UTF-8 JSON (or nests too deeply) or breaks the contract.
        RequestTooLargeError: A bound is exceeded.
    """
    if not elements:
        raise ContractError(f"{V2_INPUT}: must hold at least one element")
    if len(elements) > limits.max_instances:
        raise RequestTooLargeError(
            f"{V2_INPUT}: more than {limits.max_instances} elements per request"
        )
    instances = []
    for i, element in enumerate(elements):
        where = f"{V2_INPUT}[{i}]"
        if isinstance(element, bytes | bytearray):
            try:
                element = bytes(element).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ContractError(f"{where}: not UTF-8 ({exc.reason})") from None
        if not isinstance(element, str):
            raise ContractError(f"{where}: must be a JSON string, got {_kind(element)}")
        try:
            raw = json.loads(element)
        except json.JSONDecodeError as exc:
            raise ContractError(f"{where}: not valid JSON ({exc.msg} at char {exc.pos})") from None
        except RecursionError:
            raise ContractError(f"{where}: JSON nested too deeply") from None
        instances.append(parse_instance(raw, where, item_bank, limits, left_out))
    return instances
