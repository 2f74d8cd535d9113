"""Learning credit against brute-force enumeration of the hidden learning moment."""

import numpy as np
import pandas as pd
import pytest

from quizops.features import KnowledgeTracer
from quizops.features.credit import answer_credit, learning_credit


def _log(tracer, rng, students=4, answers=14):
    rows = []
    items = list(tracer.item_skill)
    for s in range(students):
        for t in range(answers):
            item = items[rng.integers(len(items))]
            correct = int(rng.random() < 0.55)
            for tag in tracer.tags_of(item):
                rows.append((f"st{s}", item, tracer.skill_ids[tag[0]], correct, t))
    frame = pd.DataFrame(rows, columns=["student_id", "item_id", "skill_id", "correct",
                                        "timestamp"])  # fmt: skip
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # any order


def _brute_force(tracer, history, skill):
    """P(the skill is learnt at each of its answers | all answers), by enumerating paths.

    Knowledge is never lost, so a path is the index j of the first answer at which the skill is
    known (j = n: never within the answers). Readiness comes from the scalar online state.
    """
    obs, te, guess, slip = [], [], [], []
    for i, (item, correct) in enumerate(history):
        for k, g, sl, teach in tracer.tags_of(item):
            if k != skill:
                continue
            state = tracer.state_after(history[:i])
            ready = np.prod([state[p] for p in tracer.prerequisites[k]])
            obs.append(correct)
            guess.append(g)
            slip.append(sl)
            te.append(teach * (ready + tracer.gate[k] * (1 - ready)))
    n = len(obs)
    p0 = tracer.params[skill].p_init
    weights = []
    for j in range(n + 1):
        if j == 0:
            prior = p0
        else:  # unknown at answers 0..j-1, learnt after answer j-1 (j = n: never learnt)
            prior = (1 - p0) * np.prod([1 - x for x in te[: j - 1]])
            prior *= te[j - 1] if j < n else 1.0
        known = [1 - slip[t] if obs[t] else slip[t] for t in range(n)]
        unknown = [guess[t] if obs[t] else 1 - guess[t] for t in range(n)]
        like = np.prod([known[t] if t >= j else unknown[t] for t in range(n)])
        weights.append(prior * like)
    weights = np.array(weights) / np.sum(weights)
    return [weights[t + 1] if t < n - 1 else np.nan for t in range(n)]


def test_credit_equals_the_enumerated_posterior_of_learning_at_each_answer(multi_skill_tracer):
    tracer = multi_skill_tracer
    frame = _log(tracer, np.random.default_rng(5))
    credit = learning_credit(tracer, frame)
    checked = 0
    for _, rows in frame.groupby("student_id"):
        rows = rows.sort_values("timestamp", kind="stable")
        history = [(r.item_id, r.correct) for r in rows.drop_duplicates("timestamp").itertuples()]
        for k, skill in enumerate(tracer.skill_ids):
            mine = rows[rows["skill_id"] == skill]
            if mine.empty:
                continue
            expected = _brute_force(tracer, history, k)
            got = credit[mine.index.to_numpy()]
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
            checked += len(mine)
    assert checked == len(frame)
    assert np.isfinite(credit).sum() > len(frame) / 2


def test_an_item_that_only_assesses_earns_no_credit_and_later_answers_decide_the_rest(
    multi_skill_tracer,
):
    tracer = KnowledgeTracer.from_dict(multi_skill_tracer.to_dict())  # the fixture is shared
    tracer.item_tags["i0"] = [[0, 0.2, 0.1, 0.0]]  # skill s0 (no prerequisites), teaches nothing
    tracer.item_tags["i5"] = [[0, 0.2, 0.1, 0.3]]
    rows = [
        ("a", "i0", "s0", 0, 0),
        ("a", "i0", "s0", 1, 1),
        ("a", "i0", "s0", 1, 2),
        ("b", "i5", "s0", 0, 0),
        ("b", "i5", "s0", 1, 1),
        ("b", "i5", "s0", 1, 2),
        ("c", "i5", "s0", 0, 0),
        ("c", "i5", "s0", 0, 1),
        ("c", "i5", "s0", 0, 2),
    ]
    frame = pd.DataFrame(rows, columns=["student_id", "item_id", "skill_id", "correct",
                                        "timestamp"])  # fmt: skip
    credit = learning_credit(tracer, frame)
    assert credit[0] == 0.0 and credit[1] == 0.0 and np.isnan(credit[2])
    # b: wrong, then right twice after a teaching item: the first answer most likely taught;
    # c: wrong three times: it most likely did not.
    assert credit[3] > 0.5 > 0.1 > credit[6]
    per_answer = answer_credit(tracer, frame)
    assert len(per_answer) == len(frame)
    assert per_answer.iloc[3] == pytest.approx(credit[3])
