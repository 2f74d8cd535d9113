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
            r"phone|^tel|telefon|t[ée]l[ée]phone|tel[ée]fono|mobile|cell|handy|portable|m[óo]vil"
            r"|cellulare|celular|telefoonnummer|^fax",
            PHONE,
        ),
        (
            r"ssn|social_?security|national_?id|tax_?id|^nin$|^sin$|passport|codice_?fiscale"
            r"|(^|_)cpf($|_)|(^|_)bsn($|_)|(^|_)dni($|_)|(^|_)nie($|_)|my_?number|steuer_?id",
            US_SSN,
        ),
        (r"dob|birth|geburt|naissance|nacimiento|nascita|nascimento|geboorte|bday", DATE_OF_BIRTH),
        (
            r"address|street|^addr|adresse|stra(ss|ß)e|direcci[óo]n|indirizzo|endere[çc]o|adres"
            r"|postcode|zip|postal|plz|^cap$|^cep$",
            ADDRESS,
        ),
        (r"^ip$|ip_?addr|ipv[46]|remote_?addr|client_?ip|^last_?ip|_ip$|^mac_?addr", IP_ADDRESS),
        (r"url|website|homepage|web_?page|^link|^uri$", URL),
        (
            r"(^|_)(first|last|full|given|family|sur|middle|student|teacher|parent|guardian"
            r"|mother|father|child|pupil|learner)_?name$"
            r"|^name$|^nom$|pr[ée]nom|^nombre$|apellido|vorname|nachname|^nome$|cognome"
            r"|sobrenome|achternaam|voornaam|^guardian$|^parent$",
            PERSON,
        ),
        (
            r"student_?id|user_?id|learner_?id|pupil_?id|^login$|^user_?name$|matric|account"
            r"|^user$|^student$|^learner$|^pupil$",
            STUDENT_ID,
        ),
    )
)

#: Column-name words of curriculum and log columns: what they hold is not personal data by
#: default (item, skill and standard names look like names and places to a text scanner).
CURRICULUM_NAME_RE = re.compile(
    r"(?i)problem|item|question|skill|assignment|assistment|exercise|task|quiz|(^|_)kc($|_)"
    r"|knowledge|concept|standard|(^|_)tags?($|_)|bundle|lecture|lesson|course|content|topic"
    r"|template|curricul|chapter|unit_|^unit$|subject|grade_?level|correct|score|attempt|hint"
    r"|response_?time|first_?response|duration|elapsed|overlap_?time|^ms_|_ms$|latency"
    r"|timestamp|^time$|_time$|^order|opportunit|part$|^platform$|^source$|answer_?type"
    r"|original|tutor_?mode|position|type$"
)
#: Column-name words of free text typed by people.
FREE_TEXT_NAME_RE = re.compile(
    r"(?i)text|comment|note|message|feedback|remark|answer|(^|_)response$|essay|explanation"
    r"|description|body|chat|reply|reason|observa|bemerk|kommentar|commentaire|opmerking"
)
#: Column-name words of identifiers that are not of a person (kept as they are).
ITEM_ID_RE = re.compile(
    r"(?i)^(problem|item|question|skill|assignment|assistment|exercise|task|quiz|kc|concept"
    r"|standard|tag|bundle|lecture|lesson|course|content|topic|template|section|unit|school"
    r"|class|classroom|district|grade|part|chapter|subject|interaction|attempt|order|event"
    r"|log|row|response|answer|hint|step|session|skill_builder|sequence|test|assessment)s?"
    r"_?(id|ids|no|nr|number|code|key)$"
)
#: Any other identifier column (``*_id``, ``*_uuid``, ``*_key``): pseudonymized by default.
GENERIC_ID_RE = re.compile(r"(?i)(^|_)(id|ids|uuid|guid|key|code|no|nr|number)$|[a-z]Id$")

#: Column classes of the report, with the entity types that put a column in them.
IDENTIFIER = "identifier"
PERSON_NAME = "person name"
CONTACT = "contact"
NATIONAL_ID = "national id"
BIRTH_DATE = "date of birth"
ADDRESS_CLASS = "address"
NETWORK_ID = "network id"
FREE_TEXT = "free text"
NON_PERSONAL = "non-personal"
COLUMN_CLASSES: tuple[str, ...] = (
    IDENTIFIER,
    PERSON_NAME,
    CONTACT,
    NATIONAL_ID,
    BIRTH_DATE,
    ADDRESS_CLASS,
    NETWORK_ID,
    FREE_TEXT,
    NON_PERSONAL,
)
CLASS_OF_ENTITY: dict[str, str] = {
    STUDENT_ID: IDENTIFIER,
    PERSON: PERSON_NAME,
    EMAIL: CONTACT,
    PHONE: CONTACT,
    URL: CONTACT,
    US_SSN: NATIONAL_ID,
    DATE_OF_BIRTH: BIRTH_DATE,
    ADDRESS: ADDRESS_CLASS,
    IP_ADDRESS: NETWORK_ID,
}
_NUMBER_RE = re.compile(r"^\s*[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class ColumnClass:
    """What a column holds.

    Attributes:
        column: Column name.
        entity_type: The entity the whole column holds, or None.
        evidence: ``name``, ``content``, ``name+content`` or None.
        content_share: Share of sampled distinct values that are mostly an entity.
        free_text: The column holds free text (scanned span by span).
        column_class: One of :data:`COLUMN_CLASSES`.
        reason: Why, in words (a name cue or a content share; never a value).
        numeric: Every value is a number.
    """

    column: str
    entity_type: str | None
    evidence: str | None
    content_share: float
    free_text: bool
    column_class: str = NON_PERSONAL
    reason: str = "no name cue, no personal data in the sampled values"
    numeric: bool = False


def _normalize(column: str) -> str:
    return re.sub(r"[\s.-]+", "_", str(column).strip())


def classify_by_name(column: str) -> str | None:
    """Classifies a column from its name alone.

    Args:
        column: Column name.

    Returns:
        An entity type or None.
    """
    normalized = _normalize(column)
    for pattern, entity_type in NAME_RULES:
        if pattern.search(normalized):
            return entity_type
    return None


def name_cue(column: str) -> tuple[str | None, str | None]:
    """Reads what a column's name says: an entity type or a column class.

    Args:
        column: Column name.

    Returns:
        ``(entity_type, column_class)``: the entity type when the name names one, and
        :data:`IDENTIFIER`, :data:`FREE_TEXT`, :data:`NON_PERSONAL` (an item or curriculum
        column) or None.
    """
    normalized = _normalize(column)
    by_name = classify_by_name(column)
    if by_name is not None:
        return by_name, CLASS_OF_ENTITY[by_name]
    if ITEM_ID_RE.search(normalized):
        return None, NON_PERSONAL
    if GENERIC_ID_RE.search(normalized):
        return None, IDENTIFIER
    if FREE_TEXT_NAME_RE.search(normalized) and not CURRICULUM_NAME_RE.search(
        normalized.replace("answer", "")
    ):
        return None, FREE_TEXT
    if CURRICULUM_NAME_RE.search(normalized):
        return None, NON_PERSONAL
    return None, None


def is_numeric_column(values: pd.Series) -> bool:
    """Tells whether every present value of a column is a number (numbers as text count).

    Args:
        values: The column.

    Returns:
        True for numeric and boolean dtypes, and for text whose every value reads as a number.
    """
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return True
    present = pd.Series(values.dropna().unique()).astype(str)
    if present.empty:
        return False
    sample = present if len(present) <= SAMPLE_SIZE else present.sample(SAMPLE_SIZE, random_state=0)
    if not sample.str.match(_NUMBER_RE).all():
        return False  # most text columns stop here, after a small sample
    numbers = pd.to_numeric(present, errors="coerce")  # decimal commas: text, scanned
    return bool(numbers.notna().all())


_DATE_ONLY_RE = re.compile(
    r"^\s*(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})\s*$"
)


def looks_like_birth_dates(values: pd.Series) -> bool:
    """Tells whether a sample of distinct values is a column of birth dates.

    Dates without a time of day, at least 90% of them three to a hundred years in the past,
    spread over more than one year: event dates of a log are recent or carry a time.

    Args:
        values: Distinct values of a column, as text.

    Returns:
        True when the column holds birth dates by its content alone.
    """
    if len(values) < 5 or not values.str.match(_DATE_ONLY_RE).mean() >= 0.9:
        return False
    day_first = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=True)
    month_first = pd.to_datetime(values, errors="coerce", format="mixed")
    parsed = day_first.fillna(month_first).dropna()
    if len(parsed) < 0.9 * len(values):
        return False
    age_years = (pd.Timestamp.now() - parsed).dt.days / 365.25
    in_range = ((age_years >= 3) & (age_years <= 100)).mean()
    return bool(in_range >= 0.9 and parsed.dt.year.nunique() > 1)


def classify_column(
    column: str, values: pd.Series, scanner: TextScanner, curriculum: bool | None = None
) -> ColumnClass:
    """Classifies a column from its name and a sample of its distinct values.

    Args:
        column: Column name.
        values: The column.
        scanner: The text scanner.
        curriculum: The column holds item or curriculum names (person-name votes are then
            ignored: skill names such as "Pythagorean Theorem" look like names). None: decide
            from the column name.

    Returns:
        The classification.
    """
    by_name, name_class = name_cue(column)
    if curriculum is None:
        curriculum = name_class == NON_PERSONAL
    if is_numeric_column(values):
        cls_name = (
            name_class if name_class and (by_name or name_class == IDENTIFIER) else NON_PERSONAL
        )
        reason = f"name cue ({cls_name}); numbers" if by_name else "numbers"
        if name_class == IDENTIFIER and not by_name:
            reason = "name cue (identifier); numbers"
        return ColumnClass(
            column, by_name, "name" if by_name else None, 0.0, False, cls_name, reason, True
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dropna()
        if stamps.empty or (stamps.dt.normalize() == stamps).all():
            values = stamps.dt.strftime("%Y-%m-%d")  # dates (no time of day) read as dates
    distinct = pd.Series(values.dropna().astype(str).unique())
    if len(distinct) > SAMPLE_SIZE:
        distinct = distinct.sample(SAMPLE_SIZE, random_state=0)
    votes: Counter[str] = Counter()
    long_texts = 0
    for value in distinct:
        spans = scanner.scan(value)
        by_type: Counter[str] = Counter()
        for span in spans:
            if span.entity_type == PERSON and (
                curriculum or not scanner.names.has_known_name(value[span.start : span.end])
            ):
                # A run of capitalised words ("Algebraic Simplification") is no evidence
                # that a column holds names; a known first or last name is.
                continue
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
    if not votes and not free_text and by_name is None and looks_like_birth_dates(distinct):
        votes[DATE_OF_BIRTH] = len(distinct)
    by_content, share = (None, 0.0)
    if votes:
        top, count = votes.most_common(1)[0]
        share = count / n
        if share >= CONTENT_SHARE and not free_text:
            by_content = top
    shown = f"{share:.0%} of {len(distinct)} sampled distinct values"
    if by_name and by_content:
        evidence = "name+content" if by_name == by_content else "content"
        reason = (
            f"name cue and content ({shown} are {by_content})"
            if by_name == by_content
            else f"content ({shown} are {by_content}; the name suggested {by_name})"
        )
        return ColumnClass(
            column, by_content, evidence, share, free_text, CLASS_OF_ENTITY[by_content], reason
        )
    if by_content:
        if name_class == IDENTIFIER:  # an identifier column holding e-mails stays an identifier
            reason = f"name cue (identifier); content: {shown} are {by_content}"
            return ColumnClass(column, by_content, "content", share, free_text, IDENTIFIER, reason)
        reason = f"content ({shown} are {by_content})"
        return ColumnClass(
            column, by_content, "content", share, free_text, CLASS_OF_ENTITY[by_content], reason
        )
    if by_name and not free_text:
        reason = f"name cue ({CLASS_OF_ENTITY[by_name]})"
        return ColumnClass(
            column, by_name, "name", share, free_text, CLASS_OF_ENTITY[by_name], reason
        )
    if free_text or name_class == FREE_TEXT:
        why = f"content ({long_texts} of {len(distinct)} sampled values are long texts)"
        reason = "name cue (free text)" if name_class == FREE_TEXT else why
        return ColumnClass(column, None, None, share, True, FREE_TEXT, reason)
    if name_class == IDENTIFIER:
        return ColumnClass(
            column, None, None, share, free_text, IDENTIFIER, "name cue (identifier)"
        )
    weak = set(votes) == {PERSON} and votes[PERSON] < 0.05 * n  # one surname-like word
    if votes and name_class is None and not weak:
        # Some values are personal data, too few to name the column: single tokens are
        # identifiers (pseudonymized), longer values are text (redacted).
        top = votes.most_common(1)[0][0]
        single = float((~distinct.str.strip().str.contains(r"\s")).mean())
        if single >= 0.9:
            reason = f"content ({shown} are {top}; single tokens: an identifier)"
            return ColumnClass(column, None, "content", share, free_text, IDENTIFIER, reason)
        reason = f"content ({shown} are {top}; the rest is text)"
        return ColumnClass(column, None, "content", share, True, FREE_TEXT, reason)
    if name_class == NON_PERSONAL:
        reason = "name cue (item or curriculum column); no personal data in the sampled values"
        return ColumnClass(column, None, None, share, free_text, NON_PERSONAL, reason)
    return ColumnClass(column, None, None, share, free_text)
