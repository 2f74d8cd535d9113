"""A student's stored state and the one function that applies an answer to it.

The state vector is exactly what the shared feature code computes: :func:`advance` calls the
public API of :mod:`quizops.features` (``KnowledgeTracer.update``), and both the offline pass
(:mod:`quizops.featurestore.offline`) and the predictor's online update
(:mod:`quizops.featurestore.online`) go through it. The vector is stored as float64, so a read,
an update and a write give the same numbers as an uninterrupted offline pass.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from quizops.errors import InputDataError
from quizops.features import KnowledgeTracer

#: How many request ids of applied answers a state remembers (idempotent retries).
RECENT_REQUESTS = 32


def tracer_version(tracer: KnowledgeTracer) -> str:
    """Returns a short content hash of a fitted tracer (its skills, parameters and items).

    A stored state is only meaningful for the tracer that computed it; the hash travels with
    every state row and item row.

    Args:
        tracer: The fitted tracer.

    Returns:
        16 hex characters.
    """
    text = json.dumps(tracer.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def advance(tracer: KnowledgeTracer, state: np.ndarray, item_id: str, correct: int) -> bool:
    """Applies one answer to a state vector in place, with the shared feature code.

    The tracer's own one-answer step (``apply_answer``: the step ``state_after`` repeats, every
    skill the item is tagged with updated with that tag's parameters). A tracer without it
    (format v1 policies) updates the item's skill with ``update``. An item outside the
    tracer's bank (added since training) carries no fitted parameters and leaves the state
    unchanged, as in the stateless form and offline.

    Args:
        tracer: The fitted tracer.
        state: The state vector (float64), changed in place.
        item_id: The answered item.
        correct: 1 for a right answer, 0 for a wrong one.

    Returns:
        False when the item is not in the tracer's bank (state unchanged), else True.

    Raises:
        InputDataError: ``correct`` is not 0 or 1.
    """
    if correct not in (0, 1):
        raise InputDataError("answer.correct: must be 0 or 1")
    apply_answer = getattr(tracer, "apply_answer", None)
    if apply_answer is not None:
        return bool(apply_answer(state, str(item_id), int(correct)))
    tags_of = getattr(tracer, "tags_of", None)
    if tags_of is not None:
        tags = tags_of(str(item_id))
        if tags is None:
            return False
        values = [float(v) for v in state]
        tracer._apply_scalar(values, tags, int(correct))  # the step state_after takes
        state[:] = values
        return True
    skill = tracer.item_skill.get(str(item_id))
    if skill is None:
        return False
    tracer.update(state, skill, int(correct))
    return True


@dataclass(frozen=True)
class StudentState:
    """What the feature store holds for one student.

    Attributes:
        state: Knowledge-state vector (float64), as the tracer computes it.
        n_answers: Answers applied so far.
        n_correct: Right answers among them.
        last_item_id: Item of the last answer ("" for none).
        last_answer_ms: Time of the last answer, milliseconds since the epoch (0 for none);
            offline rows carry the log's ``timestamp``.
        recent_request_ids: Request ids of the last answers applied online, oldest first.
        tracer_version: :func:`tracer_version` of the tracer that computed ``state``.
        found: Whether the store held the student (False: the prior of a new student).
    """

    state: np.ndarray
    n_answers: int = 0
    n_correct: int = 0
    last_item_id: str = ""
    last_answer_ms: int = 0
    recent_request_ids: tuple[str, ...] = field(default_factory=tuple)
    tracer_version: str = ""
    found: bool = False

    @classmethod
    def prior(cls, tracer: KnowledgeTracer, version: str | None = None) -> StudentState:
        """The state of a student the store has never seen.

        Args:
            tracer: The fitted tracer.
            version: Its version (computed when None).

        Returns:
            The prior state.
        """
        return cls(
            state=np.asarray(tracer.initial_state(), dtype=np.float64),
            tracer_version=version if version is not None else tracer_version(tracer),
        )

    def applied(self, request_id: str | None) -> bool:
        """Whether an answer with this request id was already applied.

        Args:
            request_id: The request id (None: never applied before).

        Returns:
            True when the id is among the recent ones.
        """
        return request_id is not None and request_id in self.recent_request_ids

    def after_answer(
        self,
        tracer: KnowledgeTracer,
        item_id: str,
        correct: int,
        answered_ms: int,
        request_id: str | None = None,
    ) -> StudentState:
        """Returns the state after one more answer (this state is not changed).

        Args:
            tracer: The tracer that computed this state.
            item_id: The answered item.
            correct: 0 or 1.
            answered_ms: Time of the answer (milliseconds since the epoch).
            request_id: Request id that carried the answer (remembered for retries).

        Returns:
            The new state.

        Raises:
            InputDataError: Unknown item or a bad ``correct``.
        """
        vector = np.array(self.state, dtype=np.float64, copy=True)
        advance(tracer, vector, item_id, correct)
        recent = self.recent_request_ids
        if request_id is not None:
            recent = (*recent, request_id)[-RECENT_REQUESTS:]
        return StudentState(
            state=vector,
            n_answers=self.n_answers + 1,
            n_correct=self.n_correct + int(correct),
            last_item_id=str(item_id),
            last_answer_ms=int(answered_ms),
            recent_request_ids=recent,
            tracer_version=self.tracer_version,
            found=True,
        )
