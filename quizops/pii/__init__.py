"""PII scan and de-identification: detection, policy, actions, report.

The pipeline calls :func:`deidentify_table` (through :func:`run_pii_stage`); users and auditors
call ``quizops pii-scan`` (:mod:`quizops.pii.cli`).
"""

from quizops.pii.deidentify import deidentify_frame, deidentify_table, pseudonymize_values
from quizops.pii.entities import ENTITY_TYPES, STRUCTURED_TYPES, Span
from quizops.pii.policy import PIIPolicy, load_policy
from quizops.pii.report import render_html, render_markdown, report_json
from quizops.pii.scanner import TextScanner, redact
from quizops.pii.stage import PIIStageResult, run_pii_stage

__all__ = [
    "ENTITY_TYPES",
    "STRUCTURED_TYPES",
    "PIIPolicy",
    "PIIStageResult",
    "Span",
    "TextScanner",
    "deidentify_frame",
    "deidentify_table",
    "load_policy",
    "pseudonymize_values",
    "redact",
    "render_html",
    "render_markdown",
    "report_json",
    "run_pii_stage",
]
