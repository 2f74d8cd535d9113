"""A serving stream for local monitoring demos and tests, replayed from a training table.

On one machine nothing serves students, so ``make monitor --simulate`` needs decision logs.
This module writes them in the predictor's layout (``decisions-<day>.jsonl``, one record per
decision with ``student_pseudonym``, ``item_id``, ``propensity``, ``policy_version``,
``variant``) by sampling from a de-identified training table: a *clean* span draws items and
propensities as the training data has them; a *drifted* span concentrates the decisions on a
few items with low propensities (the injected drift monitoring must catch). The pseudonyms are
the table's own (already HMAC pseudonyms), so the decisions join the table's answers.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from quizops.errors import InputDataError


def replay_decisions(
    table: pd.DataFrame, count: int, seed: int, drift: bool = False, version: str = "1"
) -> list[dict[str, object]]:
    """Samples decision records from a de-identified canonical table.

    Args:
        table: Columns ``student_id`` (pseudonyms), ``item_id`` and optionally ``propensity``.
        count: Decisions to make.
        seed: Random seed.
        drift: Concentrate on the 5% most frequent items with low propensities.
        version: The policy version recorded.

    Returns:
        The records.

    Raises:
        InputDataError: The table lacks ``student_id`` or ``item_id``, or is empty.
    """
    for column in ("student_id", "item_id"):
        if column not in table.columns:
            raise InputDataError(f"replay table lacks the column '{column}'")
    if table.empty:
        raise InputDataError("replay table is empty")
    rng = np.random.default_rng(seed)
    frequencies = table["item_id"].astype(str).value_counts()
    items = frequencies.index.to_numpy()
    weights = frequencies.to_numpy(dtype=float)
    if drift:
        keep = max(1, len(items) // 20)
        items, weights = items[:keep], weights[:keep]
    chosen = rng.choice(items, size=count, p=weights / weights.sum())
    students = rng.choice(table["student_id"].astype(str).unique(), size=count)
    if "propensity" in table.columns and table["propensity"].notna().any():
        pool = table["propensity"].dropna().to_numpy(dtype=float)
        propensity = rng.choice(pool, size=count)
    else:
        propensity = rng.uniform(0.05, 0.9, size=count)
    if drift:
        propensity = np.clip(propensity * 0.2, 0.001, 1.0)
    return [
        {
            "student_pseudonym": student,
            "item_id": item,
            "propensity": float(p),
            "policy_version": version,
            "variant": "champion",
            "protocol": "v1",
        }
        for student, item, p in zip(students, chosen, propensity, strict=True)
    ]


def write_decision_log(records: list[dict[str, object]], folder: str | Path, span: str) -> Path:
    """Writes records as the predictor's local sink does (``decisions-<day>.jsonl``).

    Args:
        records: Decision records.
        folder: The decisions folder.
        span: The day (``YYYY-MM-DD``).

    Returns:
        The file written (replaced if it existed).

    Raises:
        InputDataError: The span is not a date.
    """
    try:
        day = dt.date.fromisoformat(span)
    except ValueError:
        raise InputDataError(f"decision span '{span[:20]}' is not a YYYY-MM-DD date") from None
    path = Path(folder) / f"decisions-{day.isoformat()}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = f"{day.isoformat()}T12:00:00.000Z"
    lines = [json.dumps({"time": stamp, **r}, separators=(",", ":")) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path
