"""The pipeline stage: quarantined raw table in, de-identified table and report out."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quizops import storage
from quizops.canonical import write_table
from quizops.home import load_pii_key
from quizops.pii.deidentify import deidentify_table
from quizops.pii.policy import load_policy
from quizops.pii.report import render_markdown, report_json
from quizops.quarantine import read_quarantined

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PIIStageResult:
    """What the PII stage did.

    Attributes:
        rows: Rows de-identified.
        status: ``clean`` (a failed stage raises instead).
        report: The report (counts only, small cells suppressed).
    """

    rows: int
    status: str
    report: dict[str, Any] = field(repr=False)


def run_pii_stage(
    *,
    manifest_path: str | os.PathLike[str],
    clean_path: str | os.PathLike[str],
    report_path: str | os.PathLike[str],
    view_path: str | os.PathLike[str],
    policy_json: str = "",
) -> PIIStageResult:
    """Runs the PII stage of the pipeline; a failed stage writes nothing.

    Args:
        manifest_path: The ingest manifest (the raw table stays in the raw zone).
        clean_path: Where to write the de-identified canonical Parquet table.
        report_path: Where to write the JSON report.
        view_path: Where to write the Markdown view of the report.
        policy_json: The policy as a JSON object text (empty: the defaults).

    Returns:
        The result (rows, status and the report).

    Raises:
        InputDataError: The manifest or table is bad, or the policy is invalid.
        PIILeftError: Personal data remains that the policy does not handle.
        RuntimeError: No pseudonymization key is configured.
    """
    policy = load_policy(policy_json)
    key = load_pii_key()
    raw = read_quarantined(manifest_path)
    clean, report = deidentify_table(raw, key, policy, source="quarantined table")
    written: list[Path] = []
    try:
        write_table(clean, clean_path)
        written.append(Path(clean_path))
        storage.write_bytes(str(report_path), report_json(report).encode())
        written.append(Path(report_path))
        storage.write_bytes(str(view_path), render_markdown(report).encode())
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    logger.info(
        "PII stage: %d rows de-identified, %d entity rows in the report",
        report["rows"],
        len(report["entities"]),
    )
    return PIIStageResult(rows=int(report["rows"]), status=str(report["status"]), report=report)
