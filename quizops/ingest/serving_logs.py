"""Serving decision logs back as off-policy data: each served decision joined with its outcome.

The predictor logs one JSON line per decision (layout: :data:`quizops.serving.DECISION_FIELDS`)
under a decisions folder or ``gs://`` prefix: ``decisions-<day>.jsonl`` locally,
``date=<day>/decisions-<day>-<writer>-<n>.jsonl`` in an object store. :func:`read_decisions`
reads them back (one span or all), dropping the duplicates an upload retry can leave.
:func:`join_next_answers` joins each decision with the same student's next answer in a
canonical interaction table (whose ``student_id`` holds the PII stage's pseudonyms, the same
HMAC the predictor logs), so that served decisions become off-policy examples whose
propensities are exact: the probability the served policy gave the item it chose.

Joining rules: the answer is the student's first interaction strictly after the decision and
before the student's next decision, at most ``max_delay_ms`` later. A decision with no such
answer is left out (counted). ``followed`` tells whether the student answered the served item;
``reward`` is the correctness of that answer (missing when not followed), the quantity a
challenger is evaluated on. Only a clock-time table can be joined: canonical timestamps must
be milliseconds since the epoch (EdNet), not an order id (ASSISTments ``order_id``).

:func:`attach_served_decisions` is what the training pipeline's feature stage calls: it writes
each followed decision's exact propensity (and the serving policy version and variant) onto the
answer it led to, and skips, with its reason, when there is nothing to join (no log, no decision
in the span, or a table without clock times). The evaluation then uses the exact propensity
where a served decision produced the row and its behaviour model's estimate elsewhere
(:func:`quizops.evaluation.offpolicy.evaluate_off_policy`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from quizops import storage
from quizops.errors import InputDataError
from quizops.serving import DECISION_FIELDS

logger = logging.getLogger(__name__)

#: Canonical timestamps below this (2001-09-09 in milliseconds) are not clock times.
MIN_EPOCH_MS = 1_000_000_000_000
#: Default longest wait between a decision and the answer it led to: one hour.
DEFAULT_MAX_DELAY_MS = 3_600_000
#: Columns a decision must carry to be joined.
REQUIRED_DECISION_FIELDS = ("time", "student_pseudonym", "item_id", "propensity")
#: Columns :func:`apply_served_propensities` adds to interactions (None where no served
#: decision produced the row).
SERVED_COLUMNS = ("served_policy_version", "served_variant")


@dataclass
class ServedExamples:
    """Served decisions joined with their outcomes.

    Attributes:
        examples: One row per joined decision: the decision's fields, ``time_ms``,
            ``answer_item_id``, ``answer_timestamp``, ``correct``, ``followed`` and ``reward``.
        counts: ``decisions``, ``joined``, ``no_answer`` (no answer in the window or a later
            decision came first), ``followed``, ``without_student`` (logged without a key).
    """

    examples: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class ServedAttachment:
    """An interaction table with the exact propensities of the answers served decisions produced.

    Attributes:
        interactions: A copy of the table: ``propensity`` set on every row of an answer that
            followed a served decision (the other rows keep theirs, NaN in real exports), plus
            :data:`SERVED_COLUMNS` when the join ran.
        counts: ``decisions``, ``joined``, ``followed``, ``no_answer``, ``without_student``
            (see :class:`ServedExamples`), ``answers_with_exact_propensity`` (distinct answers),
            ``rows_with_exact_propensity`` (table rows; a multi-skill answer has one per skill)
            and ``replaced_logged_propensity`` (rows whose own, different propensity was
            replaced). All zero when skipped.
        skipped: Why nothing was joined ("" when the join ran).
    """

    interactions: pd.DataFrame
    counts: dict[str, int]
    skipped: str = ""


def is_clock_time(timestamps: pd.Series) -> bool:
    """Whether canonical timestamps are clock times (milliseconds since the epoch).

    Args:
        timestamps: A canonical ``timestamp`` column.

    Returns:
        True when its largest value is at least :data:`MIN_EPOCH_MS` (an empty column is not).
    """
    values = pd.to_numeric(timestamps, errors="coerce").dropna()
    return bool(len(values)) and int(values.max()) >= MIN_EPOCH_MS


def _parse_lines(uri: str, data: bytes) -> list[dict]:
    records = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputDataError(f"{uri}: decision log is not UTF-8") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputDataError(
                f"{uri}: line {number}: not a JSON decision record ({exc.msg})"
            ) from None
        if not isinstance(record, dict):
            raise InputDataError(f"{uri}: line {number}: not a JSON object")
        records.append(record)
    return records


def read_decisions(decisions_uri: str, span: str = "") -> pd.DataFrame:
    """Reads decision logs (JSON lines) from a folder or gs:// prefix.

    Args:
        decisions_uri: The decisions folder or prefix.
        span: A UTC day ``YYYY-MM-DD``: only files whose path below the folder contains it
            (``decisions-<day>.jsonl``, ``date=<day>/...``); ``""`` reads every file.

    Returns:
        The records in time order, with the columns of :data:`DECISION_FIELDS` (missing ones
        empty) plus ``time_ms`` (int64, milliseconds since the epoch), duplicates of one
        ``(request_id, instance)`` dropped.

    Raises:
        InputDataError: A file is not JSON lines, or a record lacks its time.
    """
    base = str(decisions_uri).rstrip("/")
    files = [
        f
        for f in storage.list_files(base)
        if f.endswith(".jsonl") and (not span or span in f[len(base) :])
    ]
    records: list[dict] = []
    for uri in files:
        records.extend(_parse_lines(uri, storage.read_bytes(uri)))
    frame = pd.DataFrame.from_records(records)
    for column in DECISION_FIELDS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[list(DECISION_FIELDS)]
    for column in ("unknown_history", "unknown_candidates"):  # 0 in records older than them
        counts = pd.to_numeric(frame[column], errors="coerce")
        if (counts.isna() & frame[column].notna()).any() or (counts < 0).any():
            raise InputDataError(f"{base}: a decision record's '{column}' is not a count")
        frame[column] = counts.fillna(0).astype("int64")
    if frame.empty:
        frame["time_ms"] = pd.Series(dtype="int64")
        return frame
    times = pd.to_datetime(frame["time"], utc=True, errors="coerce", format="ISO8601")
    bad = times.isna()
    if bad.any():
        raise InputDataError(
            f"{base}: {int(bad.sum())} decision record(s) without a readable 'time' field"
        )
    frame["time_ms"] = (times.astype("int64") // 1_000_000).astype("int64")
    keyed = frame["request_id"].notna()
    duplicate = keyed & frame.duplicated(subset=["request_id", "instance"], keep="first")
    if duplicate.any():
        logger.info("dropped %d duplicated decision record(s)", int(duplicate.sum()))
    frame = frame[~duplicate]
    return frame.sort_values("time_ms", kind="stable").reset_index(drop=True)


def join_next_answers(
    decisions: pd.DataFrame,
    interactions: pd.DataFrame,
    max_delay_ms: int = DEFAULT_MAX_DELAY_MS,
) -> ServedExamples:
    """Joins each decision with the same student's next answer.

    Args:
        decisions: Output of :func:`read_decisions`.
        interactions: A canonical interaction table (pseudonymized ``student_id``,
            ``item_id``, ``correct``, ``timestamp`` in milliseconds since the epoch).
        max_delay_ms: Longest wait between a decision and its answer.

    Returns:
        The joined examples and counts.

    Raises:
        InputDataError: A required column is missing, or the table's timestamps are not
            clock times.
    """
    for column in (*REQUIRED_DECISION_FIELDS, "time_ms"):
        if column not in decisions.columns:
            raise InputDataError(f"decisions: missing field '{column}'")
    for column in ("student_id", "item_id", "correct", "timestamp"):
        if column not in interactions.columns:
            raise InputDataError(f"interactions: missing canonical column '{column}'")
    counts = {"decisions": len(decisions)}
    has_student = decisions["student_pseudonym"].notna()
    counts["without_student"] = int((~has_student).sum())
    served = decisions[has_student].copy()
    served["student_pseudonym"] = served["student_pseudonym"].astype(str)
    answers = interactions[["student_id", "item_id", "correct", "timestamp"]].dropna()
    if len(answers) and not is_clock_time(answers["timestamp"]):
        raise InputDataError(
            "interactions: column 'timestamp' is not milliseconds since the epoch (an order id?); "
            "serving decisions join only with clock-time interaction tables"
        )
    answers = pd.DataFrame(
        {
            "student_pseudonym": answers["student_id"].astype(str).to_numpy(),
            "answer_item_id": answers["item_id"].astype(str).to_numpy(),
            "correct": answers["correct"].astype("int64").to_numpy(),
            "answer_timestamp": answers["timestamp"].astype("int64").to_numpy(),
        }
    )
    # The student's next decision bounds the window: a later answer belongs to that one.
    served = served.sort_values(["student_pseudonym", "time_ms"], kind="stable")
    served["next_decision_ms"] = served.groupby("student_pseudonym")["time_ms"].shift(-1)
    served = served.sort_values("time_ms", kind="stable")
    answers = answers.sort_values("answer_timestamp", kind="stable")
    joined = pd.merge_asof(
        served,
        answers,
        left_on="time_ms",
        right_on="answer_timestamp",
        by="student_pseudonym",
        direction="forward",
        allow_exact_matches=False,
    )
    delay = joined["answer_timestamp"] - joined["time_ms"]
    in_window = joined["answer_timestamp"].notna() & (delay <= max_delay_ms)
    before_next = joined["next_decision_ms"].isna() | (
        joined["answer_timestamp"] < joined["next_decision_ms"]
    )
    keep = in_window & before_next
    counts["no_answer"] = int((~keep).sum())
    examples = joined[keep].drop(columns=["next_decision_ms"]).reset_index(drop=True)
    examples["answer_timestamp"] = examples["answer_timestamp"].astype("int64")
    examples["correct"] = examples["correct"].astype("int64")
    examples["followed"] = examples["answer_item_id"] == examples["item_id"].astype(str)
    examples["reward"] = np.where(examples["followed"], examples["correct"], np.nan)
    counts["joined"] = len(examples)
    counts["followed"] = int(examples["followed"].sum())
    logger.info(
        "served decisions: %d read, %d joined with an answer (%d followed), %d without one",
        counts["decisions"],
        counts["joined"],
        counts["followed"],
        counts["no_answer"],
    )
    return ServedExamples(examples=examples, counts=counts)


def read_served_examples(
    decisions_uri: str,
    interactions: pd.DataFrame,
    span: str = "",
    max_delay_ms: int = DEFAULT_MAX_DELAY_MS,
) -> ServedExamples:
    """Reads a span's decision logs and joins them with their answers.

    Args:
        decisions_uri: The decisions folder or gs:// prefix.
        interactions: The canonical (pseudonymized) interaction table.
        span: UTC day, or ``""`` for every log.
        max_delay_ms: Longest wait between a decision and its answer.

    Returns:
        The joined examples and counts.

    Raises:
        InputDataError: A log or the table is unusable.
    """
    return join_next_answers(read_decisions(decisions_uri, span), interactions, max_delay_ms)


_COUNT_KEYS = (
    "decisions",
    "joined",
    "followed",
    "no_answer",
    "without_student",
    "answers_with_exact_propensity",
    "rows_with_exact_propensity",
    "replaced_logged_propensity",
)


def _optional_text(values: pd.Series) -> np.ndarray:
    return np.array([None if pd.isna(v) else str(v) for v in values], dtype=object)


def apply_served_propensities(
    interactions: pd.DataFrame, served: ServedExamples
) -> ServedAttachment:
    """Writes each followed decision's exact propensity onto the answer it led to.

    An answer is identified by its student, item and timestamp; every table row of it (one per
    skill of a multi-skill item) gets the propensity, the policy version and the variant of the
    decision. Decisions the student did not follow (another item was answered) and answers no
    decision produced keep the table's own propensity.

    Args:
        interactions: The canonical table the decisions were joined with (not modified).
        served: Output of :func:`join_next_answers` on that table.

    Returns:
        The table copy and counts (``skipped`` is "").

    Raises:
        InputDataError: The table lacks a canonical column the match needs.
    """
    for column in ("student_id", "item_id", "timestamp"):
        if column not in interactions.columns:
            raise InputDataError(f"interactions: missing canonical column '{column}'")
    examples = served.examples
    followed = examples[examples["followed"].astype(bool)] if len(examples) else examples.iloc[0:0]
    keys = pd.DataFrame(
        {
            "_student": followed["student_pseudonym"].astype(str).to_numpy(),
            "_item": followed["answer_item_id"].astype(str).to_numpy(),
            "_ts": followed["answer_timestamp"].astype("int64").to_numpy(),
            "_p": pd.to_numeric(followed["propensity"], errors="coerce").to_numpy(dtype=float),
            "_version": _optional_text(followed["policy_version"]),
            "_variant": _optional_text(followed["variant"]),
        }
    ).drop_duplicates(["_student", "_item", "_ts"], keep="last")
    frame = interactions.copy()
    timestamps = pd.to_numeric(frame["timestamp"], errors="coerce")
    probe = pd.DataFrame(
        {
            "_student": frame["student_id"].astype(str).to_numpy(),
            "_item": frame["item_id"].astype(str).to_numpy(),
            "_ts": timestamps.fillna(-1).astype("int64").to_numpy(),
        }
    )
    merged = probe.merge(keys, how="left", on=["_student", "_item", "_ts"], validate="m:1")
    matched = merged["_p"].notna().to_numpy() & timestamps.notna().to_numpy()
    own = (
        pd.to_numeric(frame["propensity"], errors="coerce").to_numpy(dtype=float)
        if "propensity" in frame.columns
        else np.full(len(frame), np.nan)
    )
    exact = merged["_p"].to_numpy(dtype=float)
    replaced = matched & np.isfinite(own) & ~np.isclose(own, np.where(matched, exact, own))
    frame["propensity"] = np.where(matched, exact, own)
    frame["served_policy_version"] = np.where(matched, merged["_version"].to_numpy(), None)
    frame["served_variant"] = np.where(matched, merged["_variant"].to_numpy(), None)
    counts = {key: int(served.counts.get(key, 0)) for key in _COUNT_KEYS[:5]}
    counts["answers_with_exact_propensity"] = int(
        probe.loc[matched, ["_student", "_item", "_ts"]].drop_duplicates().shape[0]
    )
    counts["rows_with_exact_propensity"] = int(matched.sum())
    counts["replaced_logged_propensity"] = int(replaced.sum())
    if counts["replaced_logged_propensity"]:
        logger.warning(
            "served decisions: %d row(s) carried another propensity; the served one replaced it",
            counts["replaced_logged_propensity"],
        )
    logger.info(
        "served decisions: exact propensities on %d answer(s) (%d row(s))",
        counts["answers_with_exact_propensity"],
        counts["rows_with_exact_propensity"],
    )
    return ServedAttachment(interactions=frame, counts=counts)


def _previous_day_tail(decisions_uri: str, span: str, max_delay_ms: int) -> pd.DataFrame:
    """Decisions of the day before ``span`` close enough to its start to be answered in it.

    A decision served at 23:59:58 is answered (if at all) in the next day's span; its log is
    the previous day's. Empty when ``span`` is not a ``YYYY-MM-DD`` day.
    """
    try:
        day = datetime.strptime(span, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return pd.DataFrame()
    previous = (day - timedelta(days=1)).strftime("%Y-%m-%d")
    frame = read_decisions(decisions_uri, previous)
    if frame.empty:
        return frame
    start_ms = int(day.timestamp() * 1000)
    return frame[frame["time_ms"] >= start_ms - max_delay_ms].reset_index(drop=True)


def attach_served_decisions(
    interactions: pd.DataFrame,
    decisions_uri: str,
    span: str = "",
    max_delay_ms: int = DEFAULT_MAX_DELAY_MS,
) -> ServedAttachment:
    """Joins a span's served decisions with the table and writes their exact propensities.

    Skips (returns the table unchanged, with the reason logged and in ``skipped``) when
    ``decisions_uri`` is empty, when the table's timestamps are not clock times (ASSISTments
    order ids: a decision's time cannot be placed among them), or when no decision was logged
    in the span.

    Args:
        interactions: The canonical, de-identified table (pseudonymous ``student_id``).
        decisions_uri: The predictor's decision folder or gs:// prefix ("" skips).
        span: UTC day whose logs are read (``""``: every log), with the previous day's
            decisions made within ``max_delay_ms`` of its start (answered after midnight).
        max_delay_ms: Longest wait between a decision and its answer.

    Returns:
        The attachment.

    Raises:
        InputDataError: A decision log is unreadable, or the table lacks a canonical column.
    """
    reason = ""
    decisions = None
    if not decisions_uri:
        reason = "no decisions_uri given"
    elif "timestamp" not in interactions.columns or not is_clock_time(interactions["timestamp"]):
        reason = (
            "the table's timestamps are not clock times (milliseconds since the epoch; "
            "ASSISTments timestamps are order ids), so decisions cannot be placed among answers"
        )
    else:
        decisions = read_decisions(decisions_uri, span)
        earlier = _previous_day_tail(decisions_uri, span, max_delay_ms)
        if not earlier.empty:
            decisions = pd.concat([earlier, decisions], ignore_index=True)
            decisions = decisions.sort_values("time_ms", kind="stable").reset_index(drop=True)
        if decisions.empty:
            reason = f"no decision records under the decisions URI for span {span or '(all)'}"
    if reason or decisions is None:
        logger.info("served decisions not joined: %s", reason)
        return ServedAttachment(
            interactions=interactions.copy(), counts=dict.fromkeys(_COUNT_KEYS, 0), skipped=reason
        )
    served = join_next_answers(decisions, interactions, max_delay_ms)
    return apply_served_propensities(interactions, served)
