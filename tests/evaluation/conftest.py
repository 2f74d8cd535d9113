import pytest

from quizops.simulation import make_world, simulate_logs
from tests.evaluation.simlogs import to_canonical


@pytest.fixture(scope="session")
def world():
    return make_world(7)


@pytest.fixture(scope="session")
def sim_table(world):
    """Simulator logs with their true propensities (1,000 students, 50 items each)."""
    return to_canonical(simulate_logs(world, 50_000, seed=3))
