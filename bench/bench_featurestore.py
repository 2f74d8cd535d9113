"""Feature store (issue 13): materialization of 1,000,000 interactions, and stateful requests
at a fixed 200 requests/s beside stateless ones, measured in the same run.

* Materialization: a canonical log of 1,000,000 answers (10,000 students x 100, a demo policy's
  tracer of 8 skills x 15 items) goes through :func:`materialize_features` into a local Feast
  store in a temporary folder: trace every answer with the shared tracer, write the offline
  files, ``feast apply``, write the latest row of each of the 10,000 students and 120 items to
  the online store. Anchors in the same run: the tracer's own feature pass over the same log
  (``trace_log``), a bare Parquet write of the same table, and Feast's own ``materialize`` (the
  dask file offline store) over the rows of the first 50,000 answers.
* Serving: one predictor process on 127.0.0.1 with that store. An open-loop load generator in a
  separate process sends 2,000 requests due at 200 per second over 8 connections (latency from
  the due time), first stateless (10-answer history), then stateful (student id, the answer to
  the previous question, a request id: read, apply, push, choose). Bounded in count and time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
KSERVE_DIR = REPO / "kserve"
PII_KEY = "11" * 32
STUDENTS = 10_000
ANSWERS = 100
RATE = 200.0
RATE_COUNT = 2000
CONNECTIONS = 8
TIME_LIMIT_S = 60.0
SERVED_STUDENTS = 2000
#: Answers whose offline rows Feast's own materialize gets (the anchor; it scans every row).
FEAST_SAMPLE = 50_000


def _demo_policy(scratch: Path):
    if str(KSERVE_DIR) not in sys.path:
        sys.path.insert(0, str(KSERVE_DIR))
    from quizops.policy import QuizPolicy
    from quizops_predictor.demo import save_demo_policy

    folder = save_demo_policy(scratch / "policy", n_skills=8, items_per_skill=15)
    return folder, QuizPolicy.load(folder)


def _log(bank: list[str], key: bytes) -> pd.DataFrame:
    from quizops.pii.deidentify import pseudonymize_values

    rng = np.random.default_rng(0)
    n = STUDENTS * ANSWERS
    raw_ids = pd.Series([f"b-{s}" for s in range(STUDENTS)])
    pseudonyms = pseudonymize_values(raw_ids, key).astype(str).to_numpy()
    return pd.DataFrame(
        {
            "interaction_id": np.arange(n).astype(str),
            "student_id": np.repeat(pseudonyms, ANSWERS),
            "item_id": np.asarray(bank)[rng.integers(0, len(bank), n)],
            "correct": rng.integers(0, 2, n),
            "timestamp": 1_700_000_000_000 + np.tile(np.arange(ANSWERS) * 60_000, STUDENTS),
        }
    )


def _feast_materialize(scratch: Path, log: pd.DataFrame, policy) -> tuple[int, float]:
    """Anchor: ``FeatureStore.materialize`` over the offline rows of a smaller log."""
    from quizops.featurestore.config import ensure_local_repo, offline_root, open_store
    from quizops.featurestore.definitions import build_definitions, offline_paths
    from quizops.featurestore.offline import state_snapshots, student_table, write_atomic
    from quizops.featurestore.state import tracer_version

    repo = ensure_local_repo(scratch / "feast_anchor")
    scalars, states = state_snapshots(log, policy.tracer, tracer_version(policy.tracer))
    root = offline_root(repo)
    write_atomic(student_table(scalars, states), offline_paths(root)[0])
    store = open_store(repo)
    definitions = build_definitions(root)
    store.apply([definitions.student, definitions.tracer, definitions.student_source,
                 definitions.student_push, definitions.student_view])  # fmt: skip
    first = scalars["event_timestamp"].min() - pd.Timedelta(seconds=1)
    last = scalars["event_timestamp"].max() + pd.Timedelta(seconds=1)
    started = time.perf_counter()
    store.materialize(first.to_pydatetime(), last.to_pydatetime(), [definitions.student_view.name])
    return len(scalars), time.perf_counter() - started


def _materialize(scratch: Path, policy) -> list[dict]:
    from quizops.featurestore.materialize import materialize_features

    log = _log(policy.item_bank, bytes.fromhex(PII_KEY))
    started = time.perf_counter()
    result = materialize_features(log, policy.tracer, policy.items, scratch / "home/feature_store")
    total = time.perf_counter() - started
    started = time.perf_counter()
    policy.tracer.trace_log(log)  # the log is already in student, time order
    trace = time.perf_counter() - started
    started = time.perf_counter()
    log.to_parquet(scratch / "bare.parquet", index=False)
    bare = time.perf_counter() - started
    feast_rows, feast_seconds = _feast_materialize(scratch, log.iloc[:FEAST_SAMPLE], policy)
    rows = f"{len(log):,} answers, {result.students:,} students"
    return [
        {
            "benchmark": "feature store: materialize 1,000,000 interactions (whole stage)",
            "measured": total,
            "unit": "s",
            "target": "printed (issue 13)",
            "anchor": f"{rows}; tracer.trace_log on the same log {trace:.1f} s; "
            f"bare Parquet write {bare:.1f} s",
        },
        {
            "benchmark": "feature store: online write of the latest rows (materialization step)",
            "measured": result.materialize_seconds,
            "unit": "s",
            "target": "printed",
            "anchor": f"{result.state_rows:,} offline rows -> {result.students:,} online rows; "
            f"Feast's own materialize (dask file store) of {feast_rows:,} rows: "
            f"{feast_seconds:.1f} s",
        },
    ]


# --- load generator (runs as its own process) -------------------------------------------------


def _bodies(mode: str, bank: list[str], count: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    out = []
    for n in range(count):
        if mode == "stateless":
            history = [{"item_id": bank[(n + k) % len(bank)], "correct": k % 2} for k in range(10)]
            instance: dict = {"student_id": f"b-{n % SERVED_STUDENTS}", "history": history}
        else:
            instance = {
                "student_id": f"b-{n % SERVED_STUDENTS}",
                "answer": {"item_id": bank[int(rng.integers(len(bank)))], "correct": n % 2},
                "request_id": f"bench-{n}",
            }
        out.append(json.dumps({"instances": [instance]}).encode())
    return out


def load(port: int, mode: str, bank: list[str]) -> dict:
    """Sends RATE_COUNT requests due at RATE per second; latency counted from the due time."""
    bodies = _bodies(mode, bank, RATE_COUNT)
    latencies = np.full(RATE_COUNT, np.nan)
    ends = np.full(RATE_COUNT, np.nan)
    errors = [0]
    next_index = [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    deadline = start + TIME_LIMIT_S

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= RATE_COUNT or time.perf_counter() > deadline:
                break
            due = start + i / RATE
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                conn.request(
                    "POST",
                    "/v1/models/quiz-policy:predict",
                    body=bodies[i],
                    headers={"content-type": "application/json"},
                )
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except OSError:
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            ends[i] = time.perf_counter()
            latencies[i] = ends[i] - due
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = latencies[~np.isnan(latencies)]
    elapsed = (np.nanmax(ends) if len(done) else time.perf_counter()) - start
    return {
        "ok": len(done),
        "errors": errors[0],
        "requests_per_s": float(len(done) / max(elapsed, 1e-9)),
        "p50_ms": float(np.percentile(done, 50) * 1000) if len(done) else float("nan"),
        "p99_ms": float(np.percentile(done, 99) * 1000) if len(done) else float("nan"),
    }


def _run_load(port: int, mode: str, bank_file: Path) -> dict:
    command = [sys.executable, "-m", "bench.bench_featurestore", "--load", mode]
    command += ["--port", str(port), "--bank", str(bank_file)]
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=TIME_LIMIT_S + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} request(s) failed under load: {result}")
    return result


def _serve(scratch: Path, policy_dir: Path, policy) -> list[dict]:
    from quizops.serving import PredictorProcess

    bank_file = scratch / "bank.json"
    bank_file.write_text(json.dumps(policy.item_bank))
    predictor = PredictorProcess(
        model_dir=policy_dir,
        decisions_dir=scratch / "decisions",
        env={"QUIZOPS_PII_KEY": PII_KEY, "QUIZOPS_HOME": str(scratch / "home")},
    )
    with predictor:
        stateless = _run_load(predictor.port, "stateless", bank_file)
        stateful = _run_load(predictor.port, "stateful", bank_file)
    anchor = (
        f"stateless (10-answer history) in the same run: p50 {stateless['p50_ms']:.1f} ms, "
        f"p99 {stateless['p99_ms']:.1f} ms, {stateless['requests_per_s']:.0f} req/s"
    )
    where = f"{stateful['ok']} v1 requests due at {RATE:.0f}/s, {CONNECTIONS} connections"
    return [
        {
            "benchmark": "stateful requests at 200 req/s: p50 latency",
            "measured": stateful["p50_ms"],
            "unit": "ms",
            "target": "printed beside stateless",
            "anchor": anchor,
        },
        {
            "benchmark": "stateful requests at 200 req/s: p99 latency",
            "measured": stateful["p99_ms"],
            "unit": "ms",
            "target": "printed beside stateless",
            "anchor": f"{where}; read + apply + push + choose",
        },
        {
            "benchmark": "stateful requests at 200 req/s: achieved rate",
            "measured": stateful["requests_per_s"],
            "unit": "req/s",
            "target": "200 req/s",
            "anchor": where,
        },
    ]


def run() -> list[dict]:
    """Runs both measurements in one temporary folder.

    Returns:
        Table rows.
    """
    with tempfile.TemporaryDirectory(prefix="bench-featurestore-") as folder:
        scratch = Path(folder)
        policy_dir, policy = _demo_policy(scratch)
        rows = _materialize(scratch, policy)
        rows += _serve(scratch, policy_dir, policy)
    return rows


def _main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", choices=("stateless", "stateful"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bank", required=True)
    args = parser.parse_args()
    print(json.dumps(load(args.port, args.load, json.loads(Path(args.bank).read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
