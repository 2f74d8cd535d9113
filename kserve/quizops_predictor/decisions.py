"""The decision log: one JSON line per served decision, for off-policy evaluation later.

A line holds the time, the pseudonymized student id (the PII stage's HMAC-SHA256 pseudonym under
the project's key, so that decisions join the training data; left out when no key is configured),
the history length, the number of candidates, the chosen item, its propensity and the policy
version. Raw student ids never reach
the file.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from quizops.home import load_pii_key
from quizops.pii.deidentify import pseudonymize_values

logger = logging.getLogger(__name__)


def configured_pii_key() -> bytes | None:
    """Returns the pseudonymization key, or None when none is configured.

    Returns:
        The key bytes or None.
    """
    try:
        return load_pii_key()
    except RuntimeError as exc:
        logger.warning("decision log without student ids: %s", exc)
        return None


@functools.lru_cache(maxsize=65_536)
def pseudonymize(student_id: str, key: bytes) -> str:
    """Pseudonymizes a student id exactly as the PII stage does, so decisions join training data.

    Args:
        student_id: The raw id.
        key: The pseudonymization key.

    Returns:
        The pseudonym (``p_`` + HMAC-SHA256 under the ``student_id`` domain, see
        :func:`quizops.pii.deidentify.pseudonymize_values`).
    """
    return str(pseudonymize_values(pd.Series([student_id]), key).iloc[0])


class DecisionLog:
    """Appends decisions to ``decisions-<UTC date>.jsonl`` under a folder (thread-safe)."""

    def __init__(self, directory: str | os.PathLike[str], key: bytes | None) -> None:
        """Opens the log.

        Args:
            directory: The decisions folder (created if missing).
            key: Pseudonymization key; None leaves the student id out of every line.
        """
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = key
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        """The file of today's decisions (one file per UTC day)."""
        return self.directory / f"decisions-{datetime.now(UTC):%Y-%m-%d}.jsonl"

    def append(
        self,
        student_id: str,
        history_length: int,
        candidates_count: int,
        item_id: str,
        propensity: float,
        policy_version: str,
    ) -> None:
        """Appends one decision.

        Args:
            student_id: Raw student id (pseudonymized here, or dropped without a key).
            history_length: Number of answers in the request's history.
            candidates_count: Number of items the policy chose from.
            item_id: The chosen item.
            propensity: The probability the policy gave the chosen item.
            policy_version: The served policy version.
        """
        now = datetime.now(UTC)
        record: dict[str, object] = {
            "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        }
        if self._key is not None:
            record["student_pseudonym"] = pseudonymize(student_id, self._key)
        record.update(
            history_length=history_length,
            candidates_count=candidates_count,
            item_id=item_id,
            propensity=propensity,
            policy_version=policy_version,
        )
        line = json.dumps(record, separators=(",", ":")) + "\n"
        path = self.directory / f"decisions-{now:%Y-%m-%d}.jsonl"
        with self._lock, open(path, "a", encoding="utf-8") as handle:
            handle.write(line)
