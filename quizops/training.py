"""The training stage: fit the policy on engineered features, track and register it in MLflow."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from quizops.features import load_features
from quizops.policy import QuizPolicy, TrainingConfig, train_policy
from quizops.tracking import REGISTERED_MODEL, start_tracking

logger = logging.getLogger(__name__)


def _pyfunc_class() -> type:
    """Builds the MLflow pyfunc wrapper lazily (mlflow is imported only when tracking)."""
    import mlflow.pyfunc

    class QuizPolicyModel(mlflow.pyfunc.PythonModel):
        """MLflow pyfunc face of a :class:`QuizPolicy` (for batch scoring and the registry)."""

        def load_context(self, context: Any) -> None:
            self.policy = QuizPolicy.load(context.artifacts["policy"])

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            import pandas as pd

            histories = [list(map(tuple, h)) for h in model_input["history"]]
            items, propensities = self.policy.choose_many(histories)
            return pd.DataFrame({"item_id": items, "propensity": propensities})

    return QuizPolicyModel


def run_training_stage(
    features_dir: str | os.PathLike[str],
    model_dir: str | os.PathLike[str],
    tracking_uri: str,
    experiment: str,
    config: TrainingConfig | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Trains the policy, writes it to ``model_dir`` and registers it in MLflow.

    The policy is first saved to a temporary folder and moved into ``model_dir`` only after
    training and registration succeed, so a failed stage leaves no model behind.

    Args:
        features_dir: Output folder of feature engineering.
        model_dir: Destination folder of the policy (the KFP Model artifact).
        tracking_uri: MLflow tracking URI.
        experiment: MLflow experiment name.
        config: Hyper-parameters.
        tags: Extra MLflow run tags (no personal data).

    Returns:
        ``run_id``, ``model_version`` and the training metrics.
    """
    import mlflow

    config = config or TrainingConfig()
    features = load_features(features_dir)
    start_tracking(tracking_uri, experiment)
    staging = Path(tempfile.mkdtemp(prefix="quizops-policy-"))
    try:
        with mlflow.start_run(run_name="train_policy", tags=tags or {}) as run:
            mlflow.log_params({f"train.{k}": v for k, v in asdict(config).items()})
            mlflow.log_params(
                {
                    "data.examples": len(features.examples),
                    "data.items": len(features.items),
                    "data.skills": features.tracer.n_skills,
                }
            )
            policy = train_policy(features, config)
            mlflow.log_metrics(policy.metrics)
            policy.save(staging / "policy")
            info = mlflow.pyfunc.log_model(
                name="policy",
                python_model=_pyfunc_class()(),
                artifacts={"policy": str(staging / "policy")},
                pip_requirements=["quizops", "scikit-learn==1.9.*", "pandas", "pyarrow"],
                registered_model_name=REGISTERED_MODEL,
            )
            version = str(info.registered_model_version)
        policy.version = version
        policy.save(staging / "policy")
        model_dir = Path(model_dir)
        if model_dir.exists():
            shutil.rmtree(model_dir)
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging / "policy"), model_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("registered %s version %s (run %s)", REGISTERED_MODEL, version, run.info.run_id)
    return {"run_id": run.info.run_id, "model_version": version, "metrics": policy.metrics}
