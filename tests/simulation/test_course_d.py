"""The fourth check's course (bench/course_d.py): its dynamics and logs, checked from outside."""

import numpy as np
import pandas as pd

from bench.course_d import (
    PREREQUISITES,
    make_course_d,
    simulate_course_d_logs,
    write_course_d_csv,
)
from quizops.ingest.assistments import to_canonical


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


def test_multi_skill_items_are_answered_conjunctively_and_keep_the_course():
    plain, _ = make_course_d()
    tracer, world = make_course_d(multi_skill=0.5)
    # The second tags are drawn apart: every item keeps its first tag, and roots stay single.
    assert all(tracer.item_tags[i][0] == t[0] for i, t in plain.item_tags.items())
    multi = [i for i, t in tracer.item_tags.items() if len(t) == 2]
    assert 15 <= len(multi) <= 55
    assert all(tracer.item_tags[i][1][0] in PREREQUISITES[tracer.item_tags[i][0][0]] for i in multi)
    item = multi[0]
    (k, g1, s1, _), (p, g2, s2, _) = tracer.item_tags[item]
    row = {name: r for r, name in enumerate(world.item_ids)}
    n = 6000
    for knows_k, knows_p in ((True, True), (True, False), (False, True), (False, False)):
        students = world.new_students(n, np.random.default_rng(0))
        students["known"][:] = False
        students["known"][:, k], students["known"][:, p] = knows_k, knows_p
        correct = world.respond(students, np.full(n, row[item]), np.random.default_rng(1).random(n),
                                np.random.default_rng(2).random((n, world.n_skills)))  # fmt: skip
        # Right at the tags' mean 1 - slip only when both skills are known, else their mean guess.
        expected = 1 - (s1 + s2) / 2 if knows_k and knows_p else (g1 + g2) / 2
        assert abs(correct.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / n)


def test_ragged_logs_cut_the_same_students_answers_and_repeat_multi_skill_rows():
    tracer, world = make_course_d(multi_skill=0.5)
    full = simulate_course_d_logs(world, students=300, steps=40, seed=3)
    ragged = simulate_course_d_logs(world, students=300, steps=40, seed=3, ragged=True)
    lengths = ragged.groupby("student_id")["timestamp"].nunique()
    assert lengths.min() >= 5 and lengths.max() <= 75 and lengths.nunique() > 30
    assert 36 < lengths.mean() < 44
    for log in (full, ragged):
        # One row per tagged skill, sharing student, item and time.
        skills = log.groupby(["student_id", "timestamp"]).agg(
            item=("item_id", "first"), items=("item_id", "nunique"), skills=("skill_id", set)
        )
        assert (skills["items"] == 1).all()
        tagged = {i: {tracer.skill_ids[t[0]] for t in tags} for i, tags in tracer.item_tags.items()}
        assert (skills["skills"] == skills["item"].map(tagged)).all()
    # A student's first answers are the same whatever the number logged.
    answers = ["student_id", "timestamp", "item_id", "skill_id", "correct"]
    cut = full[full["timestamp"] < full["student_id"].map(lengths)]
    both = ragged[ragged["timestamp"] < 40]
    key = ["student_id", "timestamp", "skill_id"]
    pd.testing.assert_frame_equal(
        cut[answers].sort_values(key).reset_index(drop=True),
        both[answers].sort_values(key).reset_index(drop=True),
    )


def test_course_d_csv_reads_back_as_the_simulated_answers(tmp_path):
    _, world = make_course_d(multi_skill=0.5)
    path = write_course_d_csv(world, tmp_path / "logs.csv", students=60, seed=3, ragged=True)
    canonical, _ = to_canonical(pd.read_csv(path, dtype=str), str(path))
    log = simulate_course_d_logs(world, students=60, steps=40, seed=3, ragged=True)
    names = {f"k{k}": str(4101 + k) for k in range(len(PREREQUISITES))}

    def sequences(frame: pd.DataFrame, order: str) -> list[tuple]:
        frame = frame.sort_values([order, "skill_id"], kind="stable")
        return sorted(
            tuple(zip(g["item_id"], g["skill_id"], g["correct"].astype(int), strict=True))
            for _, g in frame.groupby("student_id")
        )

    assert sequences(canonical, "timestamp") == sequences(
        log.assign(skill_id=log["skill_id"].map(names)), "timestamp"
    )


def test_other_worlds_follow_their_description():
    from bench.course_d import WORLDS

    plain, _ = make_course_d()
    n = 6000
    for name in WORLDS:
        tracer, world = make_course_d(world=name)
        spec = WORLDS[name]
        graph = spec.get("prerequisites", PREREQUISITES)
        assert tracer.prerequisites == [list(p) for p in graph]
        per_skill = np.bincount([t[0][0] for t in tracer.item_tags.values()])
        assert per_skill.tolist() == [spec.get("items_per_skill", 10)] * len(graph)
        low, high = spec.get("teach", (0.1, 0.35))
        teach = np.array([t[0][3] for t in tracer.item_tags.values()])
        assert teach[teach > 0].min() >= low and teach[teach > 0].max() <= high
        # New students know a skill at the world's prior (checked on the students drawn).
        students = world.new_students(n, np.random.default_rng(4))
        prior = spec.get("prior", 0.15)
        spread = np.sqrt(prior * (1 - prior) / (len(graph) * n))
        assert abs(students["known"].mean() - prior) < 4 * spread
        # Learning is gated by the world's own graph: each skill with a single prerequisite,
        # taught by its best item with that prerequisite known or not.
        for skill in (k for k, p in enumerate(graph) if len(p) == 1):
            item = max((i for i, t in tracer.item_tags.items() if t[0][0] == skill),
                       key=lambda i: tracer.item_tags[i][0][3])  # fmt: skip
            row = list(world.item_ids).index(item)
            for known in (True, False):
                students = world.new_students(n, np.random.default_rng(5))
                students["known"][:] = False
                students["known"][:, graph[skill][0]] = known
                students["speed"][:] = 1.0
                world.respond(students, np.full(n, row), np.random.default_rng(6).random(n),
                              np.random.default_rng(7).random((n, world.n_skills)))  # fmt: skip
                gate = 1.0 if known else spec.get("gate", 0.05)
                rate = tracer.item_tags[item][0][3] * gate
                learnt = students["known"][:, skill].mean()
                assert abs(learnt - rate) < 4 * np.sqrt(rate * (1 - rate) / n) + 1e-9
    # The default world is the course as first written.
    assert make_course_d(world="default")[0].item_tags == plain.item_tags


def test_a_world_of_twelve_skills_is_written_with_twelve_skill_names(tmp_path):
    from bench.course_d import SKILL_NAMES

    _, world = make_course_d(world="twelve")
    path = write_course_d_csv(world, tmp_path / "logs.csv", students=40, seed=2)
    frame = pd.read_csv(path, dtype=str)
    pairs = frame[["skill_id", "skill_name"]].drop_duplicates().sort_values("skill_id")
    assert pairs["skill_id"].tolist() == [str(4101 + k) for k in range(12)]
    assert pairs["skill_name"].tolist() == SKILL_NAMES[:12]
    # Every item's answers carry its own skill (items of skills 1 and 10 do not collide).
    skill_of = {item: int(t[0][0]) for item, t in world.tracer.item_tags.items()}
    expected = frame["problem_id"].map(skill_of).map(lambda k: str(4101 + k))
    assert (frame["skill_id"] == expected).all()
