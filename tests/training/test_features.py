import numpy as np
import pytest

from quizops.errors import InputDataError
from quizops.features import (
    _sequences,
    fit_bkt_skill,
    load_features,
    save_features,
    state_columns,
)


def test_bkt_recovers_known_parameters():
    rng = np.random.default_rng(0)
    n, steps, p_init, p_learn, guess, slip = 3_000, 12, 0.3, 0.1, 0.2, 0.1
    known = rng.random(n) < p_init
    answers = np.empty((n, steps), dtype=np.int8)
    for t in range(steps):
        p = np.where(known, 1 - slip, guess)
        answers[:, t] = rng.random(n) < p
        known |= rng.random(n) < p_learn
    fitted = fit_bkt_skill(answers)
    # EM (not a grid): within a few hundredths on 36,000 answers.
    assert fitted.p_init == pytest.approx(p_init, abs=0.03)
    assert fitted.p_learn == pytest.approx(p_learn, abs=0.02)
    assert fitted.p_guess == pytest.approx(guess, abs=0.03)
    assert fitted.p_slip == pytest.approx(slip, abs=0.03)


def test_sequences_pack_per_student_in_order():
    seqs = _sequences(np.array([1, 0, 1, 1], dtype=np.int8), np.array([1, 0, 1, 1]))
    assert seqs.tolist() == [[0, -1, -1], [1, 1, 1]]


def test_state_after_matches_trace_log(feature_set, canonical_log):
    tracer = feature_set.tracer
    student = canonical_log["student_id"].iloc[0]
    rows = canonical_log[canonical_log["student_id"] == student].sort_values("timestamp")
    history = list(zip(rows["item_id"], rows["correct"], strict=True))
    traced = tracer.trace_log(rows.reset_index(drop=True))
    np.testing.assert_allclose(tracer.state_after(history[:5]), traced[5])
    with pytest.raises(InputDataError, match="unknown item_id 'nope'"):
        tracer.state_after([("nope", 1)])


def test_correct_answers_raise_mastery(feature_set):
    tracer = feature_set.tracer
    item = next(iter(tracer.item_skill))
    skill = tracer.item_skill[item]
    up = tracer.state_after([(item, 1)] * 3)[skill]
    down = tracer.state_after([(item, 0)] * 3)[skill]
    assert up > tracer.initial_state()[skill] > down


def test_examples_and_items(feature_set, tmp_path):
    examples, items = feature_set.examples, feature_set.items
    assert set(state_columns(feature_set.tracer.n_skills)) <= set(examples.columns)
    assert examples["reward"].isin([-1, 0, 1]).all()
    assert {"item_id", "skill_index", "n_skills", "teach"} <= set(items.columns)
    assert "gain" not in items.columns  # the in-sample mean of the target leaked the label
    assert items["item_id"].is_unique
    save_features(feature_set, tmp_path / "f")
    again = load_features(tmp_path / "f")
    assert again.tracer.to_dict() == feature_set.tracer.to_dict()
    assert len(again.examples) == len(examples)
    with pytest.raises(InputDataError, match=r"lacks tracer\.json"):
        load_features(tmp_path)
