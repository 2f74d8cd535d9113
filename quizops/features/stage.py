"""The feature-engineering stage: validated table in, feature set out."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quizops.features.engineer import engineer_features, save_features

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeaturesStageResult:
    """What :func:`run_features_stage` reports.

    Attributes:
        features_dir: Where the feature set was written.
        metrics: Counts and fitted-parameter summaries (examples, items, skills,
            mean_bkt_p_learn, prerequisite_edges, multi_skill_items).
    """

    features_dir: str
    metrics: dict[str, float]


def run_features_stage(*, data_path: str | os.PathLike[str],
                       features_dir: str | os.PathLike[str]) -> FeaturesStageResult:  # fmt: skip
    """Reads the validated table, engineers features and writes them (all or nothing).

    Args:
        data_path: Canonical Parquet table (validated, de-identified).
        features_dir: Destination folder (written only when every step succeeded).

    Returns:
        The result.

    Raises:
        InputDataError: The table is empty or unreadable.
        ModelFitError: Knowledge tracing could not be fitted.
    """
    from quizops.canonical import read_table

    features = engineer_features(read_table(data_path))
    destination = Path(features_dir)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".features-", dir=destination.parent))
    try:
        save_features(features, staging)
        if destination.exists():
            shutil.rmtree(destination)
        staging.replace(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    tracer = features.tracer
    return FeaturesStageResult(
        features_dir=str(destination),
        metrics={
            "examples": float(len(features.examples)),
            "items": float(len(features.items)),
            "skills": float(tracer.n_skills),
            "mean_bkt_p_learn": float(np.mean([p.p_learn for p in tracer.params])),
            "prerequisite_edges": float(sum(len(p) for p in tracer.prerequisites)),
            "multi_skill_items": float(sum(1 for t in tracer.item_tags.values() if len(t) > 1)),
        },
    )
