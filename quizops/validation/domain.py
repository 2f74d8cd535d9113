"""Domain checks on the canonical table that a TFDV schema cannot express.

Each check returns findings with counts of rows and students, never values:

- ``correct_binary``: ``correct`` is 0 or 1 in every row (TFDV checks the range of present
  values; this also catches missing ones and non-integers in a table that bypassed ingest);
- ``timestamp_order``: within each student, in table order, timestamps never decrease;
- ``item_without_skill``: every row (hence every item) carries a skill id (blank and
  placeholder ids such as ``nan`` or ``-1`` count as none);
- ``duplicate_interactions``: no repeated ``interaction_id`` and no repeated
  (student, item, skill, timestamp);
- ``implausible_rates``: students with at least ``min_interactions`` rows whose median
  response time is below ``min_median_response_ms`` (rapid guessing or a bot), or, where the
  timestamp is a clock (milliseconds since the epoch), who answer more than
  ``max_interactions_per_minute`` on average. A few such students are a warning; a share above
  ``max_implausible_share`` fails the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quizops.validation.findings import ERROR, WARNING, Finding

#: Skill ids that mean "no skill".
PLACEHOLDER_SKILLS: frozenset[str] = frozenset({"", "nan", "none", "null", "na", "-1"})
#: Timestamps above this are read as milliseconds since the epoch (after 1973-03-03).
CLOCK_MS_FLOOR = 100_000_000_000


@dataclass(frozen=True)
class DomainCheckConfig:
    """Thresholds of the domain checks.

    Attributes:
        min_interactions: Students with fewer rows are not rate-checked.
        min_median_response_ms: A median response time below this is implausible.
        max_interactions_per_minute: An average rate above this is implausible.
        max_implausible_share: Share of rate-checked students above which the gate fails.
    """

    min_interactions: int = 20
    min_median_response_ms: float = 1000.0
    max_interactions_per_minute: float = 30.0
    max_implausible_share: float = 0.05


def _students(frame: pd.DataFrame, mask: pd.Series) -> int:
    """Counts distinct students among masked rows.

    Args:
        frame: The table.
        mask: Boolean row mask.

    Returns:
        The count.
    """
    if "student_id" not in frame.columns:
        return 0
    return int(frame.loc[mask, "student_id"].nunique())


def check_correct_binary(frame: pd.DataFrame) -> list[Finding]:
    """Checks that ``correct`` is 0 or 1 in every row.

    Args:
        frame: The table.

    Returns:
        Findings.
    """
    if "correct" not in frame.columns:
        return []
    values = pd.to_numeric(frame["correct"], errors="coerce")
    bad = ~values.isin([0, 1])
    if not bad.any():
        return []
    return [
        Finding(
            "correct_binary",
            "correct",
            ERROR,
            "value is not 0 or 1 (or is missing)",
            rows=int(bad.sum()),
            students=_students(frame, bad),
        )
    ]


def check_timestamp_order(frame: pd.DataFrame) -> list[Finding]:
    """Checks that timestamps never decrease within a student, in table order.

    Args:
        frame: The table.

    Returns:
        Findings.
    """
    if not {"student_id", "timestamp"} <= set(frame.columns):
        return []
    step = frame.groupby("student_id", sort=False)["timestamp"].diff()
    bad = step < 0
    if not bad.any():
        return []
    return [
        Finding(
            "timestamp_order",
            "timestamp",
            ERROR,
            "timestamp decreases within a student's sequence",
            rows=int(bad.sum()),
            students=_students(frame, bad),
        )
    ]


def check_item_skill(frame: pd.DataFrame) -> list[Finding]:
    """Checks that every row, hence every item, carries a skill.

    Args:
        frame: The table.

    Returns:
        Findings.
    """
    if "skill_id" not in frame.columns:
        return []
    skill = frame["skill_id"].astype("string").str.strip().str.lower()
    bad = skill.isna() | skill.isin(PLACEHOLDER_SKILLS)
    bad = bad.fillna(True).astype(bool)
    if not bad.any():
        return []
    items = int(frame.loc[bad, "item_id"].nunique()) if "item_id" in frame.columns else 0
    return [
        Finding(
            "item_without_skill",
            "skill_id",
            ERROR,
            f"{items} item(s) appear without a skill id",
            rows=int(bad.sum()),
            students=_students(frame, bad),
        )
    ]


def check_duplicates(frame: pd.DataFrame) -> list[Finding]:
    """Checks for repeated interactions.

    Args:
        frame: The table.

    Returns:
        Findings.
    """
    findings = []
    if "interaction_id" in frame.columns:
        repeated = frame["interaction_id"].duplicated(keep="first")
        if repeated.any():
            findings.append(
                Finding(
                    "duplicate_interactions",
                    "interaction_id",
                    ERROR,
                    "interaction_id repeats",
                    rows=int(repeated.sum()),
                    students=_students(frame, repeated),
                )
            )
    key = ["student_id", "item_id", "skill_id", "timestamp"]
    if set(key) <= set(frame.columns):
        repeated = frame.duplicated(subset=key, keep="first")
        if repeated.any():
            findings.append(
                Finding(
                    "duplicate_interactions",
                    "",
                    ERROR,
                    "the same (student, item, skill, timestamp) appears more than once",
                    rows=int(repeated.sum()),
                    students=_students(frame, repeated),
                )
            )
    return findings


def check_rates(frame: pd.DataFrame, config: DomainCheckConfig) -> list[Finding]:
    """Flags students whose answering rates are implausible for a human.

    Args:
        frame: The table.
        config: Thresholds.

    Returns:
        Findings.
    """
    if not {"student_id", "timestamp"} <= set(frame.columns):
        return []
    grouped = frame.groupby("student_id", sort=False)
    sizes = grouped.size()
    checked = sizes[sizes >= config.min_interactions].index
    if len(checked) == 0:
        return []
    flagged = pd.Series(False, index=checked)
    reasons = []
    if "response_time_ms" in frame.columns:
        median = grouped["response_time_ms"].median().reindex(checked)
        fast = (median < config.min_median_response_ms).fillna(False)
        if fast.any():
            reasons.append(f"median response time under {config.min_median_response_ms:g} ms")
        flagged |= fast
    timestamps = pd.to_numeric(frame["timestamp"], errors="coerce")
    if timestamps.min() > CLOCK_MS_FLOOR:
        span_minutes = (grouped["timestamp"].max() - grouped["timestamp"].min()).reindex(
            checked
        ) / 60_000.0
        rate = (sizes.reindex(checked) - 1) / span_minutes.replace(0, np.nan)
        busy = (rate > config.max_interactions_per_minute) | span_minutes.eq(0)
        if busy.any():
            reasons.append(f"more than {config.max_interactions_per_minute:g} answers per minute")
        flagged |= busy.fillna(False)
    n = int(flagged.sum())
    if not n:
        return []
    share = n / len(checked)
    severity = ERROR if share > config.max_implausible_share else WARNING
    rows = int(frame["student_id"].isin(flagged[flagged].index).sum())
    return [
        Finding(
            "implausible_rates",
            "",
            severity,
            f"students with {' or '.join(reasons)} over >= {config.min_interactions} "
            f"interactions: {share:.1%} of rate-checked students (limit "
            f"{config.max_implausible_share:.1%})",
            rows=rows,
            students=n,
        )
    ]


def run_domain_checks(
    frame: pd.DataFrame, config: DomainCheckConfig | None = None
) -> list[Finding]:
    """Runs every domain check.

    Args:
        frame: The canonical table (as stored, not re-cast).
        config: Thresholds (defaults if None).

    Returns:
        Every finding, errors and warnings.
    """
    config = config or DomainCheckConfig()
    return [
        *check_correct_binary(frame),
        *check_timestamp_order(frame),
        *check_item_skill(frame),
        *check_duplicates(frame),
        *check_rates(frame, config),
    ]
