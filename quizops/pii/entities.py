"""Entity types the PII scan detects, and the span type it reports them with."""

from __future__ import annotations

from dataclasses import dataclass

EMAIL = "EMAIL"
PHONE = "PHONE"
US_SSN = "US_SSN"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
ADDRESS = "ADDRESS"
IP_ADDRESS = "IP_ADDRESS"
URL = "URL"
STUDENT_ID = "STUDENT_ID"
PERSON = "PERSON"

#: Every entity type, in the order reports list them.
ENTITY_TYPES: tuple[str, ...] = (
    EMAIL,
    PHONE,
    US_SSN,
    DATE_OF_BIRTH,
    ADDRESS,
    IP_ADDRESS,
    URL,
    STUDENT_ID,
    PERSON,
)
#: Types found by patterns (the issue's "structured" types), as opposed to person names.
STRUCTURED_TYPES: tuple[str, ...] = tuple(t for t in ENTITY_TYPES if t != PERSON)

#: When two detections overlap, the one whose type comes first here wins.
PRIORITY: dict[str, int] = {
    t: i
    for i, t in enumerate(
        (EMAIL, URL, IP_ADDRESS, US_SSN, STUDENT_ID, DATE_OF_BIRTH, ADDRESS, PHONE, PERSON)
    )
}


@dataclass(frozen=True, order=True)
class Span:
    """One detected entity in a text.

    Attributes:
        start: Offset of the first character.
        end: Offset one past the last character.
        entity_type: One of :data:`ENTITY_TYPES`.
    """

    start: int
    end: int
    entity_type: str
