"""Offline features: every student's state after each answer, and the item bank's parameters.

One row per (student, answer time) holds the state *after* the answers at that time, with
``event_timestamp`` = that time. A point-in-time join for a decision at time ``t`` (Feast's
``get_historical_features`` with ``t`` just before the answer the decision led to) therefore
returns the state after the student's earlier answers only.

Rows of one answer to an item tagged with several skills (ingest writes one row per skill, with
the same student, timestamp and item) are one answer, as they are when the predictor receives it
and as :mod:`quizops.features` counts them: they are folded to one answer before tracing.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from quizops.errors import InputDataError
from quizops.features import KnowledgeTracer
from quizops.featurestore.definitions import (
    EVENT_TIMESTAMP,
    ITEM_FEATURES,
    ITEM_KEY,
    STUDENT_KEY,
    TRACER_KEY,
)
from quizops.featurestore.state import advance, tracer_version

logger = logging.getLogger(__name__)

_NEEDED = ("student_id", "item_id", "correct", "timestamp")


def to_event_time(timestamp_ms: np.ndarray | pd.Series) -> pd.Series:
    """Turns canonical ``timestamp`` values (milliseconds, or an order key) into UTC times.

    Args:
        timestamp_ms: Integer timestamps.

    Returns:
        UTC datetimes (order-preserving for order keys).
    """
    return pd.Series(pd.to_datetime(np.asarray(timestamp_ms, dtype=np.int64), unit="ms", utc=True))


def answers_of(df: pd.DataFrame) -> pd.DataFrame:
    """The answers of a canonical log: one row per (student, timestamp, item), in time order.

    Args:
        df: Canonical rows (any order).

    Returns:
        ``student_id, item_id, correct, timestamp`` sorted by student, then time.

    Raises:
        InputDataError: A required column is missing or the log is empty.
    """
    missing = [c for c in _NEEDED if c not in df.columns]
    if missing:
        raise InputDataError(f"feature store: interaction table lacks column(s) {missing}")
    if df.empty:
        raise InputDataError("feature store: the interaction table is empty")
    # One answer, as quizops.features counts them (``interaction_keys``): student, time and
    # item; the rows of a multi-skill item share all three.
    answers = df.drop_duplicates(["student_id", "timestamp", "item_id"])[list(_NEEDED)]
    return answers.sort_values(["student_id", "timestamp"], kind="stable").reset_index(drop=True)


def _list_stepper(tracer: KnowledgeTracer, items: np.ndarray) -> Any:
    """For a tracer with item tags: a function applying one answer to a list state in place.

    It is the step :func:`~quizops.featurestore.state.advance` takes (the tracer's own scalar
    update with the item's tags), with each item's tags looked up once.

    Args:
        tracer: The fitted tracer.
        items: The item ids that will be answered.

    Returns:
        The function, or None for a tracer without item tags (use ``advance``).
    """
    tags_of = getattr(tracer, "tags_of", None)
    if tags_of is None:
        return None
    tags = {item: tags_of(item) for item in pd.unique(items)}
    apply = tracer._apply_scalar

    def step(values: list[float], item_id: str, correct: int) -> None:
        item_tags = tags[item_id]
        if item_tags is not None:  # an item outside the bank leaves the state unchanged
            apply(values, item_tags, correct)

    return step


def state_snapshots(
    df: pd.DataFrame, tracer: KnowledgeTracer, version: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Traces every student's answers and keeps the state after each answer time.

    Args:
        df: Canonical rows (de-identified: ``student_id`` is the pseudonym).
        tracer: The fitted tracer.
        version: The tracer's version.

    Returns:
        The scalar columns (``student_pseudonym``, ``event_timestamp``, ``n_answers``,
        ``n_correct``, ``last_item_id``, ``last_answer_ms``, ``tracer_version``) and the
        matching state matrix [rows, state size], float64.

    An answer on an item outside the tracer's bank (added since training, or of a skill the
    feature stage left out as untraceable) leaves the state unchanged and counts in
    ``n_answers``, as in the predictor's stateless and stateful forms.

    Raises:
        InputDataError: A column is missing or the log is empty.
    """
    answers = answers_of(df)
    students = answers["student_id"].astype(str).to_numpy()
    items = answers["item_id"].astype(str).to_numpy()
    correct = answers["correct"].to_numpy(np.int64)
    stamps = answers["timestamp"].to_numpy(np.int64)
    unknown = ~pd.Series(items).isin(set(tracer.item_skill)).to_numpy()
    if unknown.any():  # the predictor's rule: such an answer leaves the state as it was
        logger.info(
            "feature store: %d of %d answers are on items outside the tracer's bank (new, or "
            "of a skill the feature stage left out); they leave the state unchanged and count "
            "in n_answers", int(unknown.sum()), len(items),
        )  # fmt: skip
    n = len(answers)
    prior = np.asarray(tracer.initial_state(), dtype=np.float64)
    states = np.empty((n, prior.size), dtype=np.float64)
    n_answers = np.empty(n, dtype=np.int64)
    n_correct = np.empty(n, dtype=np.int64)
    state: Any = prior.copy()  # an array, or the stepper's list
    count = right = 0
    step = _list_stepper(tracer, items)
    values: list[float] = []
    for row in range(n):
        if row == 0 or students[row] != students[row - 1]:
            state = prior.copy()
            values = [float(v) for v in prior]
            count = right = 0
        if step is None:
            advance(tracer, state, items[row], int(correct[row]))
        else:  # the same step as advance(), on the list it converts to, without the conversions
            step(values, items[row], int(correct[row]))
            state = values
        count += 1
        right += int(correct[row])
        states[row] = state
        n_answers[row] = count
        n_correct[row] = right
    # One row per (student, time): the state after every answer at that time.
    last = np.r_[(students[1:] != students[:-1]) | (stamps[1:] != stamps[:-1]), True]
    scalars = pd.DataFrame(
        {
            STUDENT_KEY: students[last],
            EVENT_TIMESTAMP: to_event_time(stamps[last]),
            "n_answers": n_answers[last],
            "n_correct": n_correct[last],
            "last_item_id": items[last],
            "last_answer_ms": stamps[last],
            TRACER_KEY: version,
        }
    )
    return scalars, states[last]


def student_table(scalars: pd.DataFrame, states: np.ndarray) -> pa.Table:
    """Builds the Arrow table of the ``student_state`` source.

    Args:
        scalars: Scalar columns from :func:`state_snapshots`.
        states: State matrix, one row per scalar row.

    Returns:
        The table (``state`` as list<double>, ``recent_request_ids`` empty lists).
    """
    rows, size = states.shape
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * size)
    state_col = pa.ListArray.from_arrays(offsets, pa.array(states.reshape(-1)))
    empty = pa.ListArray.from_arrays(
        pa.array(np.zeros(rows + 1, dtype=np.int32)), pa.array([], type=pa.string())
    )
    table = pa.Table.from_pandas(scalars, preserve_index=False)
    table = table.append_column("state", state_col)
    return table.append_column("recent_request_ids", empty)


def item_tags(tracer: KnowledgeTracer, item_id: str) -> list[tuple[int, float, float, float]]:
    """The ``(skill, guess, slip, teach)`` parameters the tracer applies for an item.

    Args:
        tracer: The fitted tracer.
        item_id: An item of its bank.

    Returns:
        One tuple per skill the item is tagged with (a tracer without item tags: the item's
        skill with its pooled parameters).
    """
    tags_of = getattr(tracer, "tags_of", None)
    if tags_of is not None:
        return list(tags_of(str(item_id)) or [])
    skill = tracer.item_skill[str(item_id)]
    p = tracer.params[skill]
    return [(skill, p.p_guess, p.p_slip, p.p_learn)]


def item_table(
    items: pd.DataFrame, tracer: KnowledgeTracer, version: str, event_time: pd.Timestamp
) -> pd.DataFrame:
    """Builds the ``item_params`` source: each item's statistics and fitted tag parameters.

    Args:
        items: The feature set's item bank (item_id, skill_index, attempts, difficulty, ...).
        tracer: The fitted tracer.
        version: Its version.
        event_time: Time the parameters were fitted (one value for the whole bank).

    Returns:
        One row per item.
    """
    ids = items["item_id"].astype(str).tolist()
    tags = [item_tags(tracer, item) for item in ids]
    out = pd.DataFrame(
        {
            ITEM_KEY: ids,
            "skill_index": items["skill_index"].to_numpy(np.int64),
            "attempts": items["attempts"].to_numpy(np.int64),
            "difficulty": items["difficulty"].to_numpy(np.float64),
            "tag_skills": [[int(t[0]) for t in ts] for ts in tags],
            "tag_guess": [[float(t[1]) for t in ts] for ts in tags],
            "tag_slip": [[float(t[2]) for t in ts] for ts in tags],
            "tag_teach": [[float(t[3]) for t in ts] for ts in tags],
        }
    )
    out[TRACER_KEY] = version
    out[EVENT_TIMESTAMP] = event_time
    return out[[ITEM_KEY, TRACER_KEY, *ITEM_FEATURES, EVENT_TIMESTAMP]]


def write_atomic(table: pa.Table | pd.DataFrame, uri: str) -> None:
    """Writes a Parquet file: locally through a temporary name, on GCS as one object upload.

    Args:
        table: Arrow table or pandas frame.
        uri: Destination path or ``gs://`` URI.
    """
    from quizops import storage

    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if storage.is_gcs(uri):
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        storage.write_bytes(uri, sink.getvalue().to_pybytes())
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def historical_student_states(
    store: Any, entity_df: pd.DataFrame, tracer: KnowledgeTracer | None = None
) -> pd.DataFrame:
    """Point-in-time student states for training examples (Feast ``get_historical_features``).

    For each row (``student_pseudonym``, ``event_timestamp`` = decision time) the store returns
    the latest state of the tracer with an event time at or before the decision time, never a
    later one.

    Args:
        store: An open ``feast.FeatureStore``.
        entity_df: ``student_pseudonym`` and ``event_timestamp`` (UTC) per decision, and
            ``tracer_version`` unless ``tracer`` is given.
        tracer: The tracer whose states to read (its version fills ``tracer_version``); a
            decision with no earlier answer gets its prior, as the predictor does. Without it
            such a decision's ``state`` is None.

    Returns:
        The entity rows with the ``student_state`` features (``state`` as float64 arrays,
        ``n_answers`` and ``n_correct`` 0 before the first answer).

    Raises:
        InputDataError: ``entity_df`` lacks a column.
    """
    from quizops.featurestore.definitions import STUDENT_FEATURES, STUDENT_VIEW

    missing = [c for c in (STUDENT_KEY, EVENT_TIMESTAMP) if c not in entity_df.columns]
    if missing:
        raise InputDataError(f"historical features: entity_df lacks column(s) {missing}")
    refs = [f"{STUDENT_VIEW}:{name}" for name in STUDENT_FEATURES]
    # Feast's file (dask) store drops entity rows that precede every feature row; a row number
    # carried through the join puts them back (as "no answer yet").
    if TRACER_KEY not in entity_df.columns and tracer is None:
        raise InputDataError(f"historical features: entity_df lacks column {TRACER_KEY!r}")
    query = entity_df[[STUDENT_KEY, EVENT_TIMESTAMP]].copy()
    query[TRACER_KEY] = (
        entity_df[TRACER_KEY].to_numpy() if tracer is None else tracer_version(tracer)
    )
    query["_entity_row"] = np.arange(len(query))
    joined = store.get_historical_features(entity_df=query, features=refs).to_df()
    joined = joined.set_index("_entity_row").drop(
        columns=[STUDENT_KEY, EVENT_TIMESTAMP, TRACER_KEY]
    )
    frame = entity_df.reset_index(drop=True).join(joined.reindex(np.arange(len(query))))
    frame[TRACER_KEY] = query[TRACER_KEY].to_numpy()
    prior = None if tracer is None else np.asarray(tracer.initial_state(), dtype=np.float64)
    states: list[np.ndarray | None] = []
    for value in frame["state"]:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            states.append(None if prior is None else prior.copy())
        else:
            states.append(np.asarray(value, dtype=np.float64))
    frame["state"] = states
    frame["n_answers"] = frame["n_answers"].fillna(0).astype(np.int64)
    frame["n_correct"] = frame["n_correct"].fillna(0).astype(np.int64)
    return frame
