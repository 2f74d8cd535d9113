"""Reader for the ASSISTments 2009-2010 skill-builder CSV layout.

Rules (those of the dataset's documentation and of the knowledge-tracing literature):

- rows are sorted by ``order_id`` (the log's own order; the export is not sorted);
- only main problems are kept (``original == 1``); scaffolding sub-questions are dropped;
- a problem tagged with several skills is one row per skill: the 2009 export already repeats
  the row per skill, and a combined id such as ``"10_13"`` is split into one row per part;
- rows without a skill (empty, or a placeholder such as ``NA``) are dropped (counted) because
  every canonical row carries a skill;
- rows repeated verbatim (the original 2009 export has such copies) are dropped (counted);
- negative ``ms_first_response`` values (a known clock artefact) become missing (counted);
- only ``order_id``, ``user_id``, ``problem_id``, ``correct`` and ``skill_id`` must be present:
  copies of the export trimmed to the columns knowledge tracing uses (common in public
  mirrors and preprocessing pipelines) lack the others. Without ``original`` every row is
  taken as a main problem (counted as ``original_column_absent``); without
  ``attempt_count`` / ``hint_count`` / ``ms_first_response`` the canonical table holds 1 / 0 /
  missing.

``timestamp`` is the ``order_id`` (the export has no clock). ``propensity`` (the logging
policy's probability, which the simulator and our own decision logs add) is optional.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from quizops.canonical import CANONICAL_COLUMNS, conform, row_numbers
from quizops.errors import InputDataError
from quizops.ingest.parsing import map_unique, numeric_column, string_column

logger = logging.getLogger(__name__)

#: Columns a file must have.
REQUIRED: list[str] = ["order_id", "user_id", "problem_id", "correct", "skill_id"]
#: Columns parsed as numbers.
NUMERIC: list[str] = [
    "order_id",
    "original",
    "correct",
    "attempt_count",
    "ms_first_response",
    "hint_count",
    "propensity",
]
#: Columns used when present.
OPTIONAL: list[str] = [
    "original",
    "attempt_count",
    "ms_first_response",
    "hint_count",
    "skill_name",
    "answer_text",
    "propensity",
]

#: Skill ids that exports write for "no skill".
_NO_SKILL = ("nan", "none", "null", "na", "n/a")
_COMBINED_SKILL = re.compile(r"^\d+(?:[_;,]\d+)+$")
_FLOAT_ID = re.compile(r"^(-?\d+)\.0+$")


def _normalize_id(values: pd.Series) -> pd.Series:
    """Turns ids that a spreadsheet wrote as floats (``"13.0"``) back into ``"13"``.

    Args:
        values: String ids.

    Returns:
        The ids.
    """
    return map_unique(values, lambda v: v.str.replace(_FLOAT_ID, r"\1", regex=True))


def _split_skills(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Splits combined skill ids (``"10_13"``) into one row per skill.

    Args:
        df: Rows with ``skill_id`` and ``skill_name`` string columns.

    Returns:
        The rows and the number of rows that were split.
    """
    combined = df["skill_id"].str.match(_COMBINED_SKILL).fillna(False).astype(bool)
    n = int(combined.sum())
    if not n:
        return df, 0
    parts = df.loc[combined].copy()
    parts["skill_id"] = parts["skill_id"].str.split(r"[_;,]", regex=True)
    names = parts["skill_name"].fillna("").str.split(r"_|;", regex=True)
    same_length = [len(a) == len(b) for a, b in zip(parts["skill_id"], names, strict=True)]
    parts["skill_name"] = [
        n_list if ok else [name] * len(ids)
        for ids, n_list, ok, name in zip(
            parts["skill_id"], names, same_length, parts["skill_name"], strict=True
        )
    ]
    parts = parts.explode(["skill_id", "skill_name"])
    parts["skill_id"] = parts["skill_id"].astype("string")
    parts["skill_name"] = parts["skill_name"].astype("string")
    out = pd.concat([df.loc[~combined], parts])
    return out, n


def _optional_numeric(raw: pd.DataFrame, column: str, source: str, *, integer: bool) -> pd.Series:
    """A numeric column that may be absent (then all missing) or have empty values.

    Args:
        raw: The file's frame of strings.
        column: Column name.
        source: File name or URI, for messages.
        integer: The values must be whole numbers.

    Returns:
        A float64 series.

    Raises:
        InputDataError: The column holds text or, with ``integer``, fractions.
    """
    if column not in raw.columns:
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    return numeric_column(raw, column, source, integer=integer, required=False)


def to_canonical(raw: pd.DataFrame, source: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Converts one ASSISTments skill-builder frame (all strings) to the canonical table.

    Args:
        raw: The file as read by :func:`quizops.ingest.parsing.read_delimited`.
        source: File name or URI, for messages.

    Returns:
        The canonical frame and counts of what was dropped or changed.

    Raises:
        InputDataError: A required value is missing or a numeric column holds text.
    """
    counts: dict[str, int] = {"rows_read": len(raw)}
    order_id = numeric_column(raw, "order_id", source, integer=True, required=True)
    if "original" in raw.columns:
        original = numeric_column(raw, "original", source, integer=True, required=True)
    else:  # a trimmed export: no scaffolding flag, every row is taken as a main problem
        counts["original_column_absent"] = 1
        logger.warning("%s: no 'original' column; every row is taken as a main problem", source)
        original = pd.Series(1.0, index=raw.index)
    correct = numeric_column(raw, "correct", source, integer=False, required=True)
    attempts = _optional_numeric(raw, "attempt_count", source, integer=True)
    hints = _optional_numeric(raw, "hint_count", source, integer=True)
    ms_first = _optional_numeric(raw, "ms_first_response", source, integer=False)
    propensity = _optional_numeric(raw, "propensity", source, integer=False)
    student = string_column(raw, "user_id")
    item = _normalize_id(string_column(raw, "problem_id"))
    for column, values in (("user_id", student), ("problem_id", item)):
        if values.isna().any():
            raise_missing(source, column, int(values.isna().sum()))
    skill = _normalize_id(string_column(raw, "skill_id"))
    skill = map_unique(skill, lambda v: v.mask(v.str.lower().isin(_NO_SKILL)))
    skill_name = string_column(raw, "skill_name") if "skill_name" in raw.columns else skill.copy()
    answer = (
        raw["answer_text"].astype("string")
        if "answer_text" in raw.columns
        else pd.Series(pd.NA, index=raw.index, dtype="string")
    )
    negative = ms_first < 0
    counts["negative_response_times_cleared"] = int(negative.sum())
    frame = pd.DataFrame(
        {
            "order_id": order_id.astype("int64"),
            "student_id": student,
            "item_id": item,
            "skill_id": skill,
            "skill_name": skill_name.fillna(skill),
            "correct": correct,
            "attempt_count": attempts.fillna(1),
            "response_time_ms": ms_first.mask(negative),
            "hint_count": hints.fillna(0),
            "answer_text": answer,
            "propensity": propensity,
            "original": original,
        }
    )
    scaffolding = frame["original"] != 1
    counts["scaffolding_rows_dropped"] = int(scaffolding.sum())
    frame = frame.loc[~scaffolding]
    duplicated = frame.duplicated(keep="first")
    counts["verbatim_duplicates_dropped"] = int(duplicated.sum())
    frame = frame.loc[~duplicated]
    no_skill = frame["skill_id"].isna()
    counts["rows_without_skill_dropped"] = int(no_skill.sum())
    frame = frame.loc[~no_skill]
    # Checked here, not only by conform() below: on the rows kept (a scaffolding row's answer
    # is not used), before the cast to int64 would truncate a partial credit, and reported by
    # the file's data rows (the frame still has the file's row index; conform sees split rows).
    bad_correct = frame["correct"].notna() & ~frame["correct"].isin([0.0, 1.0])
    if bad_correct.any():
        raise InputDataError(
            f"{source}: column 'correct' must be 0 or 1; {int(bad_correct.sum())} row(s) are "
            f"not ({row_numbers(raw.index.isin(bad_correct.index[bad_correct.to_numpy()]))})"
        )
    frame, counts["multi_skill_rows_split"] = _split_skills(frame)
    frame = frame.sort_values(["order_id", "skill_id"], kind="stable")
    frame["timestamp"] = frame["order_id"]
    frame["interaction_id"] = frame["order_id"].astype(str) + ":" + frame["skill_id"].astype(str)
    for column in ("attempt_count", "hint_count"):
        frame[column] = frame[column].astype("int64")
    logger.info("%s: %d interaction rows after cleaning (%s)", source, len(frame), counts)
    if frame.empty:
        raise InputDataError(
            f"{source}: no usable rows (every row is scaffolding or has no skill: {counts})"
        )
    frame["correct"] = frame["correct"].astype("int64")
    return conform(frame[CANONICAL_COLUMNS], source), counts


def raise_missing(source: str, column: str, n: int) -> None:
    """Raises the error for empty values in a column that needs one in every row.

    Args:
        source: File name or URI.
        column: Column name.
        n: Number of empty values.

    Raises:
        InputDataError: Always.
    """
    raise InputDataError(f"{source}: column '{column}' has {n} empty value(s)")
