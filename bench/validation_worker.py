"""Times the data-validation stage against a bare TFDV call (runs in the validation env).

Invoked by bench/bench_validation.py as ``.venvs/validation/bin/python -m bench.validation_worker
N``; prints one JSON line of figures on stdout.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: Repetitions; the best time of each side is reported.
REPEATS = 3


def canonical_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A de-identified canonical table of ``n`` interactions, 50 per student."""
    rng = np.random.default_rng(seed)
    per_student = 50
    n_students = n // per_student
    student = np.repeat(np.arange(n_students), per_student)
    items = rng.integers(0, 2000, n)
    frame = pd.DataFrame(
        {
            "interaction_id": pd.array(np.arange(n).astype(str), dtype="string"),
            "student_id": pd.array(np.char.add("p", student.astype(str)), dtype="string"),
            "item_id": pd.array(np.char.add("i", items.astype(str)), dtype="string"),
            "skill_id": pd.array(np.char.add("k", (items % 40).astype(str)), dtype="string"),
            "skill_name": pd.array(np.char.add("Skill ", (items % 40).astype(str)), dtype="string"),
            "correct": rng.integers(0, 2, n),
            "timestamp": 20_000_000 + np.arange(n),
            "attempt_count": rng.integers(1, 4, n),
            "response_time_ms": rng.lognormal(9.5, 0.8, n),
            "hint_count": rng.integers(0, 3, n),
            "answer_text": pd.array(rng.choice(["42", "x+1", "[redacted]"], n), dtype="string"),
            "propensity": rng.uniform(0.01, 0.5, n),
        }
    )
    return frame


def main(n: int) -> dict:
    started = time.perf_counter()
    import tensorflow_data_validation as tfdv

    from quizops.validation.gate import OutputPaths, ValidationConfig, validate_data

    import_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame = canonical_table(n)
        data = folder / "table.parquet"
        frame.to_parquet(data, index=False)
        # warm-up on a small frame so neither side pays first-call costs in its timing
        tfdv.generate_statistics_from_dataframe(frame.head(1000))

        bare_seconds = float("inf")
        for _ in range(REPEATS):  # best of N on both sides: the machine may be shared
            t = time.perf_counter()
            bare = tfdv.generate_statistics_from_dataframe(frame)
            bare_seconds = min(bare_seconds, time.perf_counter() - t)
            assert bare.datasets[0].num_examples == n

        def stage(name: str, store: str, table: Path = data) -> float:
            out = folder / name
            names = ("v.parquet", "s.pb", "schema.pbtxt", "a.pbtxt", "r.html", "m.md")
            paths = OutputPaths(*(str(out / x) for x in names))
            t = time.perf_counter()
            validate_data(str(table), paths, ValidationConfig(statistics_store_uri=store))
            return time.perf_counter() - t

        small = folder / "small.parquet"
        canonical_table(1000, seed=1).to_parquet(small, index=False)
        stage("warm", str(folder / "small-store"), small)
        # the fixed per-run cost: the whole stage on 1,000 rows (with a drift baseline)
        fixed = min(stage(f"fixed{i}", str(folder / "small-store"), small) for i in range(REPEATS))
        store = str(folder / "store")
        first = stage("first", store)  # no baseline yet
        second = min(stage(f"again{i}", store) for i in range(REPEATS))  # drift vs the last
    return {
        "rows": n,
        "import_seconds": import_seconds,
        "bare_seconds": bare_seconds,
        "fixed_seconds": fixed,
        "stage_seconds_no_baseline": first,
        "stage_seconds_with_drift": second,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
