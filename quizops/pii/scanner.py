"""Span-level scanning of free text: every recognizer, overlaps resolved, then redaction."""

from __future__ import annotations

import re
from collections.abc import Iterable

from quizops.pii.entities import PRIORITY, Span
from quizops.pii.names import NameDetector
from quizops.pii.recognizers import DEFAULT_STUDENT_ID_PATTERNS, find_structured

_PLAIN_RE = re.compile(r"^[\s\d.,+\-*/=()^%<>xXyYzZ]*$")
_NUMBER_RE = re.compile(r"^\s*-?\d+(?:[.,]\d+)?\s*$")


class TextScanner:
    """Finds personal data in free text.

    Args:
        student_id_patterns: Regular expressions of the district's student-id formats.
        entity_types: Types to look for (default: all).
        name_detector: The person-name detector (default: the gazetteer detector).
        known_identifiers: Exact identifier values (e.g. the table's student ids) that count as
            STUDENT_ID wherever they appear as a whole token.
        numbers_are_values: A text that is one bare number (``100234567``) is a value, not a
            phone number (for kept columns of ids and counts).
    """

    def __init__(
        self,
        student_id_patterns: Iterable[str] = DEFAULT_STUDENT_ID_PATTERNS,
        entity_types: Iterable[str] | None = None,
        name_detector: NameDetector | None = None,
        known_identifiers: Iterable[str] = (),
        numbers_are_values: bool = False,
    ) -> None:
        self.student_id_patterns = tuple(re.compile(p) for p in student_id_patterns)
        self.entity_types = frozenset(entity_types) if entity_types is not None else None
        self.names = name_detector if name_detector is not None else NameDetector()
        self.known_identifiers = frozenset(k for k in known_identifiers if len(k) >= 4)
        self.numbers_are_values = numbers_are_values

    def _wants(self, entity_type: str) -> bool:
        return self.entity_types is None or entity_type in self.entity_types

    def scan(self, text: str) -> list[Span]:
        """Finds the entities in one text, without overlaps.

        Args:
            text: The text.

        Returns:
            Non-overlapping spans sorted by start; where detections overlap, the type with the
            higher priority wins, then the longer span.
        """
        if not text or (_PLAIN_RE.match(text) and sum(c.isdigit() for c in text) < 9):
            return []
        if self.numbers_are_values and _NUMBER_RE.match(text):
            return []
        found = [
            s for s in find_structured(text, self.student_id_patterns) if self._wants(s.entity_type)
        ]
        if self._wants("PERSON"):
            found.extend(self.names.find(text))
        if self.known_identifiers and self._wants("STUDENT_ID"):
            for m in re.finditer(r"[\w@.+-]{4,}", text):
                if m.group() in self.known_identifiers:
                    found.append(Span(m.start(), m.end(), "STUDENT_ID"))
        if not found:
            return []
        found.sort(key=lambda s: (PRIORITY[s.entity_type], -(s.end - s.start), s.start))
        kept: list[Span] = []
        for span in found:
            if all(span.end <= k.start or span.start >= k.end for k in kept):
                kept.append(span)
        return sorted(kept)


def redact(text: str, spans: list[Span], mode: str = "redact") -> str:
    """Replaces spans in a text.

    Args:
        text: The text.
        spans: Non-overlapping spans sorted by start (as :meth:`TextScanner.scan` returns them).
        mode: ``redact`` writes ``<TYPE>``; ``mask`` writes one ``*`` per character.

    Returns:
        The redacted text.
    """
    if not spans:
        return text
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        if mode == "mask":
            parts.append("*" * (span.end - span.start))
        else:
            parts.append(f"<{span.entity_type}>")
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)
