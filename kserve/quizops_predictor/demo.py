"""Small, real :class:`QuizPolicy` objects built without training, for smoke tests and benchmarks.

:func:`build_demo_policy` has the shape of a legacy (format v1) trained policy: a per-skill BKT
tracer, an item bank and a gradient-boosted gain model fitted on synthetic targets in a fraction
of a second. :func:`build_planning_demo_policy` has the shape of what training registers now
(format v2): the same tracer with a prerequisite chain, planned over by a
:class:`~quizops.policy.PlanningModel`. Both exercise every code path of serving; neither is a
good policy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from quizops.features import BKTParams, KnowledgeTracer
from quizops.policy import PlanningModel, QuizPolicy


def build_demo_policy(
    n_skills: int = 4, items_per_skill: int = 6, version: str = "7", seed: int = 0
) -> QuizPolicy:
    """Builds a demo policy.

    Item ids are ``p<n>`` strings (``p100``, ``p101``, ...), skills ``skill-<k>``.

    Args:
        n_skills: Number of skills.
        items_per_skill: Items per skill.
        version: The policy version it reports.
        seed: Seed of the synthetic data.

    Returns:
        The policy.
    """
    rng = np.random.default_rng(seed)
    n_items = n_skills * items_per_skill
    item_ids = [f"p{100 + i}" for i in range(n_items)]
    skill_index = np.repeat(np.arange(n_skills), items_per_skill)
    tracer = KnowledgeTracer(
        skill_ids=[f"skill-{k}" for k in range(n_skills)],
        params=[BKTParams(0.3, 0.15, 0.2, 0.1) for _ in range(n_skills)],
        item_skill={item: int(k) for item, k in zip(item_ids, skill_index, strict=True)},
    )
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "skill_index": skill_index,
            "attempts": rng.integers(20, 200, n_items),
            "difficulty": rng.normal(0.0, 1.0, n_items),
            "gain": rng.uniform(0.0, 0.3, n_items),
        }
    )
    policy = QuizPolicy(tracer, items, HistGradientBoostingRegressor(), 0.05, 0.05, version)
    states = rng.uniform(0.0, 1.0, (400, n_skills))
    rows = rng.integers(0, n_items, 400)
    x = policy.design_matrix(states, rows)
    own_mastery = x[:, n_skills]
    y = items["gain"].to_numpy()[rows] * (1.0 - own_mastery) + rng.normal(0, 0.01, 400)
    policy.model = HistGradientBoostingRegressor(max_iter=20, random_state=seed).fit(x, y)
    return policy


def save_demo_policy(
    directory: str | os.PathLike[str], planning: bool = False, **kwargs: object
) -> Path:
    """Builds a demo policy and saves it.

    Args:
        directory: Destination folder.
        planning: Build :func:`build_planning_demo_policy` instead of the gain-model one.
        **kwargs: Passed to the builder.

    Returns:
        The folder.
    """
    build = build_planning_demo_policy if planning else build_demo_policy
    build(**kwargs).save(directory)  # type: ignore[arg-type]
    return Path(directory)


def build_planning_demo_policy(
    n_skills: int = 8, items_per_skill: int = 15, version: str = "7"
) -> QuizPolicy:
    """Builds a planning demo policy (the kind training registers; format v2).

    Skills form a chain (skill ``k`` requires skill ``k - 1``); item ids are ``p<n>`` strings as
    in :func:`build_demo_policy`.

    Args:
        n_skills: Number of skills.
        items_per_skill: Items per skill.
        version: The policy version it reports.

    Returns:
        The policy.
    """
    n_items = n_skills * items_per_skill
    item_ids = [f"p{100 + i}" for i in range(n_items)]
    skill_index = np.repeat(np.arange(n_skills), items_per_skill)
    tracer = KnowledgeTracer(
        skill_ids=[f"skill-{k}" for k in range(n_skills)],
        params=[BKTParams(0.3, 0.15, 0.2, 0.1) for _ in range(n_skills)],
        item_skill={item: int(k) for item, k in zip(item_ids, skill_index, strict=True)},
        prerequisites=[[] if k == 0 else [k - 1] for k in range(n_skills)],
        gate=[1.0 if k == 0 else 0.3 for k in range(n_skills)],
    )
    items = pd.DataFrame({"item_id": item_ids, "skill_index": skill_index})
    return QuizPolicy(tracer, items, PlanningModel(1.0, 0.95, 0.2), 0.1, 0.05, version)
