r"""The de-identification policy: what happens to each column, with safe defaults.

A policy file is JSON or YAML::

    columns:                      # column -> action
      student_id: pseudonymize    # HMAC-SHA256 with the secret key
      answer_text: redact         # scan free text, replace each entity with <TYPE>
      skill_name: keep            # keep, but fail the run if personal data is found in it
      teacher_email: drop         # remove (non-canonical columns are always dropped)
    accept:                       # kept column -> entity types that are not personal there
      skill_name: [ADDRESS]       # e.g. skill names the scan takes for street addresses
    text_mode: redact             # or "mask" (one * per character)
    student_id_patterns: ['\\bS\\d{7}\\b']

Anything not listed falls back to the defaults below (for the canonical table) or to the
default action of the column's class (``quizops pii-scan`` on any table: identifiers
pseudonymized, free text redacted, non-personal columns kept, other personal data dropped).
Fail closed: a kept column in which the scan finds personal data (of a type its ``accept``
line does not name), an unknown action, or any scanner error stops the run; the error names the
column, the entity type and the policy line that would accept it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from quizops.canonical import CANONICAL_DTYPES, REQUIRED_COLUMNS
from quizops.errors import InputDataError
from quizops.pii.entities import ENTITY_TYPES, PERSON
from quizops.pii.recognizers import DEFAULT_STUDENT_ID_PATTERNS
from quizops.privacy import MIN_CELL_STUDENTS

PSEUDONYMIZE = "pseudonymize"
REDACT = "redact"
KEEP = "keep"
DROP = "drop"
ACTIONS = (PSEUDONYMIZE, REDACT, KEEP, DROP)

#: Actions of the canonical columns unless a policy says otherwise.
DEFAULT_COLUMN_ACTIONS: dict[str, str] = {
    # Pseudonymized, not kept: a source may build row ids from user ids.
    "interaction_id": PSEUDONYMIZE,
    "student_id": PSEUDONYMIZE,
    "item_id": KEEP,
    "skill_id": KEEP,
    "skill_name": KEEP,
    "correct": KEEP,
    "timestamp": KEEP,
    "attempt_count": KEEP,
    "response_time_ms": KEEP,
    "hint_count": KEEP,
    "answer_text": REDACT,
    "propensity": KEEP,
}


@dataclass(frozen=True)
class PIIPolicy:
    """What the PII stage does to each column.

    Attributes:
        columns: Column -> action (``pseudonymize``, ``redact``, ``keep``, ``drop``); merged over
            :data:`DEFAULT_COLUMN_ACTIONS`. Columns listed nowhere are dropped.
        text_mode: ``redact`` (``<EMAIL>``) or ``mask`` (``*****``) for spans in free text.
        student_id_patterns: Regular expressions of the district's student-id formats.
        keep_scan_types: Entity types searched in kept text columns (names are left out by
            default: item and skill names such as "Pythagorean Theorem" look like names).
        pseudonym_prefix: Prefix of every pseudonym.
        pseudonym_hex_chars: Hex characters of the HMAC kept in a pseudonym (24 = 96 bits).
        verify: Re-scan redacted columns and fail if anything is still found.
        min_cell_students: Small-cell threshold of the report.
        accept: Kept column -> entity types the scan may find in it without failing the run
            (``accept: {skill_name: [ADDRESS]}``: the skill names are not addresses).
    """

    columns: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_COLUMN_ACTIONS))
    text_mode: str = "redact"
    student_id_patterns: tuple[str, ...] = DEFAULT_STUDENT_ID_PATTERNS
    keep_scan_types: tuple[str, ...] = tuple(t for t in ENTITY_TYPES if t != PERSON)
    pseudonym_prefix: str = "p_"
    pseudonym_hex_chars: int = 24
    verify: bool = True
    min_cell_students: int = MIN_CELL_STUDENTS
    accept: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def action(self, column: str) -> str:
        """Returns the action for a column (``drop`` for columns listed nowhere).

        Args:
            column: Column name.

        Returns:
            The action.
        """
        return self.columns.get(column, DROP)

    def summary(self) -> dict[str, Any]:
        """Returns the policy as plain data for the report (it holds no secret).

        Returns:
            The policy fields.
        """
        data = asdict(self)
        data["student_id_patterns"] = len(self.student_id_patterns)
        return data


def _validate(policy: PIIPolicy, source: str) -> PIIPolicy:
    for column, action in policy.columns.items():
        if action not in ACTIONS:
            raise InputDataError(
                f"{source}: column '{column}' has unknown action '{action}'; use one of {ACTIONS}"
            )
        if column in CANONICAL_DTYPES and action == DROP:
            if column in REQUIRED_COLUMNS or CANONICAL_DTYPES[column] != "string":
                raise InputDataError(
                    f"{source}: canonical column '{column}' cannot be dropped (it is required "
                    "or not text); pseudonymize or keep it"
                )
        if column in CANONICAL_DTYPES and CANONICAL_DTYPES[column] != "string":
            if action in (PSEUDONYMIZE, REDACT):
                raise InputDataError(
                    f"{source}: canonical column '{column}' is numeric and cannot be {action}d"
                )
    if policy.text_mode not in ("redact", "mask"):
        raise InputDataError(f"{source}: text_mode must be 'redact' or 'mask'")
    unknown = set(policy.keep_scan_types) - set(ENTITY_TYPES)
    if unknown:
        raise InputDataError(f"{source}: unknown entity types {sorted(unknown)}")
    for column, types in policy.accept.items():
        unknown = set(types) - set(ENTITY_TYPES)
        if unknown:
            raise InputDataError(
                f"{source}: accept line of column '{column}' names unknown entity types "
                f"{sorted(unknown)}; use some of {list(ENTITY_TYPES)}"
            )
    if not 16 <= policy.pseudonym_hex_chars <= 64:
        raise InputDataError(f"{source}: pseudonym_hex_chars must be between 16 and 64")
    if policy.min_cell_students < MIN_CELL_STUDENTS:
        raise InputDataError(f"{source}: min_cell_students may not be below {MIN_CELL_STUDENTS}")
    for pattern in policy.student_id_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InputDataError(f"{source}: bad student-id pattern {pattern!r}: {exc}") from exc
    return policy


def policy_from_dict(data: dict[str, Any], source: str = "policy") -> PIIPolicy:
    """Builds a policy from plain data, over the defaults.

    Args:
        data: Parsed policy (keys of :class:`PIIPolicy`; ``columns`` is merged over defaults).
        source: Where it came from, for error messages.

    Returns:
        The checked policy.

    Raises:
        InputDataError: Unknown keys, actions or entity types, or a bad pattern.
    """
    if not isinstance(data, dict):
        raise InputDataError(f"{source}: a policy must be a mapping")
    known = set(PIIPolicy.__dataclass_fields__)
    unknown = set(data) - known - {"version"}
    if unknown:
        raise InputDataError(f"{source}: unknown policy key(s) {sorted(unknown)}")
    kwargs = {k: v for k, v in data.items() if k in known}
    columns = dict(DEFAULT_COLUMN_ACTIONS)
    columns.update({str(k): str(v) for k, v in (data.get("columns") or {}).items()})
    kwargs["columns"] = columns
    for key in ("student_id_patterns", "keep_scan_types"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    if "accept" in kwargs:
        accept = kwargs["accept"] or {}
        if not isinstance(accept, dict):
            raise InputDataError(f"{source}: accept must map column names to entity types")
        kwargs["accept"] = {
            str(column): tuple([types] if isinstance(types, str) else types or ())
            for column, types in accept.items()
        }
    try:
        policy = PIIPolicy(**kwargs)
    except TypeError as exc:
        raise InputDataError(f"{source}: {exc}") from exc
    return _validate(policy, source)


def load_policy(source: str | os.PathLike[str] | dict[str, Any] | None) -> PIIPolicy:
    """Loads a policy from a file (JSON or YAML), a JSON text, a mapping, or the defaults.

    Args:
        source: ``None`` or ``""`` for the defaults; a mapping; a JSON object as text (the
            component's ``policy_json`` parameter); or a path to a ``.json``/``.yaml`` file.

    Returns:
        The checked policy.

    Raises:
        InputDataError: The file is missing or unparsable, or the policy is invalid.
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        return _validate(PIIPolicy(), "default policy")
    if isinstance(source, dict):
        return policy_from_dict(source)
    text = str(source)
    if text.lstrip().startswith("{"):
        try:
            return policy_from_dict(json.loads(text), "policy JSON")
        except json.JSONDecodeError as exc:
            raise InputDataError(f"policy JSON is not valid JSON: {exc}") from exc
    path = Path(text)
    if not path.is_file():
        raise InputDataError(f"{path}: no such policy file")
    raw = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # only policy files written in YAML need it

            data = yaml.safe_load(raw)
        else:
            data = json.loads(raw)
    except Exception as exc:  # yaml and json raise unrelated types
        raise InputDataError(f"{path}: not a readable policy file: {exc}") from exc
    return policy_from_dict(data or {}, str(path))
