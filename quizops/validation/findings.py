"""One finding of data validation (a TFDV anomaly, a domain check, a drift or skew value)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """A problem found in the data.

    Attributes:
        check: Which check found it (``tfdv``, ``drift``, ``skew``, ``serving`` or a domain
            check name such as ``duplicate_interactions``).
        feature: The column concerned (``""`` for the whole table).
        severity: :data:`ERROR` fails the gate, :data:`WARNING` is reported only.
        description: What is wrong, with counts but never a value of the data.
        rows: Number of rows concerned (0 when not row-based).
        students: Number of distinct students concerned (0 when not student-based).
    """

    check: str
    feature: str
    severity: str
    description: str
    rows: int = 0
    students: int = 0

    def __post_init__(self) -> None:
        # TFDV's descriptions quote the data ("such as \"jane@x.org\"", "Examples contain
        # values missing from the schema: Jane (~5%)"): findings land in logs, never values.
        object.__setattr__(self, "description", without_values(self.description))

    def to_dict(self) -> dict[str, Any]:
        """Returns the finding as a JSON-ready dict.

        Returns:
            The dict.
        """
        return asdict(self)

    def line(self) -> str:
        """Formats the finding as one line of an error message.

        Returns:
            The line.
        """
        where = f"{self.feature}: " if self.feature else ""
        return f"[{self.severity}] {self.check}: {where}{self.description}"


_MISSING_FROM_SCHEMA_RE = re.compile(r"(values missing from the schema)\s*:.*", re.DOTALL)
_QUOTED_RE = re.compile(r'"[^"]*"')


def without_values(description: str) -> str:
    """Removes the example values TFDV quotes in its anomaly descriptions.

    Args:
        description: A finding's description.

    Returns:
        The description with every double-quoted example and every listed missing value
        replaced by ``<value not shown>``.
    """
    text = _MISSING_FROM_SCHEMA_RE.sub(r"\1 (values not shown).", description)
    return _QUOTED_RE.sub("<value not shown>", text)
