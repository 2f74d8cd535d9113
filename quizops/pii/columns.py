"""Column-level classification: what kind of personal data a whole column holds.

A column is judged from its name (``email``, ``dob``, ``telefon``, ...) and from a sample of its
distinct values scanned with the text scanner: when at least :data:`CONTENT_SHARE` of the sampled
values are mostly one entity, the column holds that entity. Columns of long texts with spaces are
free text, whose entities are counted span by span instead.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from quizops.pii.entities import (
    ADDRESS,
    DATE_OF_BIRTH,
    EMAIL,
    IP_ADDRESS,
    PERSON,
    PHONE,
    STUDENT_ID,
    URL,
    US_SSN,
)
from quizops.pii.scanner import TextScanner

#: Share of sampled values that must be mostly one entity for the column to count as that entity.
CONTENT_SHARE = 0.3
#: Distinct values sampled per column.
SAMPLE_SIZE = 200

NAME_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), t)
    for p, t in (
        (r"e_?mail|courriel|correo", EMAIL),
        (
            r"phone|^tel|telefon|t[ée]l[ée]phone|tel[ée]fono|mobile|cell|handy|portable|m[óo]vil",
            PHONE,
        ),
        (r"ssn|social_?security|national_?id|tax_?id|^nin$|^sin$|passport", US_SSN),
        (r"dob|birth|geburt|naissance|nacimiento|bday", DATE_OF_BIRTH),
        (r"address|street|^addr|adresse|stra(ss|ß)e|direcci[óo]n|postcode|zip|postal|plz", ADDRESS),
        (r"^ip$|ip_?addr|ipv[46]|remote_?addr|client_?ip|^last_?ip|_ip$", IP_ADDRESS),
        (r"url|website|homepage|web_?page|^link|^uri$", URL),
        (
            r"(^|_)(first|last|full|given|family|sur|middle|user|student|teacher|parent)_?name$"
            r"|^name$|^nom$|pr[ée]nom|^nombre$|apellido|vorname|nachname",
            PERSON,
        ),
        (r"student_?id|user_?id|learner_?id|pupil_?id|^login$|^username$|matric", STUDENT_ID),
    )
)


@dataclass(frozen=True)
class ColumnClass:
    """What a column holds.

    Attributes:
        column: Column name.
        entity_type: The entity the whole column holds, or None.
        evidence: ``name``, ``content``, ``name+content`` or None.
        content_share: Share of sampled distinct values that are mostly an entity.
        free_text: The column holds free text (scanned span by span).
    """

    column: str
    entity_type: str | None
    evidence: str | None
    content_share: float
    free_text: bool


def classify_by_name(column: str) -> str | None:
    """Classifies a column from its name alone.

    Args:
        column: Column name.

    Returns:
        An entity type or None.
    """
    normalized = re.sub(r"[\s.-]+", "_", column.strip())
    for pattern, entity_type in NAME_RULES:
        if pattern.search(normalized):
            return entity_type
    return None


def classify_column(column: str, values: pd.Series, scanner: TextScanner) -> ColumnClass:
    """Classifies a column from its name and a sample of its distinct values.

    Args:
        column: Column name.
        values: The column.
        scanner: The text scanner.

    Returns:
        The classification.
    """
    by_name = classify_by_name(column)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return ColumnClass(column, by_name, "name" if by_name else None, 0.0, False)
    distinct = pd.Series(values.dropna().astype(str).unique())
    if len(distinct) > SAMPLE_SIZE:
        distinct = distinct.sample(SAMPLE_SIZE, random_state=0)
    votes: Counter[str] = Counter()
    long_texts = 0
    for value in distinct:
        spans = scanner.scan(value)
        by_type: Counter[str] = Counter()
        for span in spans:
            by_type[span.entity_type] += span.end - span.start
        if by_type:
            entity_type, covered = by_type.most_common(1)[0]
            if covered >= 0.6 * len(value.strip()):
                votes[entity_type] += 1
                continue
        if len(value) > 40 and value.count(" ") >= 4:
            long_texts += 1
    n = max(1, len(distinct))
    free_text = long_texts >= 0.3 * n
    by_content, share = (None, 0.0)
    if votes:
        top, count = votes.most_common(1)[0]
        share = count / n
        if share >= CONTENT_SHARE and not free_text:
            by_content = top
    if by_name and by_content:
        evidence = "name+content" if by_name == by_content else "content"
        return ColumnClass(column, by_content, evidence, share, free_text)
    if by_content:
        return ColumnClass(column, by_content, "content", share, free_text)
    if by_name and not free_text:
        return ColumnClass(column, by_name, "name", share, free_text)
    return ColumnClass(column, None, None, share, free_text)
