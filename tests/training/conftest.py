import pandas as pd
import pytest

from quizops.features import engineer_features
from quizops.simulation import make_world, simulate_logs


def to_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """Minimal ASSISTments -> canonical mapping for tests of the stages after ingest."""
    return pd.DataFrame(
        {
            "interaction_id": raw["order_id"].astype(str),
            "student_id": raw["user_id"].astype(str),
            "item_id": raw["problem_id"].astype(str),
            "skill_id": raw["skill_id"].astype(str),
            "skill_name": raw["skill_name"].astype(str),
            "correct": raw["correct"],
            "timestamp": raw["order_id"],
            "attempt_count": raw["attempt_count"],
            "response_time_ms": raw["ms_first_response"].astype(float),
            "hint_count": raw["hint_count"],
            "answer_text": raw["answer_text"].astype(str),
            "propensity": raw["propensity"],
        }
    )


@pytest.fixture(scope="session")
def world():
    return make_world(7)


@pytest.fixture(scope="session")
def canonical_log(world):
    return to_canonical(simulate_logs(world, 20_000, seed=3))


@pytest.fixture(scope="session")
def feature_set(canonical_log):
    return engineer_features(canonical_log)
