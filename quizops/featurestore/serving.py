"""The stateful form of the predictor contract, on top of :class:`OnlineStateStore`.

A request may carry several stateful instances. :meth:`StatefulBatch` reads and updates every
one of them under the store's lock, the predictor chooses from the updated states
(:func:`choose_from_states`), and only when every instance of the request was answered does
:meth:`StatefulBatch.commit` push the new states. A request rejected at any point changes no
stored state.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quizops.errors import ConfigurationError, FeatureStoreError, InputDataError
from quizops.featurestore.config import CONFIG_FILE, default_repo_path
from quizops.featurestore.online import OnlineStateStore
from quizops.featurestore.state import StudentState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatefulRequest:
    """One stateful instance.

    Attributes:
        student_id: The caller's student id.
        answer: ``(item_id, correct)`` of the previous question, or None.
        request_id: The caller's request id (retries with it apply the answer once).
    """

    student_id: str
    answer: tuple[str, int] | None = None
    request_id: str | None = None


class StatefulBatch:
    """States of one request's stateful instances, pushed only on :meth:`commit`.

    Use as a context manager: the store's lock is held from entry to exit, and leaving without
    :meth:`commit` (an exception) pushes nothing.
    """

    def __init__(self, store: OnlineStateStore, requests: Sequence[StatefulRequest]) -> None:
        """Prepares the batch (nothing is read before :meth:`__enter__`).

        Args:
            store: The online store.
            requests: The stateful instances, in request order.
        """
        self._store = store
        self._requests = list(requests)
        self._pending: dict[str, StudentState] = {}
        self.states: list[StudentState] = []
        self.applied: list[bool] = []

    def __enter__(self) -> StatefulBatch:
        self._store.lock.acquire()
        try:
            now_ms = int(time.time() * 1000)
            seen: dict[str, StudentState] = {}
            for n, request in enumerate(self._requests):
                pseudonym = self._store.pseudonym(request.student_id)
                current = seen.get(pseudonym) or self._store.read(pseudonym)
                applied = False
                if request.answer is not None and not current.applied(request.request_id):
                    item_id, correct = request.answer
                    try:
                        current = current.after_answer(
                            self._store.tracer, item_id, correct, now_ms, request.request_id
                        )
                    except InputDataError as exc:
                        raise InputDataError(f"instance {n}: {exc}") from None
                    self._pending[pseudonym] = current
                    applied = True
                seen[pseudonym] = current
                self.states.append(current)
                self.applied.append(applied)
        except BaseException:
            self._store.lock.release()
            raise
        return self

    def matrix(self) -> np.ndarray:
        """The states as a matrix [instances, state size], for the policy."""
        return np.array([s.state for s in self.states], dtype=np.float64)

    def commit(self) -> None:
        """Pushes every changed state (call once the whole request was answered)."""
        for pseudonym, state in self._pending.items():
            self._store.write(pseudonym, state)
        self._pending.clear()

    def __exit__(self, *exc: object) -> None:
        self._pending.clear()
        self._store.lock.release()


def choose_from_states(
    policy: Any,
    states: np.ndarray,
    candidates: Sequence[str] | None = None,
    rng: np.random.Generator | None = None,
    positions: np.ndarray | None = None,
) -> tuple[list[str], list[float]]:
    """Samples one item per state, as ``QuizPolicy.choose_many`` does after computing states.

    Args:
        policy: The served :class:`quizops.policy.QuizPolicy`.
        states: Matrix [students, state size].
        candidates: Items allowed (default: the whole bank).
        rng: Random generator.
        positions: Answers behind each state (a stored state's ``n_answers``, a history's
            length), for a policy with an endgame (``PlanningModel.endgame``).

    Returns:
        Chosen item ids and their propensities.

    Raises:
        InputDataError: An unknown candidate, or an empty candidate list.
    """
    rng = rng or np.random.default_rng()
    if candidates is not None and len(candidates) == 0:
        raise InputDataError("candidates: empty list")
    rows = np.arange(len(policy.items)) if candidates is None else policy.item_rows(candidates)
    probs = policy.probabilities(np.asarray(states, dtype=np.float64), rows, positions)
    sample = getattr(policy, "_sample", None)
    if sample is not None:
        picks = sample(probs, rng)
    else:  # the policy's own sampling rule (cumulative sum against one uniform draw)
        cumulative = probs.cumsum(axis=1)
        draws = rng.random((len(probs), 1)) * cumulative[:, -1:]
        picks = np.minimum((cumulative < draws).sum(axis=1), probs.shape[1] - 1)
    bank = policy.items["item_id"].astype(str).to_numpy()
    return [str(bank[rows[p]]) for p in picks], [float(probs[i, p]) for i, p in enumerate(picks)]


def open_state_store(
    policy: Any, repo_path: str | os.PathLike[str] | None = None, required: bool = False
) -> OnlineStateStore | None:
    """Opens the feature store for the predictor's stateful mode, if there is one.

    Args:
        policy: The served policy (its tracer reads and updates states).
        repo_path: The repository (default: ``$QUIZOPS_FEATURE_STORE``, else the local home's
            ``feature_store/``).
        required: Raise when the store is missing or cannot be opened (else log a warning and
            serve stateless requests only).

    Returns:
        The store, or None (no ``feature_store.yaml`` there: Feast is not even imported).

    Raises:
        ConfigurationError: ``required`` and no pseudonymization key is configured.
        FeatureStoreError: ``required`` and the store is missing or cannot be opened.
    """
    from quizops.home import load_pii_key

    root = Path(repo_path) if repo_path is not None else default_repo_path()
    try:
        if getattr(policy, "family", "bkt") == "pfa":
            raise FeatureStoreError(
                "the store keeps the knowledge tracer's state; this policy plans on answer "
                "counts (pfa family)"
            )
        if not (root / CONFIG_FILE).is_file():
            raise FeatureStoreError(f"{root}: no {CONFIG_FILE}")
        try:
            key = load_pii_key()
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"feature store {root}: the stateful form needs the pseudonymization key ({exc})"
            ) from exc
        store = OnlineStateStore(root, policy.tracer, key)
    except (FeatureStoreError, ConfigurationError) as exc:
        if required:
            raise
        logger.warning("stateful form off, stateless requests only: %s", exc)
        return None
    logger.info("stateful form on: student states from the feature store at %s", root)
    return store
