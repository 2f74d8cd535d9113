"""A skill whose answers cannot be traced (a mis-tagged or tiny skill of a real export) is left
out of the tracer and of every later stage's data, with a warning, instead of stopping the run."""

import logging

import numpy as np
import pandas as pd
import pytest

from bench.course_d import make_course_d, simulate_course_d_logs
from quizops.errors import ModelFitError
from quizops.features import engineer_features, fit_tracer
from quizops.features.fit import MAX_UNTRACEABLE_SHARE


@pytest.fixture(scope="module")
def course_log():
    _, world = make_course_d()
    return simulate_course_d_logs(world, students=500, steps=24, seed=5)


def _coin_flip_skill(log, students, per_student=40, seed=0, skill="k-noise", items=3):
    """Rows of a skill whose answers are coin flips: knowing it changes nothing.

    Each of the first ``students`` students answers ``per_student`` of its questions, spread
    between the log's own (integer) timestamps.
    """
    rng = np.random.default_rng(seed)
    who = np.repeat(np.sort(log["student_id"].unique())[:students], per_student)
    steps = log["timestamp"].max() + 1
    return pd.DataFrame(
        {
            "student_id": who,
            "item_id": [f"noise-{int(k)}" for k in rng.integers(0, items, len(who))],
            "skill_id": skill,
            "correct": (rng.random(len(who)) < 0.5).astype(int),
            "timestamp": np.tile(0.5 + np.arange(per_student) * steps / per_student, students),
        }
    )


def test_an_untraceable_skill_is_left_out_and_the_rest_fits_as_without_it(course_log, caplog):
    noise = _coin_flip_skill(course_log, 40)
    with pytest.raises(ModelFitError, match="'k-noise': not identifiable"):
        fit_tracer(pd.concat([course_log, noise], ignore_index=True), learn_prerequisites=False)

    with caplog.at_level(logging.WARNING, logger="quizops.features.fit"):
        features = engineer_features(pd.concat([course_log, noise], ignore_index=True))
    assert "k-noise" not in features.tracer.skill_ids
    assert [r for r in caplog.records if "1 skill(s) left out" in r.getMessage()]
    # Its rows and items are gone from everything later stages read.
    assert "k-noise" not in set(features.interactions["skill_id"])
    assert not features.items["item_id"].str.startswith("noise-").any()
    assert not features.examples["item_id"].str.startswith("noise-").any()
    # Independent computation: the same features from the log that never had the skill.
    clean = engineer_features(course_log)
    # ...which records the items it was fitted without, and nothing else differs.
    assert features.tracer.left_out_items == ["noise-0", "noise-1", "noise-2"]
    assert clean.tracer.left_out_items == [] and "left_out_items" not in clean.tracer.to_dict()
    saved = features.tracer.to_dict()
    assert saved.pop("left_out_items") == ["noise-0", "noise-1", "noise-2"]
    assert saved == clean.tracer.to_dict()
    assert type(features.tracer).from_dict(features.tracer.to_dict()) == features.tracer
    pd.testing.assert_frame_equal(features.items, clean.items)
    assert len(features.examples) == len(clean.examples)


def test_a_multi_skill_item_keeps_the_skill_that_can_be_traced(course_log):
    noise = _coin_flip_skill(course_log, 40)
    # Every answer to item noise-0 is also tagged with skill k0 (a two-skill item).
    both = noise.loc[noise["item_id"] == "noise-0"].assign(skill_id="k0")
    tracer = engineer_features(pd.concat([course_log, noise, both], ignore_index=True)).tracer
    assert "k-noise" not in tracer.skill_ids
    assert [tag[0] for tag in tracer.item_tags["noise-0"]] == [tracer.skill_ids.index("k0")]
    assert "noise-1" not in tracer.item_tags  # an item of the left-out skill alone
    assert tracer.left_out_items == ["noise-1", "noise-2"]


def test_too_large_a_share_of_untraceable_rows_stops_the_fit(course_log):
    share = MAX_UNTRACEABLE_SHARE + 0.05
    students = int(len(course_log) * share / (1 - share) / 40) + 1
    noise = _coin_flip_skill(course_log, students, items=1)
    with pytest.raises(ModelFitError, match="1 of 9 skills cannot be traced") as info:
        engineer_features(pd.concat([course_log, noise], ignore_index=True))
    assert "'k-noise'" in str(info.value)


def test_the_simulators_last_split_leaves_such_a_skill_out_of_every_family(course_log):
    # The split that the feature stage's skill passed but the simulators' training part does
    # not: on the last split tried the skill is left out of the fit and of the validation.
    from quizops.simulation.fitted import _fit_on_split

    noise = _coin_flip_skill(course_log, 40)
    log = pd.concat([course_log, noise], ignore_index=True)
    with pytest.raises(ModelFitError, match="'k-noise'"):
        _fit_on_split(log, 3)
    worlds = _fit_on_split(log, 3, untraceable="drop")
    # Independent computation: the log that never had the skill (the same students, so the
    # same split), fitted the usual way.
    clean = _fit_on_split(course_log, 3)
    assert set(worlds) == set(clean) == {"bkt", "ibkt", "pfa"}
    for name in worlds:
        assert worlds[name].validation == pytest.approx(clean[name].validation, rel=1e-12)
    assert "k-noise" not in worlds["bkt"].tracer.skill_ids
    assert not any(i.startswith("noise-") for i in worlds["bkt"].item_ids)


def test_off_policy_evaluation_leaves_out_a_skill_its_training_students_cannot_trace(course_log):
    """The evaluation's reward tracer (training students only) leaves such a skill out as the
    feature stage does: its decisions get no reward, every other decision the same reward as in
    the log without it (before, the whole off-policy evaluation was refused)."""
    from quizops.evaluation.decisions import build_decision_log, held_out_students

    noise = _coin_flip_skill(course_log, 40, seed=2)
    table = pd.concat([course_log, noise], ignore_index=True)
    split = {"holdout_fraction": 0.2, "split_seed": 0}
    training = table.loc[~held_out_students(table["student_id"].to_numpy(), 0.2, 0)]
    with pytest.raises(ModelFitError, match="'k-noise': not identifiable"):
        fit_tracer(training)  # what refused the whole evaluation before
    log = build_decision_log(table, **split)
    clean = build_decision_log(course_log, **split)
    assert "k-noise" not in log.training_tracer.skill_ids
    assert log.training_tracer.skill_ids == clean.training_tracer.skill_ids
    frame = log.frame
    is_noise = frame["item_id"].str.startswith("noise-").to_numpy()
    assert is_noise.sum() == len(noise) and np.isnan(frame["reward"].to_numpy()[is_noise]).all()
    kept = frame.loc[~is_noise].set_index(["student_id", "item_id", "timestamp"])["reward"]
    expected = clean.frame.set_index(["student_id", "item_id", "timestamp"])["reward"]
    np.testing.assert_allclose(kept.loc[expected.index].to_numpy(), expected.to_numpy())
    assert np.isfinite(expected.to_numpy()).mean() > 0.5
