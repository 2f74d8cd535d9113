"""MLflow tracking and model registry access shared by training, evaluation and deploy.

Locally the tracking URI is a SQLite file (``sqlite:///.../mlflow.db``) and artifacts go to an
``artifacts/`` folder beside it; in production it is the URL of an MLflow tracking server whose
artifact root is on Cloud Storage.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quizops.errors import ConfigurationError, ModelNotFoundError, RegistryError
from quizops.names import CHAMPION_ALIAS, MLFLOW_TRACKING_URI_ENV, MODEL_NAME, PREVIOUS_ALIAS

logger = logging.getLogger(__name__)

#: Name of the policy in the MLflow model registry (and of the served model).
REGISTERED_MODEL = MODEL_NAME
__all__ = ["CHAMPION_ALIAS", "PREVIOUS_ALIAS", "REGISTERED_MODEL"]
#: Registered model whose existence is the promotion lock (creating it is atomic in MLflow).
PROMOTION_LOCK_MODEL = f"{MODEL_NAME}.promotion-lock"
#: Model version tags that carry a registered policy's lineage.
LINEAGE_TAG_PREFIX = "lineage."


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
    # The registry lives on the same server; a registry URI set earlier in the process (the
    # predictor's loader sets one) must not send registrations or alias reads elsewhere.
    mlflow.set_registry_uri(uri)
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
    """Looks up the registered version behind an alias, failing closed.

    Only a genuine "not set" answer (the registered model or the alias does not exist) means
    None; any other MLflow error (server unreachable, permission denied, a corrupt store) raises,
    so that an outage never reads as "no champion yet".

    Args:
        alias: Alias such as ``champion``.
        tracking_uri: Tracking URI ("" = the one already set).

    Returns:
        The ``ModelVersion`` or None when the model or alias does not exist.

    Raises:
        RegistryError: The registry could not be read.
    """
    import mlflow

    client = registry_client(tracking_uri) if tracking_uri else mlflow.MlflowClient()
    return _version_by_alias(client, alias)


#: MLflow's switch of its per-file download progress bar.
PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


@contextmanager
def no_download_progress_bar() -> Iterator[None]:
    """Turns MLflow's download progress bar off for a block (the previous setting is restored).

    A policy folder holds about a hundred files: the bar would print a line for each into a
    task's log.
    """
    previous = os.environ.get(PROGRESS_BAR_ENV)
    os.environ[PROGRESS_BAR_ENV] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PROGRESS_BAR_ENV, None)
        else:
            os.environ[PROGRESS_BAR_ENV] = previous


def download_policy(version: Any, destination: str | os.PathLike[str]) -> Path:
    """Downloads a registered policy version's folder (without a progress bar).

    Args:
        version: A ``ModelVersion``.
        destination: Local folder to download into.

    Returns:
        The folder holding ``policy.json`` (``<destination>/policy``).
    """
    import mlflow

    with no_download_progress_bar():
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{REGISTERED_MODEL}/{version.version}",
            dst_path=str(destination),
        )
    return Path(local) / "artifacts" / "policy"


# ----------------------------------------------------------------------------- registry


def registry_client(tracking_uri: str = "") -> Any:
    """An ``MlflowClient`` on one tracking and registry URI.

    Args:
        tracking_uri: Tracking URI ("" = ``MLFLOW_TRACKING_URI``).

    Returns:
        The client.
    """
    import mlflow

    uri = resolve_tracking_uri(tracking_uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def _alias_not_set(exc: Exception) -> bool:
    """True when MLflow answered "no such registered model / alias" (not an outage)."""
    code = getattr(exc, "error_code", "")
    message = str(exc)
    if code == "RESOURCE_DOES_NOT_EXIST" and "Registered Model" in message:
        return True
    return code == "INVALID_PARAMETER_VALUE" and "alias" in message and "not found" in message


def _version_by_alias(client: Any, alias: str, model: str = REGISTERED_MODEL) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model, alias)
    except MlflowException as exc:
        if _alias_not_set(exc):
            return None
        raise RegistryError(
            f"MLflow registry: could not read alias '{alias}' of '{model}' "
            f"({getattr(exc, 'error_code', 'error')}); refusing to treat it as unset"
        ) from exc
    except OSError as exc:
        raise RegistryError(
            f"MLflow registry: could not read alias '{alias}' of '{model}' ({type(exc).__name__})"
        ) from exc


def read_alias(alias: str, tracking_uri: str = "", client: Any | None = None) -> str:
    """The version behind an alias, as a string.

    Args:
        alias: ``champion`` or ``previous``.
        tracking_uri: Tracking URI ("" = ``MLFLOW_TRACKING_URI``).
        client: An ``MlflowClient`` to use instead.

    Returns:
        The version, or "" when the alias (or the registered model) is not set.

    Raises:
        RegistryError: The registry could not be read (fails closed).
    """
    found = _version_by_alias(client or registry_client(tracking_uri), alias)
    return "" if found is None else str(found.version)


def read_champion(tracking_uri: str = "", client: Any | None = None) -> str:
    """The champion's version ("" when none was ever promoted); see :func:`read_alias`.

    Args:
        tracking_uri: Tracking URI.
        client: An ``MlflowClient`` to use instead.

    Returns:
        The version or "".

    Raises:
        RegistryError: The registry could not be read.
    """
    return read_alias(CHAMPION_ALIAS, tracking_uri, client)


@dataclass(frozen=True)
class Lineage:
    """Where a registered policy came from; stored as ``lineage.*`` model version tags.

    Attributes:
        span: The data span trained on (e.g. ``2026-11-23``).
        data_hash: Content hash of the training data (hex).
        kfp_run_id: The Kubeflow Pipelines run ("" outside KFP).
        image: The image the stage ran in.
        code_version: quizops version or commit.
    """

    span: str = ""
    data_hash: str = ""
    kfp_run_id: str = ""
    image: str = ""
    code_version: str = ""

    def to_tags(self) -> dict[str, str]:
        """The non-empty fields as tags.

        Returns:
            ``{"lineage.span": ..., ...}``.
        """
        return {
            f"{LINEAGE_TAG_PREFIX}{key}": str(value)
            for key, value in vars(self).items()
            if value not in ("", None)
        }


def register_policy(
    source: str,
    run_id: str,
    lineage: Lineage,
    tracking_uri: str = "",
    tags: Mapping[str, str] | None = None,
    attempts: int = 5,
) -> str:
    """Registers a policy as a new version of ``quiz-policy`` with its lineage tags.

    Concurrent registrations each get their own version: MLflow numbers versions inside a
    database transaction. A transient conflict (another writer held the store) is retried a
    bounded number of times.

    Args:
        source: The model's artifact URI (``runs:/<run>/policy`` or a logged model URI).
        run_id: The MLflow run that produced it.
        lineage: Span, data hash, KFP run, image and code version.
        tracking_uri: Tracking URI.
        tags: Further version tags (no personal data).
        attempts: Tries at most.

    Returns:
        The new version.

    Raises:
        RegistryError: Registration failed.
    """
    from mlflow.exceptions import MlflowException

    client = registry_client(tracking_uri)
    all_tags = {**lineage.to_tags(), **(tags or {})}
    try:
        client.create_registered_model(REGISTERED_MODEL)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
            raise RegistryError(
                f"MLflow registry: could not create '{REGISTERED_MODEL}' ({exc.error_code})"
            ) from exc
    last: Exception | None = None
    for attempt in range(max(1, attempts)):
        try:
            version = client.create_model_version(
                REGISTERED_MODEL, source=source, run_id=run_id or None, tags=all_tags
            )
            logger.info("registered %s version %s", REGISTERED_MODEL, version.version)
            return str(version.version)
        except MlflowException as exc:
            last = exc
            logger.warning("registration attempt %d failed (%s)", attempt + 1, exc.error_code)
            time.sleep(0.2 * (attempt + 1))
    raise RegistryError(
        f"MLflow registry: could not register a version of '{REGISTERED_MODEL}' after "
        f"{attempts} attempts ({getattr(last, 'error_code', 'error')})"
    ) from last


def tag_lineage(version: str, lineage: Lineage, tracking_uri: str = "") -> None:
    """Adds lineage tags to an already registered version (e.g. one ``log_model`` registered).

    Args:
        version: The version.
        lineage: The lineage.
        tracking_uri: Tracking URI.

    Raises:
        RegistryError: Tagging failed.
    """
    from mlflow.exceptions import MlflowException

    client = registry_client(tracking_uri)
    try:
        for key, value in lineage.to_tags().items():
            client.set_model_version_tag(REGISTERED_MODEL, str(version), key, value)
    except MlflowException as exc:
        raise RegistryError(
            f"MLflow registry: could not tag version {version} of '{REGISTERED_MODEL}' "
            f"({exc.error_code})"
        ) from exc


class _PromotionLock:
    """A registry-wide mutex: the existence of the registered model ``PROMOTION_LOCK_MODEL``.

    ``create_registered_model`` is a unique insert in MLflow's store, so exactly one writer
    succeeds. A lock older than ``lease`` seconds is taken to belong to a crashed writer and is
    broken. Waiting is bounded by ``timeout``.
    """

    def __init__(
        self,
        client: Any,
        timeout: float = 30.0,
        lease: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.lease = lease
        self.sleep = sleep
        self.token = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> _PromotionLock:
        from mlflow.exceptions import MlflowException

        deadline = time.monotonic() + self.timeout
        delay = 0.05
        while True:
            try:
                self.client.create_registered_model(
                    PROMOTION_LOCK_MODEL,
                    tags={"holder": self.token},
                    description="quizops promotion lock (deleted when the promotion ends)",
                )
                return self
            except MlflowException as exc:
                if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                    raise RegistryError(
                        f"MLflow registry: could not take the promotion lock ({exc.error_code})"
                    ) from exc
            self._break_if_stale()
            if time.monotonic() + delay > deadline:
                raise RegistryError(
                    f"MLflow registry: another promotion held '{PROMOTION_LOCK_MODEL}' for more "
                    f"than {self.timeout:.0f} s; retry later"
                )
            self.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _break_if_stale(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            lock = self.client.get_registered_model(PROMOTION_LOCK_MODEL)
        except MlflowException:
            return  # released meanwhile
        age = time.time() - (lock.creation_timestamp or 0) / 1000.0
        if age > self.lease:
            logger.warning("breaking a promotion lock %.0f s old (holder crashed?)", age)
            try:
                self.client.delete_registered_model(PROMOTION_LOCK_MODEL)
            except MlflowException:
                pass

    def __exit__(self, *exc: object) -> None:
        from mlflow.exceptions import MlflowException

        try:
            lock = self.client.get_registered_model(PROMOTION_LOCK_MODEL)
            if lock.tags.get("holder") == self.token:
                self.client.delete_registered_model(PROMOTION_LOCK_MODEL)
        except MlflowException as error:
            logger.warning("could not release the promotion lock (%s)", error.error_code)


@dataclass(frozen=True)
class Promotion:
    """The result of a registry promotion or rollback.

    Attributes:
        champion: The version that is champion now.
        previous: The version that is ``previous`` now ("" if none).
        replaced: The champion before this change ("" if none).
    """

    champion: str
    previous: str
    replaced: str


def _set_alias(client: Any, alias: str, version: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.set_registered_model_alias(REGISTERED_MODEL, alias, str(version))
    except MlflowException as exc:
        raise RegistryError(
            f"MLflow registry: could not set alias '{alias}' to version {version} "
            f"({exc.error_code})"
        ) from exc


def _require_version(client: Any, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(REGISTERED_MODEL, str(version))
    except MlflowException as exc:
        if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise ModelNotFoundError(
                f"{REGISTERED_MODEL} version {str(version)!r} is not registered"
            ) from exc
        raise RegistryError(
            f"MLflow registry: could not read version {version} ({exc.error_code})"
        ) from exc


def promote(
    version: str,
    expected_champion: str,
    tracking_uri: str = "",
    lock_timeout: float = 30.0,
) -> Promotion:
    """Makes ``version`` the champion if the champion is still ``expected_champion`` (CAS).

    Under the registry-wide promotion lock: read the champion; refuse when it is not the one the
    caller read (an evaluation compared the challenger with that champion; a different champion
    invalidates the comparison); else the former champion becomes ``previous`` and ``version``
    becomes ``champion``; the aliases are read back to verify.

    Args:
        version: The registered version to promote.
        expected_champion: The champion the caller read ("" = there was none).
        tracking_uri: Tracking URI.
        lock_timeout: Seconds to wait for a concurrent promotion to finish.

    Returns:
        The new aliases.

    Raises:
        RegistryError: The champion changed since it was read, or the registry failed.
        ModelNotFoundError: The version is not registered.
    """
    client = registry_client(tracking_uri)
    version, expected = str(version), str(expected_champion or "")
    with _PromotionLock(client, timeout=lock_timeout):
        _require_version(client, version)
        current = read_champion(client=client)
        if current != expected:
            raise RegistryError(
                f"champion changed since it was read (expected version {expected or '(none)'}, "
                f"found {current or '(none)'}); re-evaluate against the current champion"
            )
        previous = read_alias(PREVIOUS_ALIAS, client=client)
        if current and current != version:
            _set_alias(client, PREVIOUS_ALIAS, current)
            previous = current
        _set_alias(client, CHAMPION_ALIAS, version)
        if read_champion(client=client) != version:
            raise RegistryError(f"champion alias did not read back as version {version}")
    logger.info(
        "%s version %s is champion (previous: %s)", REGISTERED_MODEL, version, previous or "-"
    )
    return Promotion(champion=version, previous=previous, replaced=current)


def rollback_to_previous(
    tracking_uri: str = "", expected_champion: str | None = None, lock_timeout: float = 30.0
) -> Promotion:
    """Restores the ``previous`` version as champion.

    The demoted champion is tagged ``rolled_back=true`` and the ``previous`` alias is removed,
    so that a second rollback cannot bounce back to the version just demoted.

    Args:
        tracking_uri: Tracking URI.
        expected_champion: When given, refuse unless the champion is still this version.
        lock_timeout: Seconds to wait for a concurrent promotion.

    Returns:
        The new aliases (``replaced`` is the demoted version).

    Raises:
        RegistryError: No ``previous`` version, a champion that changed, or a registry failure.
    """
    from mlflow.exceptions import MlflowException

    client = registry_client(tracking_uri)
    with _PromotionLock(client, timeout=lock_timeout):
        current = read_champion(client=client)
        if expected_champion is not None and current != str(expected_champion):
            raise RegistryError(
                f"champion changed since it was read (expected version {expected_champion}, "
                f"found {current or '(none)'})"
            )
        previous = read_alias(PREVIOUS_ALIAS, client=client)
        if not previous:
            raise RegistryError(f"no '{PREVIOUS_ALIAS}' version of {REGISTERED_MODEL} to restore")
        _set_alias(client, CHAMPION_ALIAS, previous)
        try:
            client.delete_registered_model_alias(REGISTERED_MODEL, PREVIOUS_ALIAS)
            if current:
                client.set_model_version_tag(REGISTERED_MODEL, current, "rolled_back", "true")
        except MlflowException as exc:
            raise RegistryError(
                f"MLflow registry: champion restored to {previous} but the aliases could not be "
                f"tidied ({exc.error_code})"
            ) from exc
        if read_champion(client=client) != previous:
            raise RegistryError(f"champion alias did not read back as version {previous}")
    logger.info("%s rolled back: champion %s (was %s)", REGISTERED_MODEL, previous, current)
    return Promotion(champion=previous, previous="", replaced=current)


def champion_for_promotion(version: str, tracking_uri: str = "") -> str:
    """The champion a promotion of ``version`` must find (compare-and-set), checked now.

    When the evaluation gate recorded the champion it compared the challenger against (tag
    :data:`quizops.names.GATE_CHAMPION_TAG` on the version), the current champion must still be
    that one: a different champion invalidates the comparison.

    Args:
        version: The challenger's registered version.
        tracking_uri: Tracking URI.

    Returns:
        The current champion ("" if none).

    Raises:
        RegistryError: The registry could not be read, or the champion changed since the
            evaluation.
        ModelNotFoundError: The version is not registered.
    """
    from quizops.names import GATE_CHAMPION_TAG

    client = registry_client(tracking_uri)
    tags = _require_version(client, str(version)).tags or {}
    current = read_champion(client=client)
    evaluated = tags.get(GATE_CHAMPION_TAG)
    if evaluated is not None and str(evaluated) != current:
        raise RegistryError(
            f"champion changed since version {version} was evaluated (evaluated against "
            f"{evaluated or '(none)'}, champion now {current or '(none)'}); re-evaluate"
        )
    return current


def promote_in_registry(
    model_version: str, tracking_uri: str = "", expected_champion: str | None = None
) -> str:
    """Promotes after a deployment: :func:`promote` with the champion read now or given.

    Args:
        model_version: The registered version of ``quiz-policy``.
        tracking_uri: Tracking URI ("" = ``MLFLOW_TRACKING_URI``).
        expected_champion: The champion read before the deployment (None = read it now).

    Returns:
        The former champion's version ("" if none, or if it is this version).

    Raises:
        ModelNotFoundError: The version is not registered.
        RegistryError: The champion changed meanwhile, or the registry failed.
    """
    client = registry_client(tracking_uri)
    _require_version(client, str(model_version))
    expected = read_champion(client=client) if expected_champion is None else expected_champion
    result = promote(str(model_version), expected, tracking_uri)
    return result.replaced if result.replaced != str(model_version) else ""
