"""De-identification of an interaction table: pseudonymize, redact, drop, verify, report."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from quizops.canonical import CANONICAL_COLUMNS, CANONICAL_DTYPES, conform
from quizops.errors import InputDataError, PIILeftError
from quizops.pii.columns import (
    FREE_TEXT,
    NON_PERSONAL,
    ColumnClass,
    classify_by_name,
    classify_column,
    name_cue,
)
from quizops.pii.columns import (
    IDENTIFIER as IDENTIFIER_CLASS,
)
from quizops.pii.entities import ENTITY_TYPES, PERSON, STUDENT_ID
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


def default_action(cls: ColumnClass) -> str:
    """The safe default action of a column class (for columns no policy line names).

    Identifiers are pseudonymized (a keyed hash keeps them joinable), free text is redacted,
    non-personal columns are kept (after a scan), and every other class of personal data
    (names, contacts, national ids, dates of birth, addresses, network ids) is dropped: the
    pipeline does not need them.

    Args:
        cls: The column's classification.

    Returns:
        The action.
    """
    return {IDENTIFIER_CLASS: PSEUDONYMIZE, FREE_TEXT: REDACT, NON_PERSONAL: KEEP}.get(
        cls.column_class, DROP
    )


def _holds_personal_data(values: pd.Series, scanner: TextScanner) -> bool:
    """Tells whether any distinct value of a column holds personal data.

    Person names count when a known first or last name is among them (a run of capitalised
    words such as a skill name does not).
    """
    if name_cue(str(values.name))[1] is not None:
        return False  # a named item, curriculum or text column keeps its default
    for value in pd.unique(values.dropna().astype(str)):
        for span in scanner.scan(value):
            if span.entity_type != PERSON or scanner.names.has_known_name(
                value[span.start : span.end]
            ):
                return True
    return False


def _student_column(df: pd.DataFrame, classes: dict[str, ColumnClass]) -> str | None:
    """The column that identifies students: ``student_id``, else the first student-id cue."""
    if "student_id" in df.columns:
        return "student_id"
    for column, cls in classes.items():
        if cls.column_class == IDENTIFIER_CLASS and classify_by_name(column) == STUDENT_ID:
            return column
    return None


def _kept_problem(column: str, entity_type: str, cells: int | None, why: str) -> dict[str, Any]:
    """An unhandled entry for a kept column, with the policy lines that would settle it."""
    return {
        "column": column,
        "entity_type": entity_type,
        "reason": why,
        "accept_line": f"accept: {{{column}: [{entity_type}]}}",
        "accept_json": json.dumps({"accept": {column: [entity_type]}}),
        "redact_line": f"columns: {{{column}: redact}}",
        "cells": cells,
    }


def _describe(u: dict[str, Any]) -> str:
    if "accept_line" not in u:
        return f"{u['column']}: {u['reason']}"
    return (
        f"{u['column']}: {u['reason']}; if these are not personal data, accept them with the "
        f"policy line '{u['accept_line']}' (JSON policy: {u['accept_json']}), or handle the "
        f"column with '{u['redact_line']}'"
    )


def deidentify_frame(
    df: pd.DataFrame,
    key: bytes,
    policy: PIIPolicy | None = None,
    scanner: TextScanner | None = None,
    source: str = "table",
    auto: bool = False,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """De-identifies a frame with any columns, per the policy (fail closed).

    Every column is classified and reported; pseudonymized columns are replaced with keyed
    hashes, redacted columns are scanned and their entities replaced, kept text columns are
    scanned and must hold no personal data (unless the policy accepts an entity type in that
    column), other columns are dropped.

    Args:
        df: The frame (may hold personal data).
        key: The pseudonymization key.
        policy: The policy (default: :class:`PIIPolicy` defaults).
        scanner: Text scanner (default: one built from the policy).
        source: Name of the input, for messages.
        auto: Any table: a column no policy line names gets the default action of its class
            (:func:`default_action`) instead of being dropped, and dropped columns leave the
            output. Without it the frame must have a ``student_id`` column.

    Returns:
        ``(frame, report)``: the de-identified frame (columns in input order) and the report
        (counts only; cells of fewer than ``min_cell_students`` students suppressed).

    Raises:
        InputDataError: No ``student_id`` column (without ``auto``).
        PIILeftError: Personal data the policy does not handle, or a scanner error.
    """
    policy = policy or load_policy(None)
    if not auto and "student_id" not in df.columns:
        raise InputDataError(f"{source}: no student_id column")
    try:
        base = scanner or TextScanner(student_id_patterns=policy.student_id_patterns)
        classes = {column: classify_column(column, df[column], base) for column in df.columns}
        student_column = _student_column(df, classes)
        if student_column is not None:
            students = df[student_column]
            if scanner is None:
                known = [s for s in students.dropna().astype(str).unique() if not s.isdigit()]
                scanner = TextScanner(
                    student_id_patterns=policy.student_id_patterns,
                    name_detector=base.names,
                    known_identifiers=known,
                )
        else:
            students = pd.Series(np.arange(len(df)), index=df.index)
        scanner = scanner or base
        keep_scanner = TextScanner(
            student_id_patterns=policy.student_id_patterns,
            entity_types=policy.keep_scan_types,
            name_detector=scanner.names,
            numbers_are_values=True,
        )
        out = pd.DataFrame(index=df.index)
        tally = _Tally()
        actions: dict[str, str] = {}
        unhandled: list[dict[str, Any]] = []
        for column in df.columns:
            cls = classes[column]
            if auto and column not in policy.columns:
                action = default_action(cls)
                if action == KEEP and not cls.numeric and _holds_personal_data(df[column], scanner):
                    # No name cue and too few personal values to name the column: the safe
                    # default for a column nobody vouched for is to redact it.
                    action = REDACT
                    cls = replace(
                        cls,
                        column_class=FREE_TEXT,
                        free_text=True,
                        reason=cls.reason + "; some values hold personal data: redacted",
                    )
                    classes[column] = cls
            else:
                action = policy.action(column)
            actions[column] = action
            values = df[column]
            text_like = not pd.api.types.is_numeric_dtype(values)
            if action == PSEUDONYMIZE:
                domain = "student_id" if column == student_column else str(column)
                out[column] = pseudonymize_values(
                    values, key, domain, policy.pseudonym_prefix, policy.pseudonym_hex_chars
                )
                present = values.notna()
                tally.add(
                    column,
                    cls.entity_type or (STUDENT_ID if column == student_column else IDENTIFIER),
                    int(present.sum()),
                    int(present.sum()),
                    students[present].unique(),
                )
            elif action == REDACT:
                out[column] = _scan_text_column(
                    values.astype("string"), students, scanner, column, tally, policy.text_mode
                )
            elif action == KEEP:
                accepted = set(policy.accept.get(column, ()))
                if text_like and not cls.numeric:
                    check = _Tally()
                    _scan_text_column(
                        values.astype("string"), students, keep_scanner, column, check, None
                    )
                    for (_, entity_type), cells in sorted(check.cells.items()):
                        if entity_type in accepted:
                            continue
                        unhandled.append(
                            _kept_problem(
                                column,
                                entity_type,
                                cells,
                                f"kept column holds {entity_type} in {cells} cell(s)",
                            )
                        )
                    for k in check.cells:
                        tally.add(k[0], k[1], check.spans[k], check.cells[k], check.students[k])
                if (
                    cls.entity_type
                    and cls.evidence
                    and "name" in cls.evidence
                    and cls.entity_type not in accepted
                ):
                    unhandled.append(
                        _kept_problem(
                            column,
                            cls.entity_type,
                            None,
                            f"kept column's name says {cls.entity_type}",
                        )
                    )
                out[column] = values
            elif action == DROP:
                if not auto and column in CANONICAL_DTYPES:
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
        # The exception's text may quote a cell: only its type is reported.
        raise PIILeftError(
            f"{source}: the PII scanner failed ({type(exc).__name__}); failing closed"
        ) from None
    report = build_report(
        df, tally, classes, actions, unhandled, verification, policy, student_column, auto
    )
    if unhandled:
        raise PIILeftError(f"{source}: " + "; ".join(_describe(u) for u in unhandled))
    return out, report


def build_report(
    df: pd.DataFrame,
    tally: _Tally,
    classes: dict[str, ColumnClass],
    actions: dict[str, str],
    unhandled: list[dict[str, Any]],
    verification: dict[str, int],
    policy: PIIPolicy,
    student_column: str | None = "student_id",
    auto: bool = False,
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
        student_column: The column that identifies students (None: no such column, and the
            report counts rows where it would count students).
        auto: Dropped columns leave the output (any table) rather than stay empty.

    Returns:
        The report.
    """
    threshold = policy.min_cell_students
    entity_rows = suppress_small_cells(tally.rows(actions), ("spans", "cells"), threshold=threshold)
    n_students = int(df[student_column].nunique()) if student_column else None
    columns = [
        {
            "column": column,
            "class": cls.column_class,
            "classified_as": cls.entity_type,
            "evidence": cls.evidence,
            "why": cls.reason,
            "free_text": cls.free_text,
            "content_share": round(cls.content_share, 3),
            "values": int(df[column].notna().sum()),
            "action": actions[column],
            "kept_in_output": actions[column] != DROP or (column in CANONICAL_DTYPES and not auto),
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
        "students": n_students if n_students and n_students >= threshold else None,
        "student_column": student_column,
        "mode": "any table" if auto else "canonical",
        "min_cell_students": threshold,
        "policy": policy.summary(),
        "columns": columns,
        "entities": entity_rows,
        "unhandled": unhandled,
        "verification": verification,
        "dropped_columns": [
            c for c, a in actions.items() if a == DROP and (auto or c not in CANONICAL_DTYPES)
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
