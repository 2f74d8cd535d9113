"""The raw zone hand-off between ingest and the PII scan.

Ingest converts the source to the canonical table but must not store personal data in the
pipeline root (README, "Why ingest leaves its table in the raw zone": PII is scanned before
anything else stores the data). It writes the
canonical table into the raw zone (beside the source, where personal data already lives) and
passes downstream only a manifest: the table's URI, its SHA-256 and its row count. The PII scan
reads the table back through the manifest, checking the digest, and writes the first
de-identified artifact.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from typing import Any

import pandas as pd

from quizops import storage
from quizops.canonical import conform
from quizops.errors import InputDataError

MANIFEST_KIND = "quizops.quarantined-table/v1"


def write_quarantined(
    df: pd.DataFrame, table_uri: str, manifest_path: str | os.PathLike[str], **extra: Any
) -> dict[str, Any]:
    """Writes a canonical table to the raw zone and its manifest to ``manifest_path``.

    Args:
        df: The canonical frame (personal data allowed: it stays in the raw zone).
        table_uri: Local path or gs:// URI in the raw zone for the Parquet table.
        manifest_path: Local path of the manifest (the ingest output artifact).
        **extra: Further non-personal fields for the manifest (source format, span, ...).

    Returns:
        The manifest.
    """
    buffer = io.BytesIO()
    conform(df, table_uri).to_parquet(buffer, index=False)
    data = buffer.getvalue()
    storage.write_bytes(table_uri, data)
    manifest = {
        "kind": MANIFEST_KIND,
        "table_uri": table_uri,
        "sha256": hashlib.sha256(data).hexdigest(),
        "rows": len(df),
        **extra,
    }
    storage.write_bytes(str(manifest_path), json.dumps(manifest, indent=2).encode())
    return manifest


def read_manifest(manifest_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads and checks a manifest.

    Args:
        manifest_path: Path of a manifest written by :func:`write_quarantined`.

    Returns:
        The manifest.

    Raises:
        InputDataError: The file is not a quarantine manifest.
    """
    try:
        manifest = json.loads(storage.read_bytes(str(manifest_path)))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputDataError(f"{manifest_path}: not a quarantine manifest: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
        raise InputDataError(f"{manifest_path}: not a quarantine manifest ({MANIFEST_KIND})")
    return manifest


def read_quarantined(manifest_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Reads the canonical table a manifest points to, checking digest and row count.

    Args:
        manifest_path: Path of a manifest written by :func:`write_quarantined`.

    Returns:
        The canonical frame (may hold personal data).

    Raises:
        InputDataError: The table is missing, changed since ingest, or not canonical.
    """
    manifest = read_manifest(manifest_path)
    uri = manifest["table_uri"]
    data = storage.read_bytes(uri)
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        raise InputDataError(f"{uri}: changed since ingest (SHA-256 differs from the manifest)")
    df = conform(pd.read_parquet(io.BytesIO(data)), uri)
    if len(df) != manifest["rows"]:
        raise InputDataError(f"{uri}: {len(df)} rows, manifest says {manifest['rows']}")
    return df
