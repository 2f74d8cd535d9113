"""A fifth generality check: a world written without any quizops code.

This module was written independently of quizops and deliberately imports nothing from it
(numpy and pandas only; the standard library's urllib for ``evaluate --url``): the pipeline is
judged on logs it did not generate, by an evaluator that shares none of its code. Keep it that
way.

The world: 8 skills with a prerequisite graph, 12 items per skill of which a quarter only assess
and the rest teach at Beta(2, ``--teach-b``) rates (a tenth of that while a prerequisite is
unknown), ~15% of items tagged with a second skill (a prerequisite, answered conjunctively), and
students who learn at lognormal speeds. The logs come from a classroom skill builder (along a
random topological order, moving on after 3 correct in a row or 8 answers) that goes off plan to
a random item with probability ``--off-plan``; they are written in the ASSISTments 2009
skill-builder layout (30 columns, scaffolding rows, one row per tagged skill, skill names with
commas and accents, no propensity column).

The whole check, from the repository root (``--seed`` and ``--teach-b`` define the course and
must be the same for ``export`` and ``evaluate``)::

    python -m bench.course_e export --seed 7 --log-seed 1 --students 1250 --out /tmp/course_e.csv
    make run DATA=/tmp/course_e.csv FORMAT=assistments
    make serve PORT=8080   # in another terminal, on the same home
    python -m bench.course_e evaluate --seed 7 --students 600 --steps 20 \\
        --url http://127.0.0.1:8080 [--json out.json]

Without ``--url`` the evaluator runs only its own choosers (random, curriculum, mastery rule,
oracle), on common random numbers.

Seeds
-----
--seed       course structure (items, parameters, ids, skill names)
--log-seed   logged students and all logging-tutor / exporter randomness
--eval-seed  evaluation students (drawn from a different seed stream than the log,
             so even an equal integer gives different students)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- world

N_SKILLS = 8
EDGES = [(0, 2), (1, 2), (2, 3), (0, 4), (3, 5), (4, 5), (5, 6), (2, 7)]
ITEMS_PER_SKILL = 12
P_ASSESSMENT_ONLY = 0.25
P_MULTI_SKILL = 0.15
PRIOR_ROOT, PRIOR_OTHER = 0.15, 0.05
UNMET_PREREQ_FACTOR = 0.1
#: Defaults of the two knobs: teaching rates are Beta(2, TEACH_B); the logging tutor goes off
#: plan (a uniformly random item) with probability OFF_PLAN.
TEACH_B = 6.0
OFF_PLAN = 0.2

# (skill_id, skill_name) in skill order 0..7; ids look like ASSISTments ids, names with
# accents and commas to exercise CSV quoting and UTF-8 handling.
SKILL_META = [
    (277, "Fracciones, suma y resta"),
    (311, "Nombres entiers, addition et soustraction"),
    (280, "Ecuaciones lineales de un paso"),
    (47, "Équations à deux étapes"),
    (61, "Proporciones, razones y porcentajes"),
    (79, "Aire et périmètre, polygones réguliers"),
    (13, "Gráficas de funciones y pendiente"),
    (366, "Probabilités élémentaires"),
]

# Seed-stream tags so that course / log / eval streams never coincide.
_TAG_COURSE, _TAG_LOG, _TAG_EVAL = 11, 22, 33


def _rng(seed: int, tag: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), tag]))


PREREQS = [[a for a, b in EDGES if b == k] for k in range(N_SKILLS)]
CHILDREN = [[b for a, b in EDGES if a == k] for k in range(N_SKILLS)]


def _descendants(k: int) -> set[int]:
    out: set[int] = set()
    stack = list(CHILDREN[k])
    while stack:
        c = stack.pop()
        if c not in out:
            out.add(c)
            stack.extend(CHILDREN[c])
    return out


N_DESCENDANTS = np.array([len(_descendants(k)) for k in range(N_SKILLS)])
FIXED_TOPO_ORDER = [0, 1, 2, 3, 4, 5, 6, 7]  # valid for EDGES


def random_topo_order(rng: np.random.Generator) -> list[int]:
    """Kahn's algorithm, picking uniformly among the available skills."""
    indeg = [len(PREREQS[k]) for k in range(N_SKILLS)]
    avail = [k for k in range(N_SKILLS) if indeg[k] == 0]
    order = []
    while avail:
        k = avail.pop(int(rng.integers(len(avail))))
        order.append(k)
        for c in CHILDREN[k]:
            indeg[c] -= 1
            if indeg[c] == 0:
                avail.append(c)
    return order


@dataclass
class Course:
    skill: np.ndarray  # own skill per item
    tags: list[tuple[int, ...]]  # tagged skills per item (own first)
    teach: np.ndarray  # 0 for assessment-only items
    guess: np.ndarray
    slip: np.ndarray
    problem_id: np.ndarray  # unique 5-6 digit ints
    assistment_id: np.ndarray
    answer_type: list[str]
    items_of_skill: list[np.ndarray]  # skill -> array of item indices

    @property
    def n_items(self) -> int:
        return len(self.skill)


def make_course(seed: int, teach_b: float = TEACH_B, rates: str = "item") -> Course:
    """The course of a seed. ``rates="skill"``: every teaching item of a skill teaches at
    the mean of that skill's drawn rates (items alike within a skill, so the choice of skill
    and of when to move on is what counts; assessment-only items stay at 0)."""
    if rates not in ("item", "skill"):
        raise ValueError(f"rates must be 'item' or 'skill', not {rates!r}")
    rng = _rng(seed, _TAG_COURSE)
    n = N_SKILLS * ITEMS_PER_SKILL
    skill = np.repeat(np.arange(N_SKILLS), ITEMS_PER_SKILL)
    assess_only = rng.random(n) < P_ASSESSMENT_ONLY
    teach = np.where(assess_only, 0.0, rng.beta(2, float(teach_b), n))
    guess = rng.uniform(0.1, 0.3, n)
    slip = rng.uniform(0.05, 0.15, n)
    # ~15% of all items get a second tag: one prerequisite of their own skill
    # (only non-root items can have one).
    eligible = np.flatnonzero([len(PREREQS[s]) > 0 for s in skill])
    n_multi = round(P_MULTI_SKILL * n)
    multi = set(rng.choice(eligible, size=n_multi, replace=False).tolist())
    tags: list[tuple[int, ...]] = []
    for i in range(n):
        s = int(skill[i])
        if i in multi:
            tags.append((s, int(rng.choice(PREREQS[s]))))
        else:
            tags.append((s,))
    ids = rng.choice(np.arange(10_000, 1_000_000), size=2 * n, replace=False)
    problem_id, assistment_id = ids[:n], ids[n:]
    answer_type = [
        str(x) for x in rng.choice(["algebra", "choose_1", "fill_in_1"], n, p=[0.5, 0.35, 0.15])
    ]
    items_of_skill = [np.flatnonzero(skill == k) for k in range(N_SKILLS)]
    if rates == "skill":
        for k in range(N_SKILLS):
            teaching = items_of_skill[k][teach[items_of_skill[k]] > 0]
            teach[teaching] = teach[teaching].mean()
    return Course(
        skill, tags, teach, guess, slip, problem_id, assistment_id, answer_type, items_of_skill
    )


@dataclass
class Students:
    known0: np.ndarray  # (N, K) bool, initial knowledge
    speed: np.ndarray  # (N,)


def draw_students(rng: np.random.Generator, n: int) -> Students:
    prior = np.array([PRIOR_ROOT if not PREREQS[k] else PRIOR_OTHER for k in range(N_SKILLS)])
    known0 = rng.random((n, N_SKILLS)) < prior
    speed = np.clip(rng.lognormal(0.0, 0.5, n), 0.2, 5.0)
    return Students(known0, speed)


def step(
    course: Course, known: np.ndarray, speed: float, item: int, u_ans: float, u_learn: float
) -> int:
    """Answer item (drawn with u_ans), then maybe learn its own skill (u_learn). Mutates known."""
    i = item
    all_known = all(known[s] for s in course.tags[i])
    p_correct = 1.0 - course.slip[i] if all_known else course.guess[i]
    correct = int(u_ans < p_correct)
    k = int(course.skill[i])
    if not known[k]:
        p_learn = min(1.0, course.teach[i] * speed)
        if not all(known[p] for p in PREREQS[k]):
            p_learn *= UNMET_PREREQ_FACTOR
        if u_learn < p_learn:
            known[k] = True
    return correct


# --------------------------------------------------------------------------- logging tutor

Log = list[list[tuple[int, int]]]


def simulate_logs(
    course: Course,
    log_seed: int,
    n_students: int,
    off_plan: float = OFF_PLAN,
    streak: int = 3,
    max_per_skill: int = 8,
) -> Log:
    """'Classroom skill builder'. Returns one list of answered items per student.

    Each list is ``[(item, correct), ...]``. Off-plan steps (probability ``off_plan``) do not
    advance the plan's counters. If a student finishes every skill before their quota, a new
    random topological order starts (review).
    """
    rng = _rng(log_seed, _TAG_LOG)
    st = draw_students(rng, n_students)
    lengths = rng.integers(15, 66, n_students)  # uniform 15..65 inclusive
    logs = []
    for s in range(n_students):
        known = st.known0[s].copy()
        order, pos, run, count = random_topo_order(rng), 0, 0, 0
        seq = []
        for _ in range(int(lengths[s])):
            if rng.random() < off_plan:
                item = int(rng.integers(course.n_items))
                seq.append(
                    (item, step(course, known, st.speed[s], item, rng.random(), rng.random()))
                )
                continue
            k = order[pos]
            item = int(rng.choice(course.items_of_skill[k]))
            c = step(course, known, st.speed[s], item, rng.random(), rng.random())
            seq.append((item, c))
            run = run + 1 if c else 0
            count += 1
            if run >= streak or count >= max_per_skill:
                pos, run, count = pos + 1, 0, 0
                if pos == N_SKILLS:
                    order, pos = random_topo_order(rng), 0
        logs.append(seq)
    return logs


# --------------------------------------------------------------------------- exporter

COLUMNS = (
    "order_id,assignment_id,user_id,assistment_id,problem_id,original,correct,attempt_count,"
    "ms_first_response,tutor_mode,answer_type,sequence_id,student_class_id,position,type,"
    "base_sequence_id,skill_id,skill_name,teacher_id,school_id,hint_count,hint_total,"
    "overlap_time,template_id,answer_id,answer_text,first_action,bottom_hint,opportunity,"
    "opportunity_original"
).split(",")

P_SCAFFOLD = 0.05


def export_csv(course: Course, logs: Log, log_seed: int, out: str) -> pd.DataFrame:
    rng = _rng(log_seed, _TAG_LOG + 1)
    n_students = len(logs)
    user_ids = rng.choice(np.arange(10_000, 1_000_000), size=n_students, replace=False)
    n_classes = max(1, n_students // 30)
    cls_ids = rng.choice(np.arange(10_000, 99_999), size=n_classes, replace=False)
    teacher_of_class = rng.choice(np.arange(20_000, 80_000), size=n_classes, replace=False)
    school_of_class = rng.choice(np.arange(1, 400), size=n_classes)
    student_class = rng.integers(n_classes, size=n_students)
    sequence_id = rng.choice(np.arange(5_000, 13_000), size=N_SKILLS, replace=False)
    # scaffolding problem ids, distinct from the bank's problem/assistment ids
    taken = set(course.problem_id.tolist()) | set(course.assistment_id.tolist())
    scaffold_pool = np.array(
        [
            x
            for x in rng.choice(np.arange(10_000, 1_000_000), 4_000, replace=False)
            if x not in taken
        ]
    )

    # --- events with timestamps (seconds); interleave students over ~6 weeks
    events = []  # (time, student, item, correct, original)
    for s, seq in enumerate(logs):
        t = rng.uniform(0, 42 * 86400)
        for item, c in seq:
            t += rng.exponential(90.0) + 5.0
            if rng.random() < 0.03:  # session break
                t += rng.uniform(3600, 4 * 86400)
            events.append((t, s, item, c, 1))
            if rng.random() < P_SCAFFOLD:
                t += rng.exponential(30.0) + 2.0
                events.append((t, s, item, int(rng.random() < 0.5), 0))
    events.sort(key=lambda e: e[0])
    order_ids = 20_000_000 + np.cumsum(rng.integers(1, 40, len(events)))

    rows = []
    opp: dict[tuple[int, int], int] = {}  # (student, skill) -> count over all rows
    opp_orig: dict[tuple[int, int], int] = {}  # (student, skill) -> count over original rows
    scaffold_i = 0
    for (_t, s, item, c, original), oid in zip(events, order_ids, strict=True):
        if original:
            pid, skills = int(course.problem_id[item]), course.tags[item]
        else:
            pid = int(scaffold_pool[scaffold_i % len(scaffold_pool)])
            skills = (int(course.skill[item]),)
            scaffold_i += 1
        ms = int(max(200, rng.lognormal(math.log(18_000), 0.9)))
        hint_total = int(rng.integers(2, 5))
        hint_count = 0 if c else int(rng.integers(0, 3))
        attempts = 1 if (c and rng.random() < 0.9) else int(rng.integers(1, 4))
        atype = course.answer_type[item]
        cls = student_class[s]
        own = int(course.skill[item])
        common = dict(
            order_id=int(oid),
            assignment_id=int(200_000 + cls * 20 + own),
            user_id=int(user_ids[s]),
            assistment_id=int(course.assistment_id[item]),
            problem_id=pid,
            original=original,
            correct=int(c),
            attempt_count=attempts,
            ms_first_response=ms,
            tutor_mode="tutor",
            answer_type=atype,
            sequence_id=int(sequence_id[own]),
            student_class_id=int(cls_ids[cls]),
            position=int(1 + own + (cls % 5)),
            type="MasteryAssignment",
            base_sequence_id=int(sequence_id[own]),
            teacher_id=int(teacher_of_class[cls]),
            school_id=int(school_of_class[cls]),
            hint_count=hint_count,
            hint_total=hint_total,
            overlap_time=int(ms + rng.integers(0, 30_000)),
            template_id=int(course.assistment_id[item]) + 7,
            answer_id=(int(rng.integers(100_000, 999_999)) if atype == "choose_1" else ""),
            answer_text="",
            first_action=(1 if hint_count > 0 and rng.random() < 0.5 else 0),
            bottom_hint=((1 if hint_count == hint_total else 0) if hint_count > 0 else ""),
        )
        for k in skills:  # one row per tagged skill, same order_id
            key = (s, k)
            opp[key] = opp.get(key, 0) + 1
            if original:
                opp_orig[key] = opp_orig.get(key, 0) + 1
            row = dict(common)
            row["skill_id"], row["skill_name"] = SKILL_META[k]
            row["opportunity"] = opp[key]
            row["opportunity_original"] = opp_orig[key] if original else ""
            rows.append(row)

    df = pd.DataFrame(rows, columns=COLUMNS)
    df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    df.to_csv(out, index=False, encoding="utf-8", quoting=csv.QUOTE_MINIMAL)
    return df


# --------------------------------------------------------------------------- choosers


class Chooser:
    name = "?"

    def reset(self, n: int) -> None:  # new cohort of n students
        pass

    def choose(self, t: int, state: dict) -> np.ndarray:  # -> item index per student
        raise NotImplementedError

    def observe(self, t: int, items: np.ndarray, correct: np.ndarray) -> None:
        pass


class RandomChooser(Chooser):
    name = "random"

    def __init__(self, course: Course, rng: np.random.Generator):
        self.course, self.rng = course, rng

    def choose(self, t: int, state: dict) -> np.ndarray:
        return self.rng.integers(self.course.n_items, size=state["n"])


class CurriculumChooser(Chooser):
    name = "curriculum"

    def __init__(self, course: Course, rng: np.random.Generator, per_skill: int = 4):
        self.course, self.rng, self.per_skill = course, rng, per_skill

    def choose(self, t: int, state: dict) -> np.ndarray:
        k = FIXED_TOPO_ORDER[min(t // self.per_skill, N_SKILLS - 1)]
        return self.rng.choice(self.course.items_of_skill[k], size=state["n"])


class MasteryChooser(Chooser):
    """Cognitive-Tutor mastery rule on per-skill BKT with average parameters."""

    name = "mastery"

    def __init__(
        self,
        course: Course,
        rng: np.random.Generator,
        prior: float = 0.1,
        learn: float = 0.15,
        guess: float = 0.2,
        slip: float = 0.1,
        threshold: float = 0.95,
    ):
        self.course, self.rng = course, rng
        self.p0, self.learn, self.g, self.s, self.th = prior, learn, guess, slip, threshold

    def reset(self, n: int) -> None:
        self.belief = np.full((n, N_SKILLS), self.p0)

    def choose(self, t: int, state: dict) -> np.ndarray:
        out = np.empty(state["n"], dtype=int)
        for j in range(state["n"]):
            todo = [k for k in FIXED_TOPO_ORDER if self.belief[j, k] < self.th]
            k = todo[0] if todo else int(np.argmin(self.belief[j]))
            out[j] = self.rng.choice(self.course.items_of_skill[k])
        return out

    def observe(self, t: int, items: np.ndarray, correct: np.ndarray) -> None:
        g, s, learn = self.g, self.s, self.learn
        for j, (i, c) in enumerate(zip(items, correct, strict=True)):
            for k in self.course.tags[i]:  # independent BKT update for each tagged skill
                p = self.belief[j, k]
                if c:
                    post = p * (1 - s) / (p * (1 - s) + (1 - p) * g)
                else:
                    post = p * s / (p * s + (1 - p) * (1 - g))
                self.belief[j, k] = post + (1 - post) * learn


class OracleChooser(Chooser):
    name = "oracle"

    def __init__(self, course: Course, rng: np.random.Generator, tol: float = 0.02):
        self.course, self.rng, self.tol = course, rng, tol

    def choose(self, t: int, state: dict) -> np.ndarray:
        known = state["known"]
        c = self.course
        out = np.empty(state["n"], dtype=int)
        for j in range(state["n"]):
            frontier = [
                k
                for k in range(N_SKILLS)
                if not known[j, k] and all(known[j, p] for p in PREREQS[k])
            ]
            if not frontier:
                out[j] = self.rng.integers(c.n_items)
                continue
            cand = np.concatenate([c.items_of_skill[k] for k in frontier])
            best = c.teach[cand].max()
            near = cand[c.teach[cand] >= best - self.tol]
            # prefer skills that more skills depend on (transitively), then ties at random
            nd = N_DESCENDANTS[c.skill[near]]
            near = near[nd == nd.max()]
            top = near[c.teach[near] == c.teach[near].max()]
            out[j] = self.rng.choice(top)
        return out


class ServedChooser(Chooser):
    """Policy served by the quizops predictor (KServe v1 protocol)."""

    name = "served"

    def __init__(
        self,
        course: Course,
        rng: np.random.Generator,
        url: str,
        batch: int = 200,
        timeout: float = 120.0,
    ):
        self.course, self.rng = course, rng
        self.url = url.rstrip("/") + "/v1/models/quiz-policy:predict"
        self.batch, self.timeout = batch, timeout
        self.index = {str(int(p)): i for i, p in enumerate(course.problem_id)}
        self.invalid = 0
        self.versions: set[str] = set()
        self.propensities: list[float] = []

    def reset(self, n: int) -> None:
        self.hist: list[list[dict[str, Any]]] = [[] for _ in range(n)]

    def _post(self, body: dict) -> dict:
        """One v1 request (urllib raises on an error status)."""
        req = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def choose(self, t: int, state: dict) -> np.ndarray:
        n = state["n"]
        out = np.empty(n, dtype=int)
        for a in range(0, n, self.batch):
            idx = range(a, min(n, a + self.batch))
            body = {"instances": [{"student_id": f"h-{j}", "history": self.hist[j]} for j in idx]}
            preds = self._post(body)["predictions"]
            if len(preds) != len(idx):
                raise RuntimeError(f"expected {len(idx)} predictions, got {len(preds)}")
            for j, p in zip(idx, preds, strict=True):
                i = self.index.get(str(p.get("item_id")))
                if i is None:
                    self.invalid += 1
                    i = int(self.rng.integers(self.course.n_items))
                out[j] = i
                self.versions.add(str(p.get("policy_version")))
                if p.get("propensity") is not None:
                    self.propensities.append(float(p["propensity"]))
        return out

    def observe(self, t: int, items: np.ndarray, correct: np.ndarray) -> None:
        for j, (i, c) in enumerate(zip(items, correct, strict=True)):
            self.hist[j].append({"item_id": str(int(self.course.problem_id[i])), "correct": int(c)})


# --------------------------------------------------------------------------- evaluator


def run_chooser(
    course: Course,
    students: Students,
    u_ans: np.ndarray,
    u_learn: np.ndarray,
    chooser: Chooser,
    steps: int,
) -> np.ndarray:
    n = len(students.speed)
    known = students.known0.copy()
    chooser.reset(n)
    for t in range(steps):
        items = np.asarray(chooser.choose(t, {"n": n, "known": known}), dtype=int)
        correct = np.array(
            [
                step(course, known[j], students.speed[j], int(items[j]), u_ans[j, t], u_learn[j, t])
                for j in range(n)
            ]
        )
        chooser.observe(t, items, correct)
    return known.sum(axis=1)


def _ci(x: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    x = np.asarray(x, dtype=float)
    m = x.mean()
    h = 1.96 * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else float("nan")
    return m, m - h, m + h


def evaluate(
    seed: int,
    eval_seed: int,
    n_students: int,
    steps: int,
    url: str | None = None,
    teach_b: float = TEACH_B,
    rates: str = "item",
) -> dict[str, Any]:
    course = make_course(seed, teach_b, rates)
    rng = _rng(eval_seed, _TAG_EVAL)
    students = draw_students(rng, n_students)
    u_ans = rng.random((n_students, steps))  # common random numbers, shared by all choosers
    u_learn = rng.random((n_students, steps))
    choosers: list[Chooser] = [
        RandomChooser(course, _rng(eval_seed, 101)),
        CurriculumChooser(course, _rng(eval_seed, 102)),
        MasteryChooser(course, _rng(eval_seed, 103)),
        OracleChooser(course, _rng(eval_seed, 104)),
    ]
    if url:
        choosers.append(ServedChooser(course, _rng(eval_seed, 105), url))
    mastered = {
        ch.name: run_chooser(course, students, u_ans, u_learn, ch, steps) for ch in choosers
    }
    o, r = mastered["oracle"].mean(), mastered["random"].mean()
    res: dict[str, Any] = {
        "seed": seed,
        "eval_seed": eval_seed,
        "teach_b": teach_b,
        "students": n_students,
        "steps": steps,
        "initial_known_mean": float(students.known0.sum(axis=1).mean()),
        "choosers": {},
    }
    for name, x in mastered.items():
        m, lo, hi = _ci(x)
        d_m, d_lo, d_hi = _ci(x - mastered["random"])  # paired (CRN) difference vs random
        res["choosers"][name] = {
            "mastered_mean": m,
            "ci95": [lo, hi],
            "diff_vs_random": d_m,
            "diff_vs_random_ci95": [d_lo, d_hi],
            "normalized_regret": (o - m) / (o - r) if o != r else float("nan"),
        }
    for ch in choosers:
        if isinstance(ch, ServedChooser):
            res["choosers"]["served"].update(
                invalid_items=ch.invalid,
                policy_versions=sorted(ch.versions),
                mean_propensity=(float(np.mean(ch.propensities)) if ch.propensities else None),
            )
    return res


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench.course_e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser(
        "export", help="simulate the logging tutor and write an ASSISTments-layout CSV"
    )
    e.add_argument("--seed", type=int, default=7)
    e.add_argument("--log-seed", type=int, default=1)
    e.add_argument("--students", type=int, default=1250)
    e.add_argument("--out", default="logs.csv")
    v = sub.add_parser(
        "evaluate", help="teach new students with several choosers (common random numbers)"
    )
    v.add_argument("--seed", type=int, default=7)
    v.add_argument("--eval-seed", type=int, default=1001)
    v.add_argument("--students", type=int, default=600)
    v.add_argument("--steps", type=int, default=20)
    v.add_argument("--url", default=None)
    v.add_argument("--json", default=None)
    for p in (e, v):  # the course: the same for the export and its evaluation
        p.add_argument(
            "--teach-b",
            type=float,
            default=TEACH_B,
            help="teaching rates are Beta(2, TEACH_B) (default %(default)s)",
        )
        p.add_argument(
            "--rates",
            choices=("item", "skill"),
            default="item",
            help="a rate per teaching item, or one per skill (its items' mean): items alike",
        )
    e.add_argument(
        "--off-plan",
        type=float,
        default=OFF_PLAN,
        help="logging tutor's probability of a random off-plan item (default %(default)s)",
    )
    a = ap.parse_args(argv)

    if a.cmd == "export":
        course = make_course(a.seed, a.teach_b, a.rates)
        logs = simulate_logs(course, a.log_seed, a.students, off_plan=a.off_plan)
        df = export_csv(course, logs, a.log_seed, a.out)
        print(
            f"wrote {a.out}: {len(df)} rows, {df.user_id.nunique()} users, "
            f"{df.order_id.nunique()} order_ids, {int((df.original == 0).sum())} scaffolding rows, "
            f"{sum(len(s) for s in logs)} original answers"
        )
        return

    res = evaluate(
        a.seed, a.eval_seed, a.students, a.steps, a.url, teach_b=a.teach_b, rates=a.rates
    )
    print(
        f"seed={a.seed} eval_seed={a.eval_seed} students={a.students} steps={a.steps} "
        f"initial known={res['initial_known_mean']:.2f}"
    )
    print(
        f"{'chooser':<11}{'mastered':>9}  {'95% CI':<16}"
        f"{'vs random (paired)':<26}{'norm. regret':>12}"
    )
    for name, r in res["choosers"].items():
        print(
            f"{name:<11}{r['mastered_mean']:>9.3f}  [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]    "
            f"{r['diff_vs_random']:+.3f} "
            f"[{r['diff_vs_random_ci95'][0]:+.2f}, {r['diff_vs_random_ci95'][1]:+.2f}]"
            f"{r['normalized_regret']:>12.3f}"
        )
        if name == "served":
            print(
                f"           invalid items={r['invalid_items']} versions={r['policy_versions']} "
                f"mean propensity={r['mean_propensity']}"
            )
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2, ensure_ascii=False)


if __name__ == "__main__":
    main()
