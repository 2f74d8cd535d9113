"""The fifth check's world (bench/course_e.py, no quizops code): dynamics, export, evaluator."""

import json

import numpy as np
import pandas as pd
import pytest

from bench.course_e import (
    N_SKILLS,
    PREREQS,
    SKILL_META,
    evaluate,
    export_csv,
    main,
    make_course,
    simulate_logs,
    step,
)
from quizops.ingest import assistments
from quizops.ingest.parsing import read_delimited

#: The ASSISTments 2009-2010 skill-builder layout, written out here rather than taken from the
#: module.
ASSISTMENTS_2009 = [
    "order_id", "assignment_id", "user_id", "assistment_id", "problem_id", "original", "correct",
    "attempt_count", "ms_first_response", "tutor_mode", "answer_type", "sequence_id",
    "student_class_id", "position", "type", "base_sequence_id", "skill_id", "skill_name",
    "teacher_id", "school_id", "hint_count", "hint_total", "overlap_time", "template_id",
    "answer_id", "answer_text", "first_action", "bottom_hint", "opportunity",
    "opportunity_original",
]  # fmt: skip
SEED, LOG_SEED, STUDENTS = 7, 3, 80


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    course = make_course(SEED)
    logs = simulate_logs(course, LOG_SEED, STUDENTS)
    path = tmp_path_factory.mktemp("course_e") / "logs.csv"
    export_csv(course, logs, LOG_SEED, str(path))
    return course, logs, path


def test_export_has_the_assistments_layout_and_reads_into_one_row_per_answer_and_skill(export):
    course, logs, path = export
    file = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(file.columns) == ASSISTMENTS_2009 and len(file.columns) == 30
    assert "propensity" not in file.columns
    assert set(file["original"]) == {"0", "1"}
    n_original, n_scaffolding = (file["original"] == "1").sum(), (file["original"] == "0").sum()
    # From the logs themselves: one original row per tagged skill of every answer.
    assert n_original == sum(len(course.tags[item]) for seq in logs for item, _ in seq)
    answers = sum(len(seq) for seq in logs)
    assert file.loc[file["original"] == "1", "order_id"].nunique() == answers

    canonical, counts = _through_the_reader(path)
    assert counts["rows_read"] == len(file)
    assert counts["scaffolding_rows_dropped"] == n_scaffolding > 0
    assert len(canonical) == n_original
    assert canonical["interaction_id"].is_unique
    assert canonical["student_id"].nunique() == STUDENTS
    assert set(canonical["item_id"]) <= {str(int(p)) for p in course.problem_id}
    assert canonical["propensity"].isna().all()


def _through_the_reader(path):
    """The export as the pipeline's ingest reads it: canonical frame and counts."""
    raw = read_delimited(
        path.read_bytes(),
        str(path),
        assistments.REQUIRED,
        numeric=assistments.NUMERIC,
        optional=assistments.OPTIONAL,
    )
    return assistments.to_canonical(raw, str(path))


def test_skill_names_with_commas_survive_the_csv_round_trip(export):
    _, _, path = export
    table = {str(i): name for i, name in SKILL_META}
    file = pd.read_csv(path, dtype=str, keep_default_na=False)
    names = file.groupby("skill_id")["skill_name"].unique()
    assert {k: list(v) for k, v in names.items()} == {k: [table[k]] for k in names.index}
    with_commas = {name for name in file["skill_name"] if "," in name}
    assert len(with_commas) >= 2  # the round trip is exercised, not vacuous
    assert '"Fracciones, suma y resta"' in path.read_text(encoding="utf-8")

    canonical, _ = _through_the_reader(path)
    pairs = set(zip(canonical["skill_id"], canonical["skill_name"], strict=True))
    assert pairs == {(k, table[k]) for k in names.index}


def test_cli_flags_reach_the_course_and_the_logging_tutor(export, tmp_path):
    out = tmp_path / "flags.csv"
    flags = ["--teach-b", "14", "--off-plan", "0.1", "--out", str(out)]
    main(["export", "--seed", "7", "--log-seed", "3", "--students", "40", *flags])
    course = make_course(7, 14.0)
    direct = tmp_path / "direct.csv"
    export_csv(course, simulate_logs(course, 3, 40, off_plan=0.1), 3, str(direct))
    assert out.read_bytes() == direct.read_bytes()
    default = tmp_path / "default.csv"
    main(["export", "--seed", "7", "--log-seed", "3", "--students", "40", "--out", str(default)])
    assert default.read_bytes() != out.read_bytes()

    # Beta(2, b) rates have mean 2 / (2 + b); assessment-only items are the same items.
    for b in (6.0, 14.0):
        teach = make_course(7, b).teach
        rates = teach[teach > 0]
        se = np.sqrt(2 * b / ((2 + b) ** 2 * (3 + b)) / len(rates))
        assert abs(rates.mean() - 2 / (2 + b)) < 4 * se
    assert np.array_equal(make_course(7, 6.0).teach == 0, make_course(7, 14.0).teach == 0)

    # One rate per skill: each skill's teaching items teach at the mean of the rates drawn
    # for them, the same items as before; the rest of the course is unchanged.
    per_item, per_skill = make_course(7, 6.0), make_course(7, 6.0, "skill")
    for k, items in enumerate(per_item.items_of_skill):
        teaching = items[per_item.teach[items] > 0]
        assert np.allclose(per_skill.teach[teaching], per_item.teach[teaching].mean()), k
        assert np.all(per_skill.teach[items[per_item.teach[items] == 0]] == 0)
    assert np.array_equal(per_item.guess, per_skill.guess) and per_item.tags == per_skill.tags
    skill_out = tmp_path / "skill.csv"
    main(["export", "--seed", "7", "--log-seed", "3", "--students", "40", "--rates", "skill",
          "--teach-b", "6", "--out", str(skill_out)])  # fmt: skip
    export_csv(per_skill, simulate_logs(per_skill, 3, 40), 3, str(direct))
    assert skill_out.read_bytes() == direct.read_bytes()
    with pytest.raises(ValueError, match="rates"):
        make_course(7, 6.0, "items")

    # Without off-plan steps every student starts on a root skill (0 or 1).
    plain = make_course(7)
    roots = {0, 1}
    on_plan = simulate_logs(plain, 5, 300, off_plan=0.0)
    assert {int(plain.skill[seq[0][0]]) for seq in on_plan} <= roots
    off = simulate_logs(plain, 5, 300, off_plan=0.5)
    share = np.mean([int(plain.skill[seq[0][0]]) not in roots for seq in off])
    assert 0.25 < share < 0.5  # about 0.5 * 6 / 8


def test_assessment_items_never_teach_and_prerequisites_gate_learning():
    course = make_course(SEED)
    k = 2  # skill 2 requires skills 0 and 1 (the graph's edges (0, 2) and (1, 2))
    assert sorted(PREREQS[k]) == [0, 1]
    items = course.items_of_skill[k]
    assess = [int(i) for i in items if course.teach[i] == 0.0]
    assert assess, "the course should have an assessment-only item of skill 2"
    teach = int(items[np.argmax(course.teach[items])])
    speed, n = 1.5, 4000
    rng = np.random.default_rng(0)
    for prerequisites_known in ((True, True), (True, False), (False, False)):
        for item in (assess[0], teach):
            learnt = 0
            for _ in range(n):
                known = np.zeros(N_SKILLS, dtype=bool)
                known[[0, 1]] = prerequisites_known
                before = known.copy()
                step(course, known, speed, item, rng.random(), rng.random())
                learnt += int(known[k])
                before[k] = known[k]
                assert np.array_equal(known, before)  # only the item's own skill is learnt
            rate = min(1.0, course.teach[item] * speed) * (1.0 if all(prerequisites_known) else 0.1)
            if item in assess:
                assert learnt == 0
            else:
                assert 0.0 < rate < 1.0
                assert abs(learnt / n - rate) < 4 * np.sqrt(rate * (1 - rate) / n)


def test_multi_skill_items_are_answered_conjunctively():
    course = make_course(SEED)
    item = next(i for i, t in enumerate(course.tags) if len(t) == 2)
    own, other = course.tags[item]
    n = 4000
    rng = np.random.default_rng(1)
    for other_known, p in ((True, 1 - course.slip[item]), (False, course.guess[item])):
        right = 0
        for _ in range(n):
            known = np.zeros(N_SKILLS, dtype=bool)
            known[own], known[other] = True, other_known
            right += step(course, known, 1.0, item, rng.random(), rng.random())
        assert abs(right / n - p) < 4 * np.sqrt(p * (1 - p) / n)


def test_oracle_beats_mastery_rule_beats_random(tmp_path):
    res = evaluate(SEED, 1001, 200, 20)
    means = {name: r["mastered_mean"] for name, r in res["choosers"].items()}
    assert set(means) == {"random", "curriculum", "mastery", "oracle"}
    assert means["oracle"] > means["mastery"] > means["random"]
    # Paired with the random chooser on common random numbers: both clearly better.
    assert res["choosers"]["mastery"]["diff_vs_random_ci95"][0] > 0
    assert res["choosers"]["oracle"]["diff_vs_random_ci95"][0] > 0
    o, r, m = means["oracle"], means["random"], means["mastery"]
    assert res["choosers"]["mastery"]["normalized_regret"] == pytest.approx((o - m) / (o - r))

    # The evaluate subcommand defines the course with --teach-b too.
    out = tmp_path / "eval.json"
    main(["evaluate", "--students", "60", "--steps", "8", "--teach-b", "14", "--json", str(out)])
    written = json.loads(out.read_text(encoding="utf-8"))
    slow, fast = evaluate(7, 1001, 60, 8, teach_b=14.0), evaluate(7, 1001, 60, 8)
    assert [c["mastered_mean"] for c in written["choosers"].values()] == [
        c["mastered_mean"] for c in slow["choosers"].values()
    ]
    assert (
        slow["choosers"]["oracle"]["mastered_mean"] != fast["choosers"]["oracle"]["mastered_mean"]
    )
