"""The predictor's side of the feature store: read a state, apply an answer once, push it.

:class:`OnlineStateStore` pseudonymizes the caller's student id with the PII stage's HMAC (so
the key matches the rows the pipeline materialized), reads ``student_state`` from the online
store, applies the answer with the shared feature code (:func:`quizops.featurestore.state
.advance`) unless its request id was already applied, and writes the new state back with a
Feast push (online). Read, update and write of one process are serialized by a lock; Feast
offers no compare-and-set, so replicas must route one student's requests to one replica (or
accept that two simultaneous answers of one student may race).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import FeatureStoreError
from quizops.features import KnowledgeTracer
from quizops.featurestore.config import open_store
from quizops.featurestore.definitions import (
    EVENT_TIMESTAMP,
    STUDENT_FEATURES,
    STUDENT_KEY,
    STUDENT_PUSH,
    STUDENT_VIEW,
)
from quizops.featurestore.state import StudentState, tracer_version

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=65_536)
def student_pseudonym(student_id: str, key: bytes) -> str:
    """Pseudonymizes a student id exactly as the PII stage does.

    Args:
        student_id: The caller's id.
        key: The pseudonymization key.

    Returns:
        The pseudonym the pipeline's tables (and the feature store) use.
    """
    from quizops.pii.deidentify import pseudonymize_values

    return str(pseudonymize_values(pd.Series([student_id]), key).iloc[0])


class OnlineStateStore:
    """Students' knowledge states in the Feast online store, for one served tracer."""

    def __init__(
        self, repo_path: str | os.PathLike[str], tracer: KnowledgeTracer, key: bytes
    ) -> None:
        """Opens the store.

        Args:
            repo_path: Feast repository folder.
            tracer: The served policy's tracer (states of another tracer are not used).
            key: Pseudonymization key (the PII stage's).

        Raises:
            FeatureStoreError: No repository there, or the ``student_state`` view is missing.
        """
        if len(key) < 16:
            raise FeatureStoreError("feature store: the pseudonymization key is too short")
        self.store: Any = open_store(repo_path)
        self.tracer = tracer
        self.version = tracer_version(tracer)
        self._key = key
        self.lock = threading.Lock()
        self._refs = [f"{STUDENT_VIEW}:{name}" for name in STUDENT_FEATURES]
        self.stale_reads = 0
        try:
            self.store.get_feature_view(STUDENT_VIEW)
        except Exception as exc:  # Feast's FeatureViewNotFoundException and registry errors
            raise FeatureStoreError(
                f"{repo_path}: no '{STUDENT_VIEW}' feature view (run the training pipeline)"
            ) from exc
        from feast.data_source import PushMode

        self._online = PushMode.ONLINE

    def pseudonym(self, student_id: str) -> str:
        """Returns a student's pseudonym under the store's key.

        Args:
            student_id: The caller's id.

        Returns:
            The pseudonym.
        """
        return student_pseudonym(student_id, self._key)

    def read(self, pseudonym: str) -> StudentState:
        """Reads a student's state; a student the store lacks gets the prior.

        A state computed by another tracer (an earlier or later policy) cannot be continued
        with this one: it is logged and replaced by the prior.

        Args:
            pseudonym: The student's pseudonym.

        Returns:
            The state.
        """
        row = self.store.get_online_features(
            features=self._refs, entity_rows=[{STUDENT_KEY: pseudonym}]
        ).to_dict()
        vector = row["state"][0]
        if vector is None:
            return StudentState.prior(self.tracer, self.version)
        stored_version = row["tracer_version"][0] or ""
        if stored_version != self.version:
            self.stale_reads += 1
            logger.warning(
                "feature store: a student state of tracer %s is not usable by tracer %s; "
                "starting that student from the prior (materialize features for this policy)",
                stored_version or "-",
                self.version,
            )
            return StudentState.prior(self.tracer, self.version)
        return StudentState(
            state=np.asarray(vector, dtype=np.float64),
            n_answers=int(row["n_answers"][0] or 0),
            n_correct=int(row["n_correct"][0] or 0),
            last_item_id=str(row["last_item_id"][0] or ""),
            last_answer_ms=int(row["last_answer_ms"][0] or 0),
            recent_request_ids=tuple(row["recent_request_ids"][0] or ()),
            tracer_version=stored_version,
            found=True,
        )

    def write(self, pseudonym: str, state: StudentState) -> None:
        """Pushes a state to the online store.

        Args:
            pseudonym: The student's pseudonym.
            state: The new state.
        """
        frame = pd.DataFrame(
            {
                STUDENT_KEY: [pseudonym],
                EVENT_TIMESTAMP: [pd.Timestamp.now(tz="UTC")],
                "state": [np.asarray(state.state, dtype=np.float64)],
                "n_answers": [state.n_answers],
                "n_correct": [state.n_correct],
                "last_item_id": [state.last_item_id],
                "last_answer_ms": [state.last_answer_ms],
                "recent_request_ids": [list(state.recent_request_ids)],
                "tracer_version": [state.tracer_version],
            }
        )
        self.store.push(STUDENT_PUSH, frame, to=self._online)

    def advance(
        self,
        student_id: str,
        answer: tuple[str, int] | None = None,
        request_id: str | None = None,
    ) -> tuple[StudentState, bool]:
        """Reads a student's state, applies the answer once and writes the new state back.

        Args:
            student_id: The caller's student id (pseudonymized here, never stored raw).
            answer: ``(item_id, correct)`` of the previous question, or None.
            request_id: Id of the request; an answer whose request id was already applied
                (a retry) is not applied again.

        Returns:
            The state to choose from and whether the answer was applied now.

        Raises:
            InputDataError: The answer names an item the tracer lacks or a bad ``correct``
                (nothing is written).
        """
        pseudonym = self.pseudonym(student_id)
        with self.lock:
            current = self.read(pseudonym)
            if answer is None or current.applied(request_id):
                return current, False
            item_id, correct = answer
            new = current.after_answer(
                self.tracer, item_id, correct, int(time.time() * 1000), request_id
            )
            self.write(pseudonym, new)
            return new, True
