import sys
from pathlib import Path

import pytest

KSERVE_DIR = Path(__file__).resolve().parents[2] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops_predictor.demo import save_demo_policy  # noqa: E402


@pytest.fixture(scope="session")
def policy_dir(tmp_path_factory):
    return save_demo_policy(tmp_path_factory.mktemp("policy") / "policy", version="7")
