"""The local home: the one folder a local run writes to.

``.quizops/`` in the working directory unless ``QUIZOPS_HOME`` names another. Only ``raw/`` may
hold personal data; ``keys/`` holds the pseudonymization key with mode 0600.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

#: Environment variable that carries the pseudonymization key itself (production: a K8s secret).
from quizops.errors import ConfigurationError
from quizops.names import HOME_ENV, PII_KEY_ENV, PII_KEY_FILE_ENV

#: Environment variable that names a key file (local runs).


@dataclass(frozen=True)
class LocalHome:
    """Paths of the local home.

    Attributes:
        root: The home folder itself.
    """

    root: Path

    @property
    def raw(self) -> Path:
        """Raw inputs (the only place that may hold personal data)."""
        return self.root / "raw"

    @property
    def pipeline_root(self) -> Path:
        """The kfp.local pipeline root."""
        return self.root / "pipeline_root"

    @property
    def mlflow(self) -> Path:
        """The MLflow store (SQLite database and artifacts)."""
        return self.root / "mlflow"

    @property
    def keys(self) -> Path:
        """Local keys (mode 0700 folder, 0600 files)."""
        return self.root / "keys"

    @property
    def decisions(self) -> Path:
        """Decision logs written by the predictor."""
        return self.root / "decisions"

    @property
    def mlflow_tracking_uri(self) -> str:
        """SQLite tracking URI of the local MLflow store."""
        return f"sqlite:///{(self.mlflow / 'mlflow.db').resolve()}"

    @property
    def pii_key_file(self) -> Path:
        """The local pseudonymization key file."""
        return self.keys / "pii.key"

    def create(self) -> None:
        """Creates every folder of the home."""
        for folder in (self.raw, self.pipeline_root, self.mlflow, self.decisions):
            folder.mkdir(parents=True, exist_ok=True)
        self.keys.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)


def local_home(root: str | os.PathLike[str] | None = None) -> LocalHome:
    """Returns the local home.

    Args:
        root: Explicit folder; defaults to ``$QUIZOPS_HOME`` or ``./.quizops``.

    Returns:
        The home (not created; call :meth:`LocalHome.create`).
    """
    chosen = root or os.environ.get(HOME_ENV) or ".quizops"
    return LocalHome(Path(chosen).resolve())


def ensure_key_file(path: str | os.PathLike[str]) -> Path:
    """Creates a random 32-byte key file with mode 0600 unless it exists.

    Args:
        path: Key file path.

    Returns:
        The path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    return path


def load_pii_key() -> bytes:
    """Loads the pseudonymization key from the environment (fail closed).

    ``QUIZOPS_PII_KEY`` (hex or text; production: a Kubernetes secret) wins over
    ``QUIZOPS_PII_KEY_FILE`` (local runs).

    Returns:
        The key bytes.

    Raises:
        ConfigurationError: Neither variable is set, or the key is shorter than 16 bytes.
    """
    value = os.environ.get(PII_KEY_ENV)
    if not value and os.environ.get(PII_KEY_FILE_ENV):
        value = Path(os.environ[PII_KEY_FILE_ENV]).read_text().strip()
    if not value:
        raise ConfigurationError(
            f"no pseudonymization key: set {PII_KEY_ENV} (Kubernetes secret) "
            f"or {PII_KEY_FILE_ENV} (local key file)"
        )
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = value.encode()
    if len(key) < 16:
        raise ConfigurationError(
            f"the pseudonymization key must be at least 16 bytes, got {len(key)}"
        )
    return key
