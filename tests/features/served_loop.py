"""Simulated students served by a real predictor process: shared by the feature-stage test and
the kfp.local pipeline test of the closed serving loop (not a test module itself).

Items are the demo policies' ``p100 ...`` ids, ``PER_SKILL`` per skill in order; a student's
answer depends on whether it knows the item's skill (guess 0.2, slip 0.15), and practice teaches
(more when the previous skill of the chain is known).
"""

import time

import numpy as np
import pandas as pd

from quizops.names import MODEL_NAME
from quizops.serving import http_json

N_SKILLS, PER_SKILL = 4, 6


def now_ms():
    return int(time.time() * 1000)


class Student:
    """A simulated student: per-skill knowledge on a prerequisite chain, guess and slip."""

    def __init__(self, rng):
        self.rng = rng
        self.known = rng.random(N_SKILLS) < 0.2

    def answer(self, item):
        skill = (int(item[1:]) - 100) // PER_SKILL
        correct = int(self.rng.random() < (0.85 if self.known[skill] else 0.2))
        ready = skill == 0 or self.known[skill - 1]
        if not self.known[skill] and self.rng.random() < (0.3 if ready else 0.05):
            self.known[skill] = True
        return correct


def row(student, n, item, correct, timestamp):
    skill = (int(item[1:]) - 100) // PER_SKILL
    return {
        "interaction_id": f"{student}-{n}",
        "student_id": student,
        "item_id": item,
        "skill_id": f"skill-{skill}",
        "skill_name": f"Skill {skill}",
        "correct": correct,
        "timestamp": timestamp,
        "attempt_count": 1,
        "response_time_ms": np.nan,
        "hint_count": 0,
        "answer_text": pd.NA,
        "propensity": np.nan,
    }


def background(rng, bank, start_ms, n_students=80, answers=16):
    """A real export's part: answers of students no served decision chose (no propensity)."""
    rows = []
    for s in range(n_students):
        student = Student(rng)
        for n in range(answers):
            item = str(rng.choice(bank))
            rows.append(row(f"bg-{s}", n, item, student.answer(item), start_ms + 30_000 * n))
    return rows


def serve(predictor, policy, rng, bank, n_students=16, rounds=10):
    """Round-robin sessions: each round every student asks for a question and (mostly) answers.

    Returns the answer rows, the served decisions as the client saw them, and the propensity
    recomputed from the policy for each decision.
    """
    url = f"{predictor.base_url}/v1/models/{MODEL_NAME}:predict"
    students = {f"served-{s}": Student(rng) for s in range(n_students)}
    histories = {sid: [] for sid in students}
    last_answer = dict.fromkeys(students, 0)
    rows, served = [], []
    for r in range(rounds):
        for sid, student in students.items():
            if now_ms() <= last_answer[sid]:
                continue  # the next decision must come after the last answer (ms clock)
            candidates = sorted(rng.choice(bank, 8, replace=False).tolist()) if r % 2 else None
            instance = {
                "student_id": sid,
                "history": [{"item_id": i, "correct": c} for i, c in histories[sid]],
            }
            if candidates:
                instance["candidates"] = candidates
            code, body = http_json("POST", url, {"instances": [instance]})
            answered_at = now_ms() + 1  # strictly after the decision's logged time
            assert code == 200, body
            [prediction] = body["predictions"]
            rows_of = policy.item_rows(candidates or policy.item_bank)
            probs = policy.probabilities(policy.state(histories[sid])[None, :], rows_of)[0]
            chosen = list(candidates or policy.item_bank).index(prediction["item_id"])
            draw = rng.random()
            action = "followed" if draw < 0.75 else "other" if draw < 0.9 else "none"
            decision = {
                "student": sid,
                "item_id": prediction["item_id"],
                "propensity": prediction["propensity"],
                "recomputed": float(probs[chosen]),
                "policy_version": prediction["policy_version"],
                "action": action,
                "timestamp": answered_at,
            }
            served.append(decision)
            if action == "none":
                continue  # the student left: no answer
            item = prediction["item_id"]
            if action == "other":  # a teacher assigned something else
                item = str(rng.choice([b for b in bank if b != prediction["item_id"]]))
            correct = student.answer(item)
            rows.append(row(sid, len(histories[sid]), item, correct, answered_at))
            histories[sid].append((item, correct))
            last_answer[sid] = answered_at
    return rows, served
