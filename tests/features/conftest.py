import numpy as np
import pytest

from quizops.features import BKTParams, KnowledgeTracer


@pytest.fixture(scope="session")
def multi_skill_tracer():
    """A tracer with prerequisites, gates, tag-level parameters and two-skill items."""
    rng = np.random.default_rng(4)
    skills = [f"s{k}" for k in range(5)]
    item_tags = {}
    item_skill = {}
    for i in range(30):
        primary = i % 5
        tags = [[primary, *rng.uniform([0.05, 0.03, 0.0], [0.4, 0.3, 0.4])]]
        if i % 4 == 0:  # a two-skill item: its skill and another
            other = (primary + 1 + i % 3) % 5
            tags.append([other, *rng.uniform([0.05, 0.03, 0.0], [0.4, 0.3, 0.4])])
        item_tags[f"i{i}"] = [[float(x) for x in t] for t in tags]
        item_skill[f"i{i}"] = primary
    return KnowledgeTracer(
        skill_ids=skills,
        params=[BKTParams(0.2 + 0.1 * k, 0.1, 0.2, 0.1) for k in range(5)],
        item_skill=item_skill,
        item_tags=item_tags,
        prerequisites=[[], [0], [0], [1, 2], [3]],
        gate=[1.0, 0.2, 0.3, 0.05, 0.1],
    )
