"""Reading and writing bytes at local paths or ``gs://`` URIs.

gs:// goes through the real google-cloud-storage client, which honours
``STORAGE_EMULATOR_HOST`` (tests point it at a local GCS emulator). Writes are atomic: a local
file is written to a temporary name and renamed; a GCS object is uploaded in one request.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from quizops.errors import InputDataError


def is_gcs(uri: str) -> bool:
    """Tells whether a URI names a Cloud Storage object.

    Args:
        uri: A local path or ``gs://bucket/object``.

    Returns:
        True for gs:// URIs.
    """
    return str(uri).startswith("gs://")


def split_gcs(uri: str) -> tuple[str, str]:
    """Splits ``gs://bucket/name`` into bucket and object name.

    Args:
        uri: A gs:// URI.

    Returns:
        ``(bucket, name)``.

    Raises:
        InputDataError: The URI has no bucket.
    """
    rest = uri[len("gs://") :]
    bucket, _, name = rest.partition("/")
    if not bucket:
        raise InputDataError(f"{uri}: not a gs://bucket/object URI")
    return bucket, name


def gcs_client() -> Any:
    """Returns a google-cloud-storage client (anonymous when an emulator is configured).

    Returns:
        A ``google.cloud.storage.Client``.
    """
    from google.cloud import storage  # imported lazily: only gs:// users need it

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(
            project=os.environ.get("GOOGLE_CLOUD_PROJECT", "quizops-test"),
            credentials=AnonymousCredentials(),
        )
    return storage.Client()


def read_bytes(uri: str) -> bytes:
    """Reads a whole local file or GCS object.

    Args:
        uri: Local path or gs:// URI.

    Returns:
        The content.

    Raises:
        InputDataError: The file or object does not exist.
    """
    if is_gcs(uri):
        from google.api_core.exceptions import NotFound

        bucket, name = split_gcs(uri)
        try:
            return gcs_client().bucket(bucket).blob(name).download_as_bytes()
        except NotFound as exc:
            raise InputDataError(f"{uri}: no such object") from exc
    path = Path(uri)
    if not path.is_file():
        raise InputDataError(f"{uri}: no such file")
    return path.read_bytes()


def write_bytes(uri: str, data: bytes) -> None:
    """Writes a whole local file (atomically, via rename) or GCS object.

    Args:
        uri: Local path or gs:// URI.
        data: The content.
    """
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        gcs_client().bucket(bucket).blob(name).upload_from_string(data)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def join(base: str, *parts: str) -> str:
    """Joins path parts onto a local path or gs:// URI.

    Args:
        base: Local path or gs:// URI.
        *parts: Parts to append.

    Returns:
        The joined path or URI.
    """
    if is_gcs(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def is_file(uri: str) -> bool:
    """Tells whether a local file or GCS object exists at ``uri``.

    Args:
        uri: Local path or gs:// URI.

    Returns:
        True when a file (not a folder) or an object exists there.
    """
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        if not name or name.endswith("/"):
            return False
        return bool(gcs_client().bucket(bucket).blob(name).exists())
    return Path(uri).is_file()


def list_files(uri: str) -> list[str]:
    """Lists every file below a local folder or gs:// prefix, recursively, sorted.

    Args:
        uri: Local folder or gs:// URI of a "folder" (a prefix; a trailing slash is optional).

    Returns:
        Full paths or gs:// URIs of the files, sorted; empty when nothing is there.
    """
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        prefix = name.rstrip("/") + "/" if name.strip("/") else ""
        blobs = gcs_client().list_blobs(bucket, prefix=prefix)
        return sorted(f"gs://{bucket}/{b.name}" for b in blobs if not b.name.endswith("/"))
    root = Path(uri)
    if not root.is_dir():
        return []
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def parent(uri: str) -> str:
    """Returns the folder holding a local path or gs:// object.

    Args:
        uri: Local path or gs:// URI.

    Returns:
        The parent folder (gs:// URIs keep their scheme and bucket).
    """
    if is_gcs(uri):
        bucket, name = split_gcs(uri)
        head = name.rstrip("/").rpartition("/")[0]
        return f"gs://{bucket}/{head}" if head else f"gs://{bucket}"
    return str(Path(uri).parent)
