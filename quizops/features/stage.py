"""The feature-engineering stage: validated table in, feature set out.

With a decisions URI the stage first closes the serving loop: the span's served decisions
(the predictor's decision log) are joined with the table's answers
(:func:`quizops.ingest.serving_logs.attach_served_decisions`), so every answer a served decision
produced carries the exact propensity the serving policy gave it, and the evaluation's
off-policy estimates can use it. The join's counts go into the metrics and into
``served_decisions.json`` beside the features (counts and the reason of a skip only).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from quizops.features.engineer import engineer_features, save_features
from quizops.features.fit import untraceable_skills
from quizops.ingest.serving_logs import DEFAULT_MAX_DELAY_MS, attach_served_decisions

logger = logging.getLogger(__name__)

#: File in the feature set holding the served-decision join's counts (no row values).
SERVED_SUMMARY_FILE = "served_decisions.json"


@dataclass(frozen=True)
class FeaturesStageResult:
    """What :func:`run_features_stage` reports.

    Attributes:
        features_dir: Where the feature set was written.
        metrics: Counts and fitted-parameter summaries (examples, items, skills,
            skills_untraceable, mean_bkt_p_learn, prerequisite_edges, multi_skill_items) and
            the served-decision join's counts (``served_decisions``, ``served_joined``,
            ``served_followed``,
            ``served_no_answer``, ``served_answers_with_exact_propensity``,
            ``served_rows_with_exact_propensity``, ``served_join_skipped`` 0/1).
        served: The join's summary as written to ``served_decisions.json``: ``span``,
            ``skipped`` (the reason, "" when joined) and ``counts``.
    """

    features_dir: str
    metrics: dict[str, float]
    served: dict[str, Any] = field(default_factory=dict)


def run_features_stage(
    *,
    data_path: str | os.PathLike[str],
    features_dir: str | os.PathLike[str],
    decisions_uri: str = "",
    span: str = "",
    max_answer_delay_ms: int = DEFAULT_MAX_DELAY_MS,
) -> FeaturesStageResult:
    """Reads the validated table, engineers features and writes them (all or nothing).

    Args:
        data_path: Canonical Parquet table (validated, de-identified).
        features_dir: Destination folder (written only when every step succeeded).
        decisions_uri: The predictor's decision logs (folder or gs:// prefix); their
            exact propensities are written onto the answers they produced. "" skips the join;
            so does a table whose timestamps are order ids (logged, not an error).
        span: UTC day whose decision logs are read ("" reads every log).
        max_answer_delay_ms: Longest wait between a decision and the answer it led to.

    Returns:
        The result.

    Raises:
        InputDataError: The table is empty or unreadable, or a decision log is unreadable.
        ModelFitError: Knowledge tracing could not be fitted.
    """
    from quizops.canonical import read_table

    table = read_table(data_path)
    attachment = attach_served_decisions(table, decisions_uri, span, max_answer_delay_ms)
    served = {"span": span, "skipped": attachment.skipped, "counts": attachment.counts}
    features = engineer_features(attachment.interactions)
    destination = Path(features_dir)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".features-", dir=destination.parent))
    try:
        save_features(features, staging)
        (staging / SERVED_SUMMARY_FILE).write_text(json.dumps(served, indent=1, sort_keys=True))
        if destination.exists():
            shutil.rmtree(destination)
        staging.replace(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    tracer = features.tracer
    counts = attachment.counts
    if attachment.skipped:
        logger.info("features: served decisions not joined (%s)", attachment.skipped)
    else:
        logger.info(
            "features: %d served decisions, %d joined with an answer (%d followed, %d without "
            "one); exact propensities on %d answers",
            counts["decisions"],
            counts["joined"],
            counts["followed"],
            counts["no_answer"],
            counts["answers_with_exact_propensity"],
        )
    return FeaturesStageResult(
        features_dir=str(destination),
        served=served,
        metrics={
            **{
                f"served_{key}": float(counts[key])
                for key in (
                    "decisions",
                    "joined",
                    "followed",
                    "no_answer",
                    "answers_with_exact_propensity",
                    "rows_with_exact_propensity",
                )
            },
            "served_join_skipped": float(bool(attachment.skipped)),
            "examples": float(len(features.examples)),
            "items": float(len(features.items)),
            "skills": float(tracer.n_skills),
            # skills of the table whose answers could not be traced (left out, warned)
            "skills_untraceable": float(len(untraceable_skills(attachment.interactions, tracer))),
            "mean_bkt_p_learn": float(np.mean([p.p_learn for p in tracer.params])),
            "prerequisite_edges": float(sum(len(p) for p in tracer.prerequisites)),
            "multi_skill_items": float(sum(1 for t in tracer.item_tags.values() if len(t) > 1)),
        },
    )
