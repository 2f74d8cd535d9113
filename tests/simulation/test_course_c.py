"""The third course (bench/course_c.py): its dynamics and its logs, checked from the outside."""

import numpy as np
import pandas as pd
import pytest

from bench.course_c import SKILLS, make_course_c, simulate_course_c_logs
from quizops.simulation import simulate
from quizops.simulation.baselines import OracleChooser


@pytest.fixture(scope="module")
def course():
    return make_course_c()


def _students(course, n, level):
    return {
        "level": np.full((n, course.n_skills), level, dtype=np.int64),
        "speed": np.ones(n),
        "care": np.ones(n),
        "ability": np.zeros(n),
    }


def test_mastery_takes_two_learning_events_and_assess_only_items_teach_nothing(course):
    root = 0  # "Place Value": no prerequisite
    teaching = [i for i, t in enumerate(course.item_skills) if t == (root,) and course.teach[i] > 0]
    assessing = [
        i for i, t in enumerate(course.item_skills) if t == (root,) and course.teach[i] == 0
    ]
    assert teaching and assessing
    n = 5
    students = _students(course, n, 0)
    always = np.zeros((n, course.n_skills))  # learning draws of 0: every positive rate teaches
    course.respond(students, np.full(n, assessing[0]), np.full(n, 0.5), always)
    assert (students["level"][:, root] == 0).all()  # an assessment-only item teaches nothing
    course.respond(students, np.full(n, teaching[0]), np.full(n, 0.5), always)
    assert (students["level"][:, root] == 1).all()  # one event: partial, not mastered
    assert not course.mastered(students)[:, root].any()
    course.respond(students, np.full(n, teaching[0]), np.full(n, 0.5), always)
    assert course.mastered(students)[:, root].all()


def test_a_mastered_skill_not_practised_is_forgotten_only_with_the_draws_upper_tail(course):
    n = 4
    students = _students(course, n, 2)
    item = next(i for i, t in enumerate(course.item_skills) if t == (0,))
    draws = np.full((n, course.n_skills), 0.5)
    draws[:, 3] = 0.9999  # above 1 - FORGET: forgotten unless practised
    course.respond(students, np.full(n, item), np.full(n, 0.5), draws)
    assert (students["level"][:, 3] == 1).all()
    assert (students["level"][:, [1, 2, 4, 5, 6, 7]] == 2).all()
    draws[:, 0] = 0.9999  # the practised skill is not forgotten
    course.respond(students, np.full(n, item), np.full(n, 0.5), draws)
    assert (students["level"][:, 0] == 2).all()


def test_new_students_know_nothing_beyond_partial_before_their_prerequisites(course):
    students = course.new_students(5000, np.random.default_rng(0))
    level = students["level"]
    for k, (_, _, pre) in enumerate(SKILLS):
        for p in pre:
            assert not ((level[:, k] == 2) & (level[:, p] < 2)).any()
    assert 0.2 < (level[:, 0] == 2).mean() < 0.5
    assert students["speed"].std() > 0.3  # students learn at different speeds


def test_logs_have_the_assistments_layout_no_propensity_and_one_row_per_tag(course, tmp_path):
    frame = simulate_course_c_logs(course, 4000, seed=1)
    assert "propensity" not in frame.columns
    assert {"order_id", "user_id", "problem_id", "skill_id", "correct"} <= set(frame.columns)
    tags = {item: len(t) for item, t in zip(course.item_ids, course.item_skills, strict=True)}
    per_answer = frame.groupby("order_id")["skill_id"].count()
    item_of = frame.groupby("order_id")["problem_id"].first()
    assert (per_answer == item_of.map(tags)).all()
    assert (per_answer == 2).any()
    frame.to_csv(tmp_path / "c.csv", index=False)
    again = pd.read_csv(tmp_path / "c.csv")
    assert len(again) == len(frame)


def test_the_oracle_teaches_far_more_than_chance(course):
    from quizops.features import fit_tracer
    from quizops.simulation.baselines import RandomChooser
    from quizops.simulation.export import canonical_from_simulated

    tracer = fit_tracer(canonical_from_simulated(simulate_course_c_logs(course, 6000, seed=2)))
    oracle = simulate(OracleChooser(), course, students=300, steps=20, seed=4)
    chance = simulate(RandomChooser(tracer), course, students=300, steps=20, seed=4)
    assert oracle.final_mastered.mean() > chance.final_mastered.mean() + 2.0
