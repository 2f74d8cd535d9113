"""Reader for EdNet KT1 (Santa's TOEIC question-response logs).

Layout: a folder holding ``KT1/`` (one CSV per student, named ``u<id>.csv``, with columns
``timestamp, solving_id, question_id, user_answer, elapsed_time``) and
``contents/questions.csv`` (``question_id, bundle_id, explanation_id, correct_answer, part,
tags, deployed_at``). Rules:

- ``student_id`` is the file name without ``.csv``; ``item_id`` is ``question_id``;
- ``correct = user_answer == correct_answer`` (a skipped answer is incorrect);
- ``tags`` is split on ``;`` into one row per tag (``skill_id`` = the tag, ``skill_name``
  ``"tag <id>"``: EdNet publishes no tag names); tag ``-1`` means untagged and questions unknown
  to ``questions.csv`` have no skill: both are dropped and counted;
- ``timestamp`` is the Unix time in milliseconds; ``response_time_ms`` is ``elapsed_time``.
"""

from __future__ import annotations

import logging
import posixpath
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from quizops import storage
from quizops.canonical import CANONICAL_COLUMNS, conform
from quizops.errors import InputDataError
from quizops.ingest.parsing import AUTO_ENCODING, numeric_column, read_delimited, string_column
from quizops.ingest.spans import relative_parts, visible_files

logger = logging.getLogger(__name__)

KT1_REQUIRED: list[str] = ["timestamp", "question_id", "user_answer", "elapsed_time"]
QUESTIONS_REQUIRED: list[str] = ["question_id", "correct_answer", "tags"]
UNTAGGED = "-1"
#: Files read concurrently (EdNet KT1 is one file per student; on gs:// latency dominates).
READ_THREADS = 16


def find_layout(scope: str, root: str) -> tuple[list[str], str]:
    """Finds the KT1 user files within ``scope`` and the questions file.

    ``contents/questions.csv`` is looked up in the scope first, then in the source root, so that
    span folders may each hold their own KT1/ while sharing one contents/ folder.

    Args:
        scope: The folder to read (the span folder or the source root).
        root: The source root.

    Returns:
        The user files and the questions file.

    Raises:
        InputDataError: No KT1 file or no questions.csv.
    """
    files = visible_files(scope)
    users = [
        f
        for f in files
        if "KT1" in relative_parts(f, scope)[:-1] and f.endswith((".csv", ".csv.gz"))
    ]
    if not users:
        raise InputDataError(f"{scope}: no EdNet KT1 user files (expected KT1/u<id>.csv)")
    for base in (scope, root):
        candidate = storage.join(base, "contents", "questions.csv")
        if storage.is_file(candidate):
            return users, candidate
    raise InputDataError(f"{scope}: no contents/questions.csv beside KT1/")


def read_questions(uri: str, encoding: str = AUTO_ENCODING) -> pd.DataFrame:
    """Reads ``questions.csv`` into one row per (question, tag).

    Args:
        uri: The questions file.
        encoding: Its text encoding (``auto``: see :func:`~quizops.ingest.parsing.decode_text`).

    Returns:
        Columns ``item_id``, ``correct_answer``, ``skill_id``.
    """
    raw = read_delimited(storage.read_bytes(uri), uri, QUESTIONS_REQUIRED, encoding)
    questions = pd.DataFrame(
        {
            "item_id": string_column(raw, "question_id"),
            "correct_answer": string_column(raw, "correct_answer"),
            "skill_id": string_column(raw, "tags").fillna(UNTAGGED).str.split(";"),
        }
    ).explode("skill_id")
    questions["skill_id"] = questions["skill_id"].astype("string").str.strip()
    return questions


def read_user(uri: str, encoding: str = AUTO_ENCODING) -> pd.DataFrame:
    """Reads one KT1 user file.

    Args:
        uri: The file.
        encoding: Its text encoding (``auto``: see :func:`~quizops.ingest.parsing.decode_text`).

    Returns:
        Columns student_id, item_id, timestamp, user_answer, response_time_ms, row.
    """
    raw = read_delimited(storage.read_bytes(uri), uri, KT1_REQUIRED, encoding)
    name = posixpath.basename(uri.replace("\\", "/"))
    student = name.removesuffix(".gz").removesuffix(".csv")
    return pd.DataFrame(
        {
            "student_id": pd.Series(student, index=raw.index, dtype="string"),
            "item_id": string_column(raw, "question_id"),
            "timestamp": numeric_column(raw, "timestamp", uri, integer=True, required=True),
            "user_answer": string_column(raw, "user_answer"),
            "response_time_ms": numeric_column(
                raw, "elapsed_time", uri, integer=False, required=False
            ),
            "row": np.arange(len(raw)),
        }
    )


def read(
    scope: str, root: str, encoding: str = AUTO_ENCODING
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Reads an EdNet KT1 folder into the canonical table.

    Args:
        scope: The folder to read (a span folder or the source root).
        root: The source root (for a shared contents/ folder).
        encoding: Text encoding of the CSV files (``auto``: see
            :func:`~quizops.ingest.parsing.decode_text`).

    Returns:
        The canonical frame and counts.

    Raises:
        InputDataError: Layout, parsing or content errors.
    """
    users, questions_uri = find_layout(scope, root)
    questions = read_questions(questions_uri, encoding)
    with ThreadPoolExecutor(READ_THREADS) as pool:  # one object per student: overlap the I/O
        logs = pd.concat(pool.map(lambda u: read_user(u, encoding), users), ignore_index=True)
    if logs["item_id"].isna().any():
        raise InputDataError(
            f"{scope}: column 'question_id' has {int(logs['item_id'].isna().sum())} empty value(s)"
        )
    counts = {"rows_read": len(logs), "user_files": len(users)}
    merged = logs.merge(questions, on="item_id", how="left")
    no_skill = merged["skill_id"].isna() | (merged["skill_id"] == UNTAGGED)
    counts["rows_without_skill_dropped"] = int(no_skill.sum())
    merged = merged.loc[~no_skill].copy()
    if merged.empty:
        raise InputDataError(f"{scope}: no usable rows (no answered question has a tag)")
    merged = merged.sort_values(["timestamp", "student_id", "row", "skill_id"], kind="stable")
    merged["correct"] = (
        (merged["user_answer"] == merged["correct_answer"]).fillna(False).astype("int64")
    )
    merged["interaction_id"] = (
        merged["student_id"]
        + ":"
        + merged["row"].astype(str)
        + ":"
        + merged["skill_id"].astype(str)
    )
    merged["skill_name"] = "tag " + merged["skill_id"]
    merged["timestamp"] = merged["timestamp"].astype("int64")
    merged["attempt_count"] = 1
    merged["hint_count"] = 0
    merged["answer_text"] = merged["user_answer"]
    merged["propensity"] = np.nan
    logger.info("%s: %d interaction rows from %d user file(s)", scope, len(merged), len(users))
    return conform(merged[CANONICAL_COLUMNS], scope), counts
