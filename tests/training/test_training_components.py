"""The feature, training and evaluation components, called through .python_func."""

import mlflow
import pandas as pd
import pytest
from kfp.dsl import HTML, Dataset, Markdown, Metrics, Model

from components.evaluate_policy.component import evaluate_policy
from components.feature_engineering.component import feature_engineering
from components.train_policy.component import train_policy
from quizops.canonical import write_table
from quizops.errors import InputDataError
from quizops.policy import QuizPolicy
from quizops.tracking import REGISTERED_MODEL


def artifact(cls, path):
    return cls(name=path.name, uri=str(path))


def test_features_train_evaluate_chain(canonical_log, tmp_path):
    write_table(canonical_log, tmp_path / "validated.parquet")
    features = artifact(Dataset, tmp_path / "features")
    fe_metrics = artifact(Metrics, tmp_path / "fe_metrics")
    feature_engineering.python_func(
        data=artifact(Dataset, tmp_path / "validated.parquet"),
        features=features,
        metrics=fe_metrics,
    )
    assert (tmp_path / "features" / "tracer.json").is_file()
    assert fe_metrics.metadata["skills"] == canonical_log["skill_id"].nunique()

    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    model = artifact(Model, tmp_path / "model")
    train_metrics = artifact(Metrics, tmp_path / "train_metrics")
    train_policy.python_func(
        features=features,
        model=model,
        metrics=train_metrics,
        tracking_uri=uri,
        experiment="components",
        # Given, not searched: the search's second stage is left out (the search itself is
        # tested in test_policy.py), and the component must pass them on.
        temperature=0.05,
        epsilon=0.02,
        # Sessions of 12 questions, not the default 20: the policy's endgame counts back
        # from the session's end.
        session_length=12,
    )
    version = model.metadata["mlflow_model_version"]
    assert train_metrics.metadata["chosen_temperature"] == 0.05
    assert train_metrics.metadata["chosen_epsilon"] == 0.02
    assert QuizPolicy.load(tmp_path / "model").model.horizon == 12
    assert QuizPolicy.load(tmp_path / "model").version == version
    assert train_metrics.metadata["train_examples"] > 1000
    assert (tmp_path / "mlflow" / "artifacts").is_dir()  # artifacts beside the SQLite store

    report = artifact(HTML, tmp_path / "report.html")
    summary = artifact(Markdown, tmp_path / "summary.md")
    eval_metrics = artifact(Metrics, tmp_path / "eval_metrics")
    blessed = evaluate_policy.python_func(
        model=model,
        features=features,
        metrics=eval_metrics,
        report=report,
        summary=summary,
        tracking_uri=uri,
        students=100,
        steps=12,
    )
    # The gate's verdict is the conjunction of its checks, recorded everywhere.
    checks = {k: v for k, v in eval_metrics.metadata.items() if k.startswith("check_")}
    assert checks and blessed == all(v == 1.0 for v in checks.values())
    assert eval_metrics.metadata["blessed"] == float(blessed)
    assert report.metadata["champion_version"] == "" and summary.metadata["blessed"] == blessed
    assert "Learning curves" in (tmp_path / "report.html").read_text()
    assert ("NOT BLESSED" in (tmp_path / "summary.md").read_text()) == (not blessed)
    client = mlflow.MlflowClient(uri)
    tags = client.get_model_version(REGISTERED_MODEL, version).tags
    assert tags["blessed"] == ("true" if blessed else "false")
    assert tags["gate.champion_version"] == ""


def test_feature_engineering_fails_on_an_empty_table_and_writes_nothing(tmp_path):
    from quizops.canonical import CANONICAL_DTYPES

    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in CANONICAL_DTYPES.items()})
    write_table(empty, tmp_path / "empty.parquet")
    with pytest.raises(InputDataError, match="empty"):
        feature_engineering.python_func(
            data=artifact(Dataset, tmp_path / "empty.parquet"),
            features=artifact(Dataset, tmp_path / "features"),
            metrics=artifact(Metrics, tmp_path / "m"),
        )
    assert not (tmp_path / "features").exists()


def test_a_session_without_questions_is_refused_before_writing(feature_set, tmp_path):
    from quizops.errors import ConfigurationError
    from quizops.features import save_features

    save_features(feature_set, tmp_path / "features")
    with pytest.raises(ConfigurationError, match="session_length"):
        train_policy.python_func(
            features=artifact(Dataset, tmp_path / "features"),
            model=artifact(Model, tmp_path / "model"),
            metrics=artifact(Metrics, tmp_path / "m"),
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
            session_length=0,
        )
    assert not (tmp_path / "model").exists()


def test_training_without_tracking_uri_fails_before_writing(feature_set, tmp_path, monkeypatch):
    from quizops.features import save_features

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    save_features(feature_set, tmp_path / "features")
    with pytest.raises(RuntimeError, match="no MLflow tracking URI"):
        train_policy.python_func(
            features=artifact(Dataset, tmp_path / "features"),
            model=artifact(Model, tmp_path / "model"),
            metrics=artifact(Metrics, tmp_path / "m"),
        )
    assert not (tmp_path / "model").exists()
