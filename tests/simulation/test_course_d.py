"""The fourth check's course (bench/course_d.py): its dynamics and logs, checked from outside."""

import numpy as np

from bench.course_d import PREREQUISITES, make_course_d, simulate_course_d_logs


def test_assessment_items_never_teach_and_prerequisites_gate_learning():
    tracer, world = make_course_d()
    tags = tracer.item_tags
    assess = next(i for i, t in tags.items() if t[0][0] == 1 and t[0][3] == 0.0)
    teach = max((i for i, t in tags.items() if t[0][0] == 1), key=lambda i: tags[i][0][3])
    row = {item: r for r, item in enumerate(world.item_ids)}
    n = 4000
    for item, prior_known in ((assess, True), (teach, True), (teach, False)):
        students = world.new_students(n, np.random.default_rng(0))
        students["known"][:] = False
        students["known"][:, 0] = prior_known  # skill 1 requires skill 0
        students["speed"][:] = 1.0
        world.respond(students, np.full(n, row[item]), np.random.default_rng(1).random(n),
                      np.random.default_rng(2).random((n, world.n_skills)))  # fmt: skip
        learnt = students["known"][:, 1].mean()
        # The item's rate when skill 0 is known, a twentieth of it when not; 0 when it assesses.
        rate = tags[item][0][3] * (1.0 if prior_known else 0.05)
        if rate == 0.0:
            assert learnt == 0.0
        assert abs(learnt - rate) < 4 * np.sqrt(rate * (1 - rate) / n) + 1e-9


def test_logs_are_random_items_without_propensities():
    _, world = make_course_d()
    log = simulate_course_d_logs(world, students=50, steps=10, seed=3)
    assert list(log.columns) == ["student_id", "item_id", "skill_id", "correct", "timestamp"]
    assert len(log) == 500 and log["student_id"].nunique() == 50
    assert set(log["skill_id"]) <= {f"k{k}" for k in range(len(PREREQUISITES))}
    assert log.groupby("student_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()


def test_skill_builder_logs_follow_the_course_order():
    _, world = make_course_d()
    log = simulate_course_d_logs(world, students=400, steps=40, seed=3, tutor="skill-builder")
    first = log[log["timestamp"] == 0]
    # Four fifths on plan (the first skill), a fifth at random over the 8 skills.
    assert 0.75 < (first["skill_id"] == "k0").mean() < 0.9
    mean_time = log.groupby("skill_id")["timestamp"].mean()
    assert mean_time["k0"] < mean_time["k1"] < mean_time["k3"]
