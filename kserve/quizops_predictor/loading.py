"""Loads the policy to serve: from a saved policy folder or from the MLflow model registry."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from quizops.errors import ModelNotFoundError
from quizops.policy import QuizPolicy
from quizops.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

logger = logging.getLogger(__name__)

#: The blessed policy: what ``make serve`` serves.
CHAMPION_URI = f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}"
#: Folder inside the registered model's artifacts that :meth:`QuizPolicy.load` reads.
POLICY_FOLDER = "policy"


def find_policy_dir(root: Path) -> Path:
    """Finds the saved policy folder inside downloaded model artifacts.

    Looks for ``policy/`` at the root, then under ``artifacts/`` (where a pyfunc model keeps the
    artifacts it was logged with), then anywhere below.

    Args:
        root: The downloaded artifact folder.

    Returns:
        The policy folder.

    Raises:
        ModelNotFoundError: No ``policy/`` folder exists below ``root``.
    """
    for candidate in (root / POLICY_FOLDER, root / "artifacts" / POLICY_FOLDER):
        if candidate.is_dir():
            return candidate
    found = sorted(p for p in root.rglob(POLICY_FOLDER) if p.is_dir())
    if found:
        return found[0]
    raise ModelNotFoundError(f"no '{POLICY_FOLDER}/' folder in the model artifacts at {root}")


def load_policy(
    model_dir: str | Path | None = None,
    model_uri: str | None = None,
    tracking_uri: str | None = None,
    download_dir: str | Path | None = None,
) -> tuple[QuizPolicy, str]:
    """Loads a policy from a folder or a registry URI.

    Args:
        model_dir: A folder written by :meth:`QuizPolicy.save` (wins over ``model_uri``).
        model_uri: An MLflow URI such as ``models:/quiz-policy@champion``.
        tracking_uri: MLflow tracking (and registry) URI for ``model_uri``.
        download_dir: Where to download registry artifacts (default: a temporary folder).

    Returns:
        The policy and the version to report: the registered version when loaded from the
        registry, else the policy's own ``version``.

    Raises:
        ModelNotFoundError: The folder, registered model or alias does not exist.
    """
    if model_dir is not None:
        folder = Path(model_dir)
        if not folder.is_dir():
            raise ModelNotFoundError(f"model folder {folder} does not exist")
        policy = QuizPolicy.load(folder)
        return policy, policy.version
    if not model_uri:
        raise ModelNotFoundError("give --model-dir or --model-uri")
    import mlflow
    from mlflow.exceptions import MlflowException

    version = ""
    if model_uri.startswith("models:/") and "@" in model_uri:
        name, alias = model_uri.removeprefix("models:/").split("@", 1)
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        try:
            version = str(client.get_model_version_by_alias(name, alias).version)
        except MlflowException as exc:
            raise ModelNotFoundError(
                f"no model version of '{name}' carries the alias '{alias}' in {tracking_uri}: "
                "run the training pipeline (make run) so that a blessed policy is promoted"
            ) from exc
        model_uri = f"models:/{name}/{version}"
    elif model_uri.startswith("models:/"):
        version = model_uri.rstrip("/").rsplit("/", 1)[-1]
    target = Path(download_dir or tempfile.mkdtemp(prefix="quiz-policy-"))
    target.mkdir(parents=True, exist_ok=True)
    if tracking_uri:
        # Both: resolving models:/ in MLflow 3 also reads the tracking store (the logged
        # model), which would otherwise default to a new ./mlflow.db in the working folder.
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=model_uri, dst_path=str(target), tracking_uri=tracking_uri
        )
    except MlflowException as exc:
        raise ModelNotFoundError(f"cannot download {model_uri}: {exc}") from exc
    policy = QuizPolicy.load(find_policy_dir(Path(local)))
    version = version or policy.version
    logger.info("loaded %s (version %s) from %s", model_uri, version or "-", local)
    return policy, version
