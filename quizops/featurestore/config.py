"""Where the feature store lives and how to open it.

Locally the store is a Feast repository folder under the home (``$QUIZOPS_HOME/feature_store``):
``feature_store.yaml`` (local provider, file registry ``registry.db``, SQLite online store
``online.db``, file offline store) and ``data/`` with the offline Parquet files. The same file
is committed, with ``${QUIZOPS_HOME}`` left to Feast's environment expansion, as
``feature_repo/feature_store.yaml``; ``feature_repo/production/feature_store.yaml`` documents
the production store (GCS registry and offline files, Redis online store, credentials from
Kubernetes secrets through environment variables).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from quizops.errors import FeatureStoreError
from quizops.home import local_home
from quizops.names import FEATURE_STORE_ENV

logger = logging.getLogger(__name__)

#: The configuration file Feast reads in a repository folder.
CONFIG_FILE = "feature_store.yaml"
#: Folder of the offline Parquet files inside a local repository.
OFFLINE_FOLDER = "data"

_LOCAL_TEMPLATE = """\
# quizops feature store, local: everything under one folder of the home.
project: quizops
provider: local
registry:
  registry_type: file
  path: {root}/registry.db
  cache_ttl_seconds: 60
online_store:
  type: sqlite
  path: {root}/online.db
offline_store:
  type: file
entity_key_serialization_version: 3
"""


def local_config_text(root: str) -> str:
    """Returns the local ``feature_store.yaml`` for a repository folder.

    Args:
        root: Absolute folder of the repository.

    Returns:
        The YAML text.
    """
    return _LOCAL_TEMPLATE.format(root=root)


def default_repo_path() -> Path:
    """Returns the feature repository the predictor and the local run use.

    ``$QUIZOPS_FEATURE_STORE`` when set (production: the folder holding the production
    ``feature_store.yaml``), else ``feature_store/`` in the local home.

    Returns:
        The folder (it may not exist).
    """
    configured = os.environ.get(FEATURE_STORE_ENV)
    if configured:
        return Path(configured)
    return local_home().root / "feature_store"


def ensure_local_repo(repo_path: str | os.PathLike[str]) -> Path:
    """Creates a local repository folder with its ``feature_store.yaml`` unless one exists.

    Args:
        repo_path: The folder.

    Returns:
        The folder (absolute).
    """
    root = Path(repo_path).resolve()
    (root / OFFLINE_FOLDER).mkdir(parents=True, exist_ok=True)
    config = root / CONFIG_FILE
    if not config.exists():
        tmp = root / f".{CONFIG_FILE}.tmp"
        tmp.write_text(local_config_text(str(root)))
        tmp.replace(config)
        logger.info("created a local feature repository in %s", root)
    return root


def offline_root(repo_path: str | os.PathLike[str], offline_uri: str = "") -> str:
    """Returns where the offline Parquet files of a repository live.

    Args:
        repo_path: The repository folder.
        offline_uri: Explicit location (production: a ``gs://`` prefix); empty for
            ``<repo>/data``.

    Returns:
        A folder path or a URI prefix.
    """
    if offline_uri:
        return offline_uri.rstrip("/")
    return str(Path(repo_path).resolve() / OFFLINE_FOLDER)


def open_store(repo_path: str | os.PathLike[str]) -> Any:
    """Opens a Feast store (imports Feast: about 3 s the first time).

    Args:
        repo_path: Folder holding ``feature_store.yaml``.

    Returns:
        The ``feast.FeatureStore``.

    Raises:
        FeatureStoreError: The folder holds no ``feature_store.yaml`` or Feast rejects it.
    """
    root = Path(repo_path)
    if not (root / CONFIG_FILE).is_file():
        raise FeatureStoreError(
            f"{root}: no {CONFIG_FILE} (run the training pipeline, e.g. `make run`, which "
            "materializes the feature store, or set "
            f"{FEATURE_STORE_ENV} to a feature repository)"
        )
    from feast import FeatureStore

    try:
        return FeatureStore(repo_path=str(root))
    except Exception as exc:  # Feast raises its own config and registry errors
        raise FeatureStoreError(f"{root / CONFIG_FILE}: cannot open the store ({exc})") from exc
