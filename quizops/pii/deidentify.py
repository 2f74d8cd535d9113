"""De-identification of an interaction table: pseudonymize, redact, drop, verify, report."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd

from quizops.canonical import CANONICAL_COLUMNS, CANONICAL_DTYPES, conform
from quizops.errors import InputDataError, PIILeftError
from quizops.pii.columns import ColumnClass, classify_column
from quizops.pii.entities import ENTITY_TYPES, STUDENT_ID
from quizops.pii.policy import DROP, KEEP, PSEUDONYMIZE, REDACT, PIIPolicy, load_policy
from quizops.pii.scanner import TextScanner, redact
from quizops.privacy import suppress_small_cells

logger = logging.getLogger(__name__)

REPORT_KIND = "quizops.pii-report/v1"
#: Entity type reported for a pseudonymized column that is no known kind of personal data.
IDENTIFIER = "IDENTIFIER"
_ORDER = {t: i for i, t in enumerate((*ENTITY_TYPES, IDENTIFIER))}
#: Most redaction passes over one text before the verification decides.
REDACTION_PASSES = 3


def pseudonymize_values(
    values: pd.Series,
    key: bytes,
    domain: str = "student_id",
    prefix: str = "p_",
    hex_chars: int = 24,
) -> pd.Series:
    """Replaces each value with a keyed hash (HMAC-SHA256), the same value always alike.

    Args:
        values: The identifiers (missing values stay missing).
        key: The secret key (at least 16 bytes).
        domain: Separates the pseudonyms of different kinds of identifier; student ids use
            ``student_id`` so that every table's students join up.
        prefix: Prefix of each pseudonym.
        hex_chars: Number of hex characters of the HMAC kept.

    Returns:
        The pseudonyms as a string Series with the same index.
    """
    if len(key) < 16:
        raise ValueError("the pseudonymization key must be at least 16 bytes")
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keyed = hmac.new(key, f"quizops/{domain}\x00".encode(), hashlib.sha256)
    mapped = []
    for value in np.asarray(uniques, dtype=object).tolist():
        mac = keyed.copy()  # the keyed state is computed once, not per value
        mac.update(str(value).encode())
        mapped.append(prefix + mac.hexdigest()[:hex_chars])
    out = pd.Series(pd.array([None] * len(values), dtype="string"), index=values.index)
    present = codes >= 0
    out[present] = pd.array(mapped, dtype="string").take(codes[present])
    return out


class _Tally:
    """Counts cells, spans and distinct students per (column, entity type)."""

    def __init__(self) -> None:
        self.spans: Counter[tuple[str, str]] = Counter()
        self.cells: Counter[tuple[str, str]] = Counter()
        self.students: defaultdict[tuple[str, str], set[Any]] = defaultdict(set)

    def add(self, column: str, entity_type: str, spans: int, cells: int, students: Any) -> None:
        self.spans[(column, entity_type)] += spans
        self.cells[(column, entity_type)] += cells
        self.students[(column, entity_type)].update(students)

    def rows(self, action: dict[str, str]) -> list[dict[str, Any]]:
        return [
            {
                "column": column,
                "entity_type": entity_type,
                "action": action.get(column, "none"),
                "spans": self.spans[(column, entity_type)],
                "cells": self.cells[(column, entity_type)],
                "students": len(self.students[(column, entity_type)]),
            }
            for column, entity_type in sorted(
                self.cells, key=lambda k: (k[0], _ORDER.get(k[1], len(_ORDER)))
            )
        ]


def _scan_text_column(
    values: pd.Series,
    students: pd.Series,
    scanner: TextScanner,
    column: str,
    tally: _Tally,
    mode: str | None,
) -> pd.Series:
    """Scans every distinct text of a column once; redacts when ``mode`` is given."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    found: list[list[Any]] = []
    replaced: list[str] = []
    for text in uniques:
        text = str(text)
        spans = scanner.scan(text)
        found.append(spans)
        if mode and spans:
            # Redacting can change what a recognizer sees (a date that separated a birth cue
            # from another date is gone, a name is no longer inside an address): re-scan.
            for _ in range(REDACTION_PASSES):
                text = redact(text, spans, mode)
                spans = scanner.scan(text)
                if not spans:
                    break
                found[-1] = found[-1] + spans
        replaced.append(text)
    hit_codes = [i for i, spans in enumerate(found) if spans]
    if hit_codes:
        hit_set = set(hit_codes)
        rows_by_code: defaultdict[int, list[int]] = defaultdict(list)
        for row, code in enumerate(codes):
            if code in hit_set:
                rows_by_code[code].append(row)
        student_values = students.to_numpy()
        for code in hit_codes:
            rows = rows_by_code[code]
            per_type = Counter(s.entity_type for s in found[code])
            for entity_type, n_spans in per_type.items():
                tally.add(column, entity_type, n_spans * len(rows), len(rows), student_values[rows])
    if not mode:
        return values
    out = pd.Series(pd.array([None] * len(values), dtype="string"), index=values.index)
    present = codes >= 0
    out[present] = pd.array(replaced, dtype="string").take(codes[present])
    return out


def deidentify_frame(
    df: pd.DataFrame,
    key: bytes,
    policy: PIIPolicy | None = None,
    scanner: TextScanner | None = None,
    source: str = "table",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """De-identifies a frame with any columns, per the policy (fail closed).

    Every column is classified and reported; pseudonymized columns are replaced with keyed
    hashes, redacted columns are scanned and their entities replaced, kept text columns are
    scanned and must hold no personal data, other columns are dropped.

    Args:
        df: The frame (may hold personal data).
        key: The pseudonymization key.
        policy: The policy (default: :class:`PIIPolicy` defaults).
        scanner: Text scanner (default: one built from the policy).
        source: Name of the input, for messages.

    Returns:
        ``(frame, report)``: the de-identified frame (listed columns only, in input order) and
        the report (counts only; cells of fewer than ``min_cell_students`` students suppressed).

    Raises:
        PIILeftError: Personal data the policy does not handle, or a scanner error.
    """
    policy = policy or load_policy(None)
    if "student_id" not in df.columns:
        raise InputDataError(f"{source}: no student_id column")
    students = df["student_id"]
    try:
        scanner = scanner or TextScanner(
            student_id_patterns=policy.student_id_patterns,
            known_identifiers=[
                s for s in students.dropna().astype(str).unique() if not s.isdigit()
            ],
        )
        keep_scanner = TextScanner(
            student_id_patterns=policy.student_id_patterns,
            entity_types=policy.keep_scan_types,
            name_detector=scanner.names,
        )
        out = pd.DataFrame(index=df.index)
        tally = _Tally()
        classes: dict[str, ColumnClass] = {}
        actions: dict[str, str] = {}
        unhandled: list[dict[str, Any]] = []
        for column in df.columns:
            action = policy.action(column)
            actions[column] = action
            values = df[column]
            cls = classify_column(column, values, scanner)
            classes[column] = cls
            text_like = not pd.api.types.is_numeric_dtype(values)
            if action == PSEUDONYMIZE:
                out[column] = pseudonymize_values(
                    values, key, column, policy.pseudonym_prefix, policy.pseudonym_hex_chars
                )
                present = values.notna()
                tally.add(
                    column,
                    cls.entity_type or (STUDENT_ID if column == "student_id" else IDENTIFIER),
                    int(present.sum()),
                    int(present.sum()),
                    students[present].unique(),
                )
            elif action == REDACT:
                out[column] = _scan_text_column(
                    values.astype("string"), students, scanner, column, tally, policy.text_mode
                )
            elif action == KEEP:
                if text_like:
                    before = len(tally.cells)
                    _scan_text_column(
                        values.astype("string"), students, keep_scanner, column, tally, None
                    )
                    if len(tally.cells) > before:
                        unhandled.append({"column": column, "reason": "personal data found"})
                if cls.entity_type and cls.evidence and "name" in cls.evidence:
                    unhandled.append(
                        {"column": column, "reason": f"column name says {cls.entity_type}"}
                    )
                out[column] = values
            elif action == DROP:
                if column in CANONICAL_DTYPES:
                    out[column] = pd.array([None] * len(df), dtype="string")
            else:  # pragma: no cover - the policy validator rejects unknown actions
                unhandled.append({"column": column, "reason": f"unknown action {action}"})
        verification = {"rescanned_columns": 0, "residual_cells": 0}
        if policy.verify:
            for column, action in actions.items():
                if action != REDACT:
                    continue
                verification["rescanned_columns"] += 1
                check = _Tally()
                _scan_text_column(out[column], students, scanner, column, check, None)
                residual = sum(check.cells.values())
                verification["residual_cells"] += residual
                if residual:
                    unhandled.append({"column": column, "reason": "redaction left entities"})
    except (PIILeftError, InputDataError):
        raise
    except Exception as exc:
        raise PIILeftError(
            f"{source}: the PII scanner failed ({type(exc).__name__}: {exc}); failing closed"
        ) from exc
    report = build_report(df, tally, classes, actions, unhandled, verification, policy)
    if unhandled:
        details = "; ".join(f"{u['column']}: {u['reason']}" for u in unhandled)
        raise PIILeftError(f"{source}: {details}")
    return out, report


def build_report(
    df: pd.DataFrame,
    tally: _Tally,
    classes: dict[str, ColumnClass],
    actions: dict[str, str],
    unhandled: list[dict[str, Any]],
    verification: dict[str, int],
    policy: PIIPolicy,
) -> dict[str, Any]:
    """Builds the report: counts per column and entity type, actions, never a raw value.

    Args:
        df: The input frame (only its size and distinct student count are read).
        tally: The counts.
        classes: Column classifications.
        actions: Column actions.
        unhandled: Problems that fail the run.
        verification: Re-scan results.
        policy: The policy.

    Returns:
        The report.
    """
    threshold = policy.min_cell_students
    entity_rows = suppress_small_cells(tally.rows(actions), ("spans", "cells"), threshold=threshold)
    n_students = int(df["student_id"].nunique())
    columns = [
        {
            "column": column,
            "classified_as": cls.entity_type,
            "evidence": cls.evidence,
            "free_text": cls.free_text,
            "content_share": round(cls.content_share, 3),
            "action": actions[column],
            "kept_in_output": actions[column] != DROP or column in CANONICAL_DTYPES,
        }
        for column, cls in classes.items()
    ]
    totals: Counter[str] = Counter()
    for (_, entity_type), cells in tally.cells.items():
        totals[entity_type] += cells
    return {
        "kind": REPORT_KIND,
        "status": "failed" if unhandled else "clean",
        "rows": len(df),
        "students": n_students if n_students >= threshold else None,
        "min_cell_students": threshold,
        "policy": policy.summary(),
        "columns": columns,
        "entities": entity_rows,
        "unhandled": unhandled,
        "verification": verification,
        "dropped_columns": [
            c for c, a in actions.items() if a == DROP and c not in CANONICAL_DTYPES
        ],
    }


def deidentify_table(
    df: pd.DataFrame, key: bytes, policy: PIIPolicy | None = None, source: str = "table"
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """De-identifies a canonical interaction table.

    ``student_id`` is pseudonymized with HMAC-SHA256 (the same key gives the same pseudonym in
    every run), ``answer_text`` is redacted, the other canonical columns are kept after a scan,
    and any further column is dropped, all per the policy.

    Args:
        df: A frame holding at least the canonical columns (may hold more).
        key: The pseudonymization key (at least 16 bytes).
        policy: The policy (default: the safe defaults).
        source: Name of the input, for messages.

    Returns:
        ``(clean, report)``: the de-identified canonical frame and the report dict.

    Raises:
        InputDataError: A canonical column is missing or malformed.
        PIILeftError: Personal data remains that the policy does not handle.
    """
    missing = [c for c in CANONICAL_COLUMNS if c not in df.columns]
    if missing:
        raise InputDataError(f"{source}: missing canonical column(s) {missing}")
    clean, report = deidentify_frame(df, key, policy, source=source)
    for entry in report["columns"]:  # the canonical table carries only canonical columns
        entry["kept_in_output"] = entry["column"] in CANONICAL_COLUMNS
    report["dropped_columns"] = [c for c in df.columns if c not in CANONICAL_COLUMNS]
    return conform(clean[CANONICAL_COLUMNS], source), report
