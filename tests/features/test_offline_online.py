"""Offline (vectorized, training) and online (scalar, predictor) state and choice agree.

Seeded random histories: multi-skill items, long histories (up to 400 answers), unknown items
mixed in, students interleaved in the log as real logs are.
"""

import numpy as np
import pandas as pd
import pytest

from quizops.errors import InputDataError
from quizops.policy import PlanningModel, QuizPolicy


def random_log(tracer, rng, students=40, longest=400, unknown_share=0.05):
    items = list(tracer.item_skill)
    rows = []
    histories = {}
    for s in range(students):
        length = int(rng.integers(0, longest + 1)) if s else longest  # one at the maximum
        history = []
        for _ in range(length):
            item = (
                f"unknown{rng.integers(0, 3)}"
                if rng.random() < unknown_share
                else (items[rng.integers(0, len(items))])
            )
            history.append((item, int(rng.integers(0, 2))))
        histories[f"st{s}"] = history
    # Interleave students in time, as a log does.
    clock = 0
    cursors = dict.fromkeys(histories, 0)
    while any(cursors[s] < len(h) for s, h in histories.items()):
        for s in rng.permutation(list(histories)):
            if cursors[s] < len(histories[s]):
                item, ok = histories[s][cursors[s]]
                rows.append((s, item, ok, clock))
                cursors[s] += 1
                clock += 1
    log = pd.DataFrame(rows, columns=["student_id", "item_id", "correct", "timestamp"])
    return log, histories


@pytest.mark.parametrize("seed", range(6))
def test_offline_trace_equals_online_state_for_every_prefix(multi_skill_tracer, seed):
    tracer = multi_skill_tracer
    rng = np.random.default_rng(seed)
    log, histories = random_log(tracer, rng)
    log = log.sort_values(["student_id", "timestamp"], kind="stable").reset_index(drop=True)
    offline = tracer.trace_interactions(
        log["student_id"].to_numpy(), log["item_id"].to_numpy(), log["correct"].to_numpy()
    )
    checked = 0
    for student, group in log.groupby("student_id", sort=False):
        history = histories[student]
        for position, row in enumerate(group.index):
            if position % 37 and position != len(history) - 1:
                continue  # a sample of prefixes per student (all would be slow)
            online = tracer.state_after(history[:position], strict=False)
            np.testing.assert_allclose(offline[row], online, rtol=0, atol=1e-12)
            checked += 1
        # The feature-store path: one answer at a time.
        state = tracer.initial_state()
        for item, ok in history:
            tracer.apply_answer(state, item, ok)
        np.testing.assert_allclose(state, tracer.state_after(history, strict=False), atol=1e-12)
    assert checked > 40


def test_a_two_skill_answer_updates_both_skills_once(multi_skill_tracer):
    tracer = multi_skill_tracer
    item = next(i for i, tags in tracer.item_tags.items() if len(tags) == 2)
    (s1, g1, sl1, t1), (s2, g2, sl2, t2) = tracer.item_tags[item]
    s1, s2 = int(s1), int(s2)
    prior = tracer.initial_state()
    after = tracer.state_after([(item, 1)])

    def expected(skill, guess, slip, teach):
        # Independent computation of the stated rule for one tag.
        ready = np.prod([prior[p] for p in tracer.prerequisites[skill]])
        post = prior[skill] * (1 - slip) / (prior[skill] * (1 - slip) + (1 - prior[skill]) * guess)
        rate = teach * (ready + tracer.gate[skill] * (1 - ready))
        return post + (1 - post) * rate

    assert after[s1] == pytest.approx(expected(s1, g1, sl1, t1), abs=1e-12)
    assert after[s2] == pytest.approx(expected(s2, g2, sl2, t2), abs=1e-12)
    untouched = [k for k in range(tracer.n_skills) if k not in (s1, s2)]
    np.testing.assert_array_equal(after[untouched], prior[untouched])
    # A log carries a two-skill answer as two rows sharing interaction_id: one update, not two.
    log = pd.DataFrame(
        {
            "student_id": ["a", "a", "a"],
            "interaction_id": ["x1", "x1", "x2"],
            "item_id": [item, item, item],
            "skill_id": [tracer.skill_ids[s1], tracer.skill_ids[s2], tracer.skill_ids[s1]],
            "correct": [1, 1, 0],
            "timestamp": [1, 1, 2],
        }
    )
    states = tracer.trace_log(log)
    np.testing.assert_allclose(states[2], after, atol=1e-12)
    np.testing.assert_allclose(states[0], states[1])


def test_unknown_items_are_skipped_online_and_offline_or_rejected_when_strict(
    multi_skill_tracer,
):
    tracer = multi_skill_tracer
    history = [("i1", 1), ("nope", 0), ("i2", 0)]
    np.testing.assert_allclose(
        tracer.state_after(history, strict=False), tracer.state_after([("i1", 1), ("i2", 0)])
    )
    with pytest.raises(InputDataError, match="unknown item_id 'nope'"):
        tracer.state_after(history)
    with pytest.raises(InputDataError, match="'correct' must be 0 or 1"):
        tracer.state_after([("i1", 2)])


@pytest.mark.parametrize("seed", range(3))
def test_offline_and_online_choices_have_equal_distributions(multi_skill_tracer, seed):
    tracer = multi_skill_tracer
    items = pd.DataFrame({"item_id": list(tracer.item_skill), "skill_index": 0})
    policy = QuizPolicy(tracer, items, PlanningModel(1.0, 0.95, 0.2), 0.1, 0.05)
    rng = np.random.default_rng(seed)
    _, histories = random_log(tracer, rng, students=12, longest=250)
    students = list(histories)
    # Online: the predictor's path, one history at a time (probabilities of its states).
    online_states = np.array([policy.state(histories[s]) for s in students])
    # Offline: the simulation chooser's incremental batched path.
    chooser = policy.as_chooser()
    from quizops.simulation.base import RolloutContext

    chooser.start(RolloutContext(len(students), policy.item_bank, np.random.default_rng(0)))
    longest = max(len(h) for h in histories.values())
    for t in range(longest):
        ids = [histories[s][t][0] if t < len(histories[s]) else "pad" for s in students]
        ok = np.array([histories[s][t][1] if t < len(histories[s]) else 0 for s in students])
        chooser.observe(ids, ok)  # "pad" is unknown: no update, like the online skip
    np.testing.assert_allclose(chooser._states, online_states, atol=1e-12)
    bank = np.arange(len(items))
    np.testing.assert_allclose(
        policy.probabilities(chooser._states, bank), policy.probabilities(online_states, bank)
    )
    item, propensity = policy.choose(histories[students[0]], None, np.random.default_rng(1))
    row = policy.item_rows([item])[0]
    assert propensity == pytest.approx(policy.probabilities(online_states[:1], bank)[0, row])


def test_the_dict_form_is_a_copy_so_editing_it_leaves_the_tracer_unchanged(multi_skill_tracer):
    before = multi_skill_tracer.state_after([("i0", 1), ("i4", 0)])
    data = multi_skill_tracer.to_dict()
    for tags in data["item_tags"].values():
        for tag in tags:
            tag[3] = 0.9  # every item teaches a lot
    data["gate"][1] = 1.0
    data["prerequisites"][3].clear()
    again = multi_skill_tracer.state_after([("i0", 1), ("i4", 0)])
    np.testing.assert_array_equal(before, again)
    edited = type(multi_skill_tracer).from_dict(data).state_after([("i0", 1), ("i4", 0)])
    assert not np.allclose(edited, before)


def test_the_endgame_plans_the_last_questions_of_a_session_without_focus(multi_skill_tracer):
    """A policy with an endgame of 3 in sessions of 20: the questions at places 17-19 (answers
    in the history) are chosen as by the same policy without its focus term, every other one
    as by the policy without an endgame; online (histories) and offline (the simulation
    chooser, counting its questions) alike."""
    from quizops.simulation.base import RolloutContext

    tracer = multi_skill_tracer
    items = pd.DataFrame({"item_id": list(tracer.item_skill), "skill_index": 0})
    bank = np.arange(len(items))

    def policy(focus, endgame):
        model = PlanningModel(1.0, 0.95, 0.2, focus, endgame=endgame, horizon=20)
        return QuizPolicy(tracer, items, model, 0.1, 0.05)

    served, plain, unfocused = policy(2.0, 3), policy(2.0, 0), policy(0.0, 0)
    rng = np.random.default_rng(7)
    ids = list(tracer.item_skill)
    for length in (0, 5, 16, 17, 18, 19, 20, 21, 60):
        history = [(ids[rng.integers(0, len(ids))], int(rng.integers(0, 2))) for _ in range(length)]
        state = served.state(history)[None, :]
        expected = (unfocused if 17 <= length < 20 else plain).probabilities(state, bank)
        assert not np.allclose(
            unfocused.probabilities(state, bank), plain.probabilities(state, bank)
        )  # the focus term matters in these states: the check can fail
        item, propensity = served.choose(history, None, np.random.default_rng(length))
        assert propensity == pytest.approx(expected[0, served.item_rows([item])[0]], rel=1e-12)
        np.testing.assert_allclose(
            served.probabilities(state, bank, np.array([length])), expected, rtol=1e-12
        )
    # Without places (a caller that cannot know them) there is no endgame.
    np.testing.assert_allclose(
        served.probabilities(state, bank), plain.probabilities(state, bank), rtol=1e-12
    )
    # Offline: the chooser counts the questions it has asked in the cohort's session.
    chooser = served.as_chooser()
    chooser.start(RolloutContext(30, served.item_bank, np.random.default_rng(3)))
    for t in range(20):
        states = chooser._states.copy()
        picked, propensities = chooser.choose()
        reference = unfocused if t >= 17 else plain
        probs = reference.probabilities(states, bank)
        rows = served.item_rows(picked)
        np.testing.assert_allclose(propensities, probs[np.arange(30), rows], rtol=1e-12)
        chooser.observe(picked, rng.integers(0, 2, 30))
