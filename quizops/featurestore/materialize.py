"""The materialize stage: offline features from the validated log, then the online store.

:func:`run_materialize_features_stage` traces every student's answers with the fitted tracer
of the feature set (the shared feature code), writes the ``student_state`` and ``item_params``
offline files, registers the definitions (``feast apply``) and materializes the latest row of
every student and item into the online store, which the predictor's stateful mode reads.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from quizops.errors import FeatureStoreError, InputDataError
from quizops.featurestore.config import (
    CONFIG_FILE,
    default_repo_path,
    ensure_local_repo,
    offline_root,
    open_store,
)
from quizops.featurestore.definitions import STUDENT_KEY, build_definitions, offline_paths
from quizops.featurestore.offline import (
    item_table,
    state_snapshots,
    student_table,
    write_atomic,
)
from quizops.featurestore.state import tracer_version

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaterializeResult:
    """What the materialize stage did.

    Attributes:
        repo_path: The Feast repository folder.
        student_state_uri: Offline file of student states.
        item_params_uri: Offline file of item parameters.
        tracer_version: Version of the tracer every state was computed with.
        answers: Answers traced.
        state_rows: Offline state rows (one per student and answer time).
        students: Students materialized online.
        items: Items materialized online.
        state_size: Length of the state vector.
        seconds: Wall time of the stage.
        materialize_seconds: Wall time of Feast's materialization alone.
    """

    repo_path: str
    student_state_uri: str
    item_params_uri: str
    tracer_version: str
    answers: int
    state_rows: int
    students: int
    items: int
    state_size: int
    seconds: float
    materialize_seconds: float

    def metrics(self) -> dict[str, float]:
        """Numeric fields, for a KFP Metrics artifact.

        Returns:
            Name -> value.
        """
        return {k: float(v) for k, v in asdict(self).items() if isinstance(v, int | float)}


def latest_states(scalars: pd.DataFrame, states: Any) -> pd.DataFrame:
    """The last offline row of every student, in the ``student_state`` schema.

    Args:
        scalars: Scalar columns of :func:`~quizops.featurestore.offline.state_snapshots`
            (sorted by student, then time).
        states: The matching state matrix.

    Returns:
        One row per student.
    """
    last = ~scalars[STUDENT_KEY].duplicated(keep="last").to_numpy()
    latest = scalars.loc[last].reset_index(drop=True)
    latest["state"] = list(states[last])
    latest["recent_request_ids"] = [[] for _ in range(len(latest))]
    return latest


def materialize_features(
    df: pd.DataFrame,
    tracer: Any,
    items: pd.DataFrame,
    repo_path: str | os.PathLike[str],
    offline_uri: str = "",
) -> MaterializeResult:
    """Writes offline features for a log and materializes them into the online store.

    Args:
        df: Canonical, de-identified rows.
        tracer: The fitted :class:`quizops.features.KnowledgeTracer`.
        items: The feature set's item bank.
        repo_path: Feast repository folder; a local one is created when it holds no
            ``feature_store.yaml``.
        offline_uri: Where the offline files go (empty: ``<repo>/data``; production: gs://).

    Returns:
        What was written.

    Raises:
        InputDataError: The log is empty, lacks a column or names an item the tracer lacks.
        FeatureStoreError: Feast cannot apply the definitions or materialize.
    """
    started = time.monotonic()
    version = tracer_version(tracer)
    scalars, states = state_snapshots(df, tracer, version)
    if len(items) == 0:
        raise InputDataError("feature store: the item bank is empty")
    repo = Path(repo_path)
    if not (repo / CONFIG_FILE).is_file():
        repo = ensure_local_repo(repo)
    fitted_at = pd.Timestamp.now(tz="UTC").floor("s")
    item_rows = item_table(items, tracer, version, fitted_at)
    students = student_table(scalars, states)
    root = offline_root(repo, offline_uri)
    student_uri, item_uri = offline_paths(root)
    store = open_store(repo)
    definitions = build_definitions(root)
    # Nothing is written before every input checked out and the store opened.
    write_atomic(students, student_uri)
    write_atomic(item_rows, item_uri)
    try:
        store.apply(definitions.objects())
        materialize_started = time.monotonic()
        # The latest offline row of every student and item, written to the online store: what
        # `feast materialize` leaves there, without its file-store (dask) scan of every row
        # (266 s for 1,000,000 rows here, against seconds for this).
        store.write_to_online_store(definitions.student_view.name, latest_states(scalars, states))
        store.write_to_online_store(definitions.item_view.name, item_rows)
        materialize_seconds = time.monotonic() - materialize_started
    except Exception as exc:  # Feast raises many unrelated types
        raise FeatureStoreError(f"{repo}: apply or materialize failed ({exc})") from exc
    result = MaterializeResult(
        repo_path=str(repo),
        student_state_uri=student_uri,
        item_params_uri=item_uri,
        tracer_version=version,
        answers=int(scalars["n_answers"].groupby(scalars["student_pseudonym"]).max().sum()),
        state_rows=len(scalars),
        students=int(scalars["student_pseudonym"].nunique()),
        items=len(item_rows),
        state_size=int(states.shape[1]),
        seconds=round(time.monotonic() - started, 3),
        materialize_seconds=round(materialize_seconds, 3),
    )
    logger.info(
        "feature store: %d answers of %d students traced (%d state rows), %d items; "
        "materialized in %.1fs",
        result.answers,
        result.students,
        result.state_rows,
        result.items,
        result.materialize_seconds,
    )
    return result


def run_materialize_features_stage(
    data_path: str | os.PathLike[str],
    features_dir: str | os.PathLike[str],
    repo_path: str | os.PathLike[str],
    offline_uri: str = "",
) -> MaterializeResult:
    """The pipeline stage: reads the validated table and the feature set, then materializes.

    Args:
        data_path: Validated, de-identified canonical table (Parquet).
        features_dir: Feature set folder (``tracer.json``, ``items.parquet``).
        repo_path: Feast repository folder (created as a local one when it has no config);
            empty for :func:`~quizops.featurestore.config.default_repo_path`.
        offline_uri: Offline file location (empty: ``<repo>/data``).

    Returns:
        What was written.

    Raises:
        InputDataError: A missing or malformed input.
        FeatureStoreError: Feast failed.
    """
    from quizops.canonical import read_table
    from quizops.features import load_features

    if not str(repo_path):
        repo_path = default_repo_path()
    features = load_features(features_dir)
    return materialize_features(
        read_table(data_path), features.tracer, features.items, repo_path, offline_uri
    )
