"""Multi-skill items whose skills depend on each other: the prerequisite is an ingredient.

A problem tagged with a skill and with one of its prerequisites is answered right only when
both are known. As students learn the advanced skill, its answers rise on the prerequisite's
chain too, and a per-skill fit credits that rise to the item as teaching the prerequisite.
"""

import numpy as np
import pandas as pd
import pytest

from quizops.features import fit_tracer
from quizops.features.bkt import fit_bkt_em
from quizops.features.fit import _chains, _SkillChain, ingredient_tags, sort_log
from quizops.features.tracer import ANSWER_KEY

GUESS, SLIP, RATE, GATE = 0.2, 0.1, 0.3, 0.05


def _conjunctive_logs(students: int, seed: int) -> pd.DataFrame:
    """Skills ``q``, ``p`` then ``s`` (which requires ``p``), as a skill builder asks them.

    Items ``P*`` practise ``p``; ``S*`` practise ``s``; ``M*`` are tagged with both and answered
    right only when both are known (guess otherwise). ``P*`` teach ``p``; ``S*`` and ``M*``
    teach ``s`` (a twentieth as much while ``p`` is unknown); nothing else teaches ``p``;
    ``Q*`` practise and teach an unrelated skill ``q``.
    """
    rng = np.random.default_rng(seed)
    p_items = [f"P{i}" for i in range(6)]
    q_items = [f"Q{i}" for i in range(4)]
    s_items = [f"S{i}" for i in range(5)] + [f"M{i}" for i in range(4)]
    rows: list[tuple[str, str, str, int, int]] = []

    def answer(student: int, known: dict[str, bool], item: str) -> int:
        tags = ["s", "p"] if item.startswith("M") else [item[0].lower()]
        right = all(known[k] for k in tags)
        correct = int(rng.random() < (1 - SLIP if right else GUESS))
        t = len(rows)  # increasing: a time stamp
        rows.extend((f"u{student}", item, k, correct, t) for k in tags)
        if item[0] in "PQ":
            k = item[0].lower()
            known[k] = known[k] or rng.random() < RATE
        else:
            rate = RATE if known["p"] else RATE * GATE
            known["s"] = known["s"] or rng.random() < rate
        return correct

    for student in range(students):
        known = {"p": rng.random() < 0.1, "s": False, "q": rng.random() < 0.1}
        # An unrelated skill first (with two skills, nothing tells a prerequisite from what
        # students know overall).
        for _ in range(4):
            answer(student, known, str(rng.choice(q_items)))
        streak = 0
        for _ in range(4):  # the first skill until two right in a row, at most four answers
            streak = streak + 1 if answer(student, known, str(rng.choice(p_items))) else 0
            if streak == 2:
                break
        for _ in range(12):
            answer(student, known, str(rng.choice(s_items)))
    return pd.DataFrame(rows, columns=["student_id", "item_id", "skill_id", "correct", "timestamp"])


@pytest.fixture(scope="module")
def logs():
    return _conjunctive_logs(students=1500, seed=3)


def _own_rates(tracer, skill: str, prefix: str) -> np.ndarray:
    k = tracer.skill_ids.index(skill)
    return np.array([
        tag[3]
        for item, tags in tracer.item_tags.items()
        if item.startswith(prefix)
        for tag in tags
        if int(tag[0]) == k
    ])  # fmt: skip


def test_a_problem_does_not_teach_its_ingredient(logs):
    tracer = fit_tracer(logs)
    p, s = tracer.skill_ids.index("p"), tracer.skill_ids.index("s")
    assert tracer.prerequisites[s] == [p]
    # The mixed problems teach their advanced skill, not its prerequisite.
    assert _own_rates(tracer, "p", "M").max() < 1e-3
    assert _own_rates(tracer, "s", "M").mean() > 0.15
    # The prerequisite's own items still teach it, about as much as they do.
    assert _own_rates(tracer, "p", "P").mean() == pytest.approx(RATE, abs=0.08)
    # What the rule corrects: the prerequisite's chain fitted on its own credits the problems
    # with teaching it, though they never do.
    df = sort_log(logs)
    df = df.loc[~df.duplicated(subset=[*ANSWER_KEY, "skill_id"])]  # as fit_tracer reads it
    chain = _chains(df.reset_index(drop=True), tracer.skill_ids)["p"]
    alone = fit_bkt_em(chain.obs, chain.tags, len(chain.items), skill="p")
    mixed = [t for t, item in enumerate(chain.items) if item.startswith("M")]
    assert alone.teach[mixed].mean() > 0.05


def _chain(items: list[str]) -> _SkillChain:
    empty = np.zeros((0, 0))
    return _SkillChain(np.zeros(0, dtype=int), empty, empty, np.zeros((0, 2)), items)


def test_ingredients_follow_the_graph_through_longer_paths():
    # 0 -> 1 -> 2, and 3 on its own. X: skills 0 and 2 (0 is required through 1); Y: 1 and
    # 2; Z: 0 and 3 (unrelated); W: 2 and 1 listed the other way round.
    skill_ids = ["a", "b", "c", "d"]
    chains = {
        "a": _chain(["A1", "X", "Z"]),
        "b": _chain(["B1", "Y", "W"]),
        "c": _chain(["C1", "X", "Y", "W"]),
        "d": _chain(["D1", "Z"]),
    }
    silent = ingredient_tags(chains, skill_ids, [[], [0], [1], []])
    assert set(silent) == {"a", "b"}
    assert silent["a"].tolist() == [False, True, False]
    assert silent["b"].tolist() == [False, True, True]
    # Without the graph, nothing is an ingredient.
    assert ingredient_tags(chains, skill_ids, [[], [], [], []]) == {}
