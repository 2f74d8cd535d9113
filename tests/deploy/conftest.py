import sys
from pathlib import Path

import pytest

KSERVE_DIR = Path(__file__).resolve().parents[2] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops_predictor.demo import save_demo_policy  # noqa: E402


@pytest.fixture(scope="session")
def policy_dir(tmp_path_factory):
    return save_demo_policy(tmp_path_factory.mktemp("policy") / "policy", version="2")


@pytest.fixture
def registry(tmp_path, policy_dir):
    """A SQLite MLflow registry with quiz-policy versions 1 and 2; version 1 is champion."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("quiz-policy")
    for _ in range(2):
        client.create_model_version("quiz-policy", source=policy_dir.resolve().as_uri())
    client.set_registered_model_alias("quiz-policy", "champion", "1")
    return uri, client
