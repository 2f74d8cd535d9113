import pandas as pd
import pytest

from quizops.simulation import make_world, simulate_logs


def to_canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """Minimal ASSISTments -> canonical mapping (the columns evaluation reads)."""
    return pd.DataFrame(
        {
            "interaction_id": raw["order_id"].astype(str),
            "student_id": raw["user_id"].astype(str),
            "item_id": raw["problem_id"].astype(str),
            "skill_id": raw["skill_id"].astype(str),
            "correct": raw["correct"],
            "timestamp": raw["order_id"],
            "propensity": raw["propensity"],
        }
    )


@pytest.fixture(scope="session")
def world():
    return make_world(7)


@pytest.fixture(scope="session")
def sim_table(world):
    """Simulator logs with their true propensities (1,000 students, 50 items each)."""
    return to_canonical(simulate_logs(world, 50_000, seed=3))
