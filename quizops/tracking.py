"""MLflow tracking and model registry access shared by training, evaluation and deploy.

Locally the tracking URI is a SQLite file (``sqlite:///.../mlflow.db``) and artifacts go to an
``artifacts/`` folder beside it; in production it is the URL of an MLflow tracking server whose
artifact root is on Cloud Storage.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from quizops.errors import ConfigurationError, ModelNotFoundError
from quizops.names import CHAMPION_ALIAS, MLFLOW_TRACKING_URI_ENV, MODEL_NAME, PREVIOUS_ALIAS

logger = logging.getLogger(__name__)

#: Name of the policy in the MLflow model registry (and of the served model).
REGISTERED_MODEL = MODEL_NAME
__all__ = ["CHAMPION_ALIAS", "PREVIOUS_ALIAS", "REGISTERED_MODEL"]


def resolve_tracking_uri(tracking_uri: str = "") -> str:
    """Chooses the tracking URI: the argument, else ``MLFLOW_TRACKING_URI``.

    Args:
        tracking_uri: Explicit URI or "".

    Returns:
        The URI.

    Raises:
        ConfigurationError: Neither is set (a run must not silently track to ./mlruns).
    """
    uri = tracking_uri or os.environ.get(MLFLOW_TRACKING_URI_ENV, "")
    if not uri:
        raise ConfigurationError(
            f"no MLflow tracking URI: pass tracking_uri or set {MLFLOW_TRACKING_URI_ENV}"
        )
    return uri


def artifact_location(tracking_uri: str) -> str | None:
    """Artifact root for a new experiment: beside the database for SQLite stores.

    Args:
        tracking_uri: The tracking URI.

    Returns:
        A ``file://`` URI for SQLite stores, None for servers (they decide).
    """
    if tracking_uri.startswith("sqlite:///"):
        database = Path(tracking_uri[len("sqlite:///") :])
        return (database.parent / "artifacts").resolve().as_uri()
    return None


def start_tracking(tracking_uri: str, experiment: str) -> str:
    """Points MLflow at the store and makes sure the experiment exists.

    Args:
        tracking_uri: Tracking URI (see :func:`resolve_tracking_uri`).
        experiment: Experiment name.

    Returns:
        The experiment id.
    """
    import mlflow

    uri = resolve_tracking_uri(tracking_uri)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        experiment_id = mlflow.create_experiment(
            experiment, artifact_location=artifact_location(uri)
        )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def version_by_alias(alias: str, tracking_uri: str = "") -> Any | None:
    """Looks up the registered version behind an alias.

    Args:
        alias: Alias such as ``champion``.
        tracking_uri: Tracking URI ("" = the one already set).

    Returns:
        The ``ModelVersion`` or None when the model or alias does not exist.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    try:
        return client.get_model_version_by_alias(REGISTERED_MODEL, alias)
    except MlflowException:
        return None


def download_policy(version: Any, destination: str | os.PathLike[str]) -> Path:
    """Downloads a registered policy version's folder.

    Args:
        version: A ``ModelVersion``.
        destination: Local folder to download into.

    Returns:
        The folder holding ``policy.json`` (``<destination>/policy``).
    """
    import mlflow

    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{REGISTERED_MODEL}/{version.version}",
        dst_path=str(destination),
    )
    return Path(local) / "artifacts" / "policy"


def promote_in_registry(model_version: str, tracking_uri: str = "") -> str:
    """Makes a registered version the champion; the former champion becomes ``previous``.

    Args:
        model_version: The registered version of ``quiz-policy``.
        tracking_uri: Tracking URI ("" = ``MLFLOW_TRACKING_URI``).

    Returns:
        The former champion's version ("" if none, or if it is this version).

    Raises:
        ModelNotFoundError: The version is not registered.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        client.get_model_version(REGISTERED_MODEL, model_version)
    except MlflowException as exc:
        raise ModelNotFoundError(
            f"{REGISTERED_MODEL} version {model_version!r} is not registered in {uri}"
        ) from exc
    previous = ""
    try:
        previous = str(client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version)
    except MlflowException:
        previous = ""
    if previous and previous != str(model_version):
        client.set_registered_model_alias(REGISTERED_MODEL, PREVIOUS_ALIAS, previous)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, str(model_version))
    logger.info(
        "%s version %s is champion (previous: %s)", REGISTERED_MODEL, model_version, previous or "-"
    )
    return previous if previous != str(model_version) else ""
