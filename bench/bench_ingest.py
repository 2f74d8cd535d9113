"""Ingest throughput: ASSISTments CSV of 1,000,000 rows -> canonical table in the raw zone.

Anchor: a bare ``pandas.read_csv`` of the same file (type inference, no checks) in the same run.
Ingest also validates every numeric column without echoing values, applies the skill-builder
rules, writes Parquet and the manifest.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROWS = int(os.environ.get("QUIZOPS_BENCH_INGEST_ROWS", "1000000"))


def assistments_csv(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    users = rng.integers(70_000, 90_000, n)
    problems = rng.integers(10_000, 12_000, n)
    skills = problems % 40
    frame = pd.DataFrame(
        {
            "order_id": 20_000_000 + rng.permutation(n),
            "assignment_id": 30_000,
            "user_id": users,
            "assistment_id": problems,
            "problem_id": problems,
            "original": (rng.random(n) < 0.9).astype(int),
            "correct": rng.integers(0, 2, n),
            "attempt_count": rng.integers(1, 4, n),
            "ms_first_response": rng.lognormal(9.5, 0.8, n).astype(int),
            "tutor_mode": "tutor",
            "answer_type": "algebra",
            "sequence_id": 5000,
            "student_class_id": users % 100,
            "position": 1,
            "type": "MasterySection",
            "base_sequence_id": 5000,
            "skill_id": skills,
            "skill_name": np.char.add("Skill ", skills.astype(str)),
            "teacher_id": 20_000,
            "school_id": 70,
            "hint_count": rng.integers(0, 3, n),
            "hint_total": 3,
            "overlap_time": rng.integers(1000, 90_000, n),
            "template_id": 30_000,
            "answer_id": rng.integers(0, 10**6, n),
            "answer_text": rng.choice(["42", "x+1", "correct", "7/8"], n),
            "first_action": 0,
            "bottom_hint": "",
            "opportunity": 1,
            "opportunity_original": 1,
        }
    )
    frame.to_csv(path, index=False)


def run() -> list[dict]:
    from quizops.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "skill_builder.csv"
        assistments_csv(source, ROWS)
        size_mb = source.stat().st_size / 1e6
        bare = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            pd.read_csv(source, low_memory=False)
            bare = min(bare, time.perf_counter() - t)
        best = float("inf")
        for i in range(2):
            t = time.perf_counter()
            counts = ingest(
                str(source), "assistments", "", str(folder / f"raw{i}"), folder / f"m{i}.json"
            )
            best = min(best, time.perf_counter() - t)
    kept = int(counts["rows"])
    return [
        {
            "benchmark": f"ingest ASSISTments CSV, {ROWS:,} rows ({size_mb:.0f} MB)",
            "measured": best,
            "unit": "s",
            "target": f"{kept:,} canonical rows written",
            "anchor": f"bare pandas.read_csv: {bare:.2f} s",
        },
        {
            "benchmark": "ingest throughput",
            "measured": ROWS / best,
            "unit": "rows/s",
            "target": "",
            "anchor": f"bare pandas.read_csv: {ROWS / bare:,.0f} rows/s",
        },
    ]
