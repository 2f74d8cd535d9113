"""The predictor's side of the feature store: read a state, apply an answer once, push it.

:class:`OnlineStateStore` pseudonymizes the caller's student id with the PII stage's HMAC (so
the key matches the rows the pipeline materialized), reads ``student_state`` from the online
store, applies the answer with the shared feature code
(:func:`quizops.featurestore.state.advance`) unless its request id was already applied, and
writes the new state back to the online store. Reads and writes go through the store's
provider (``online_read`` / ``online_write_batch``: where ``get_online_features`` and a push to
the online store end up) with the feature view looked up once, not on every call (the public
calls re-read the registry each time: about 5 ms a push here).

Read, update and write of one process are serialized by a lock; Feast offers no
compare-and-set, so replicas must route one student's requests to one replica (or accept that
two simultaneous answers of one student may race).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import FeatureStoreError
from quizops.features import KnowledgeTracer
from quizops.featurestore.config import open_store
from quizops.featurestore.definitions import (
    STUDENT_FEATURES,
    STUDENT_KEY,
    STUDENT_VIEW,
    TRACER_KEY,
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


def tune_local_sqlite(provider: Any, config: Any) -> None:
    """Puts a local SQLite online store in write-ahead-log mode without a sync per commit.

    Feast's SQLite store commits every write with SQLite's defaults (rollback journal, a full
    sync per commit): 28 ms a write on the development machine, which caps the stateful form
    near 35 requests/s. WAL with ``synchronous=NORMAL`` commits without a sync (a power loss may
    lose the last writes, never corrupt the file) and lets readers run beside the writer. Other
    online stores (Redis in production) are left alone.

    Args:
        provider: The store's provider.
        config: The store's ``RepoConfig``.
    """
    if getattr(config.online_store, "type", "") != "sqlite":
        return
    conn = provider.online_store._get_conn(config)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")


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
        try:
            self._view = self.store.get_feature_view(STUDENT_VIEW)
        except Exception as exc:  # Feast's FeatureViewNotFoundException and registry errors
            raise FeatureStoreError(
                f"{repo_path}: no '{STUDENT_VIEW}' feature view (run the training pipeline)"
            ) from exc
        self._provider = self.store._get_provider()
        self._features = list(STUDENT_FEATURES)
        tune_local_sqlite(self._provider, self.store.config)

    def pseudonym(self, student_id: str) -> str:
        """Returns a student's pseudonym under the store's key.

        Args:
            student_id: The caller's id.

        Returns:
            The pseudonym.
        """
        return student_pseudonym(student_id, self._key)

    def _entity_key(self, pseudonym: str) -> Any:
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        return EntityKey(
            join_keys=[STUDENT_KEY, TRACER_KEY],
            entity_values=[Value(string_val=pseudonym), Value(string_val=self.version)],
        )

    def read(self, pseudonym: str) -> StudentState:
        """Reads a student's state for this tracer; a student it lacks gets the prior.

        States are keyed by tracer version too: a state another tracer computed (an earlier or
        later policy) is never read.

        Args:
            pseudonym: The student's pseudonym.

        Returns:
            The state.
        """
        from feast.type_map import feast_value_type_to_python_type

        ((_, values),) = self._provider.online_read(
            self.store.config, self._view, [self._entity_key(pseudonym)], self._features
        )
        row = {k: feast_value_type_to_python_type(v) for k, v in (values or {}).items()}
        if row.get("state") is None:
            return StudentState.prior(self.tracer, self.version)
        return StudentState(
            state=np.asarray(row["state"], dtype=np.float64),
            n_answers=int(row.get("n_answers") or 0),
            n_correct=int(row.get("n_correct") or 0),
            last_item_id=str(row.get("last_item_id") or ""),
            last_answer_ms=int(row.get("last_answer_ms") or 0),
            recent_request_ids=tuple(row.get("recent_request_ids") or ()),
            tracer_version=self.version,
            found=True,
        )

    def write(self, pseudonym: str, state: StudentState) -> None:
        """Writes a state to the online store (what a Feast push to the online store does).

        Args:
            pseudonym: The student's pseudonym.
            state: The new state.
        """
        from feast.protos.feast.types.Value_pb2 import DoubleList, StringList, Value

        values = {
            "state": Value(double_list_val=DoubleList(val=[float(x) for x in state.state])),
            "n_answers": Value(int64_val=int(state.n_answers)),
            "n_correct": Value(int64_val=int(state.n_correct)),
            "last_item_id": Value(string_val=state.last_item_id),
            "last_answer_ms": Value(int64_val=int(state.last_answer_ms)),
            "recent_request_ids": Value(
                string_list_val=StringList(val=list(state.recent_request_ids))
            ),
        }
        now = datetime.now(UTC)
        self._provider.online_write_batch(
            self.store.config, self._view, [(self._entity_key(pseudonym), values, now, now)], None
        )

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
