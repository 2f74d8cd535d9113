"""Fixtures: a small de-identified canonical log, its feature set, and a real local Feast store."""

import numpy as np
import pandas as pd
import pytest

from quizops.features import engineer_features
from quizops.pii.deidentify import pseudonymize_values

KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")


def synthetic_log(students: int = 60, answers: int = 40, seed: int = 5) -> pd.DataFrame:
    """A canonical log with raw student ids: 3 skills, 12 items, answers that improve with
    practice (so BKT has something to fit), a few multi-skill duplicate rows."""
    rng = np.random.default_rng(seed)
    rows = []
    order = 0
    for s in range(students):
        known = rng.random(3) < 0.2
        for _ in range(answers):
            item = int(rng.integers(0, 12))
            skill = item % 3
            p = 0.85 if known[skill] else 0.25
            correct = int(rng.random() < p)
            if not known[skill] and rng.random() < 0.15:
                known[skill] = True
            order += int(rng.integers(1, 4))
            rows.append((f"x{order}", f"s{s:03d}", f"i{item:02d}", f"k{skill}", correct, order))
            if item == 7:  # item 7 is also tagged with skill k0: ingest writes a second row
                rows.append((f"x{order}", f"s{s:03d}", f"i{item:02d}", "k0", correct, order))
    df = pd.DataFrame(
        rows,
        columns=["interaction_id", "student_id", "item_id", "skill_id", "correct", "timestamp"],
    )
    df["skill_name"] = df["skill_id"]
    df["attempt_count"] = 1
    df["response_time_ms"] = 1000.0
    df["hint_count"] = 0
    df["answer_text"] = ""
    df["propensity"] = 1.0 / 12
    return df


@pytest.fixture(scope="session")
def raw_log() -> pd.DataFrame:
    return synthetic_log()


@pytest.fixture(scope="session")
def clean_log(raw_log) -> pd.DataFrame:
    """The log as the PII stage leaves it: student ids replaced by their HMAC pseudonyms."""
    out = raw_log.copy()
    out["student_id"] = pseudonymize_values(out["student_id"], KEY).astype(str)
    return out


@pytest.fixture(scope="session")
def feature_set(clean_log):
    return engineer_features(clean_log)


@pytest.fixture(scope="session")
def materialized(tmp_path_factory, clean_log, feature_set):
    """A real Feast repository (local provider, SQLite online, file offline) in a tmp folder."""
    from quizops.featurestore.materialize import materialize_features

    repo = tmp_path_factory.mktemp("feature_store")
    result = materialize_features(clean_log, feature_set.tracer, feature_set.items, repo)
    return repo, result


def history_of(raw_log: pd.DataFrame, student: str) -> list[tuple[str, int]]:
    """One student's answers in time order (multi-skill duplicate rows are one answer):
    the history the quiz engine would have sent in the stateless contract."""
    rows = raw_log[raw_log["student_id"] == student].drop_duplicates(["timestamp", "item_id"])
    rows = rows.sort_values("timestamp", kind="stable")
    return list(zip(rows["item_id"], rows["correct"].astype(int), strict=True))
