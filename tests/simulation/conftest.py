import pytest

from quizops.simulation import make_world


@pytest.fixture(scope="session")
def world():
    return make_world(7)
