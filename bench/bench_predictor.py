"""Predictor under load on 127.0.0.1: latency at a fixed 200 requests/s, and maximum throughput
against a bare ``kserve.Model`` that returns a constant, measured in the same run.

The predictor process serves a demo policy of the default world's size (8 skills x 15 items in
a prerequisite chain, planned over by the ``PlanningModel`` that training registers; decisions
logged to a local folder, metrics on) so that the figure does not depend on a previous run.
Each request is one v1 instance with a 10-answer
history and the whole bank as candidates; 500 different students and histories are sent in
turn (so no cache could serve a repeated request). The load comes from a separate process
(:mod:`bench.predictor_load`), bounded in count and time:

* fixed rate: 2,000 requests due at 200 per second (open loop; latency from the due time);
* maximum throughput: 4 and then 16 connections in a closed loop for 4 s, against the predictor
  and then the constant model, three such pairs back to back at each level. On 2 cores shared
  with the load generator (and other work), wall-clock requests per second measure the client
  as much as the server, so the figure is each server's CPU time per request
  (``/proc/<pid>/stat`` user + system time over the requests it served, warm-up included): the
  capacity of one core is ``1 / cpu_seconds_per_request``, taken at the level best for each
  server (the predictor's scorer batches requests that queue up, so it gains from
  concurrency; the constant model does not). The wall-clock ratio at 16 connections (median of
  the pairs) is printed too. The anchor runs KServe's stock app (its timing middleware
  included) with CPython's default garbage-collector settings; the predictor runs as it is
  served: its server replaces that middleware with its own guard, and its process freezes
  long-lived objects out of the collector and raises the young-generation threshold
  (:mod:`quizops_predictor.heap`, ``--gc-young-threshold``).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KSERVE_DIR = REPO / "kserve"
RATE = 200.0
RATE_COUNT = 2000
MAX_SECONDS = 4.0
#: Closed-loop concurrency levels of the maximum-throughput runs.
LEVELS = (4, 16)
ROUNDS = 3
TIME_LIMIT_S = 40.0


def _policy_dir(scratch: Path) -> Path:
    if str(KSERVE_DIR) not in sys.path:
        sys.path.insert(0, str(KSERVE_DIR))
    from quizops_predictor.demo import save_demo_policy

    return save_demo_policy(scratch / "policy", planning=True, n_skills=8, items_per_skill=15)


def _bodies(count: int, seed: int = 0) -> str:
    """``count`` v1 bodies, one per line: one student, 10 random answers on the demo bank."""
    rng = random.Random(seed)
    bank = [f"p{100 + i}" for i in range(120)]
    lines = []
    for n in range(count):
        history = [{"item_id": rng.choice(bank), "correct": rng.randint(0, 1)} for _ in range(10)]
        lines.append(json.dumps({"instances": [{"student_id": f"s-{n}", "history": history}]}))
    return "\n".join(lines) + "\n"


WARMUP = 50


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(port: int, body: Path, *args: str, pid: int | None = None) -> dict:
    command = [sys.executable, "-m", "bench.predictor_load", "--port", str(port)]
    command += ["--body", str(body), "--time-limit", str(TIME_LIMIT_S), *args]
    command += ["--warmup", str(WARMUP)]
    cpu_before = _cpu_seconds(pid) if pid else 0.0
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=TIME_LIMIT_S + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if pid:
        result["cpu_ms_per_request"] = (
            (_cpu_seconds(pid) - cpu_before) * 1000 / (result["ok"] + WARMUP)
        )
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} request(s) failed under load: {result}")
    return result


def _max_args(connections: int) -> list[str]:
    return ["--mode", "max", "--seconds", str(MAX_SECONDS), "--connections", str(connections)]


def run() -> list[dict]:
    from quizops.serving import PredictorProcess

    with tempfile.TemporaryDirectory(prefix="bench-predictor-") as folder:
        scratch = Path(folder)
        policy_dir = _policy_dir(scratch)
        body = scratch / "bodies.jsonl"
        body.write_text(_bodies(500))
        started = time.perf_counter()
        predictor = PredictorProcess(
            model_dir=policy_dir,
            decisions_dir=scratch / "decisions",
            env={"QUIZOPS_PII_KEY": "00" * 16, "QUIZOPS_HOME": str(scratch / "home")},
        )
        anchor = PredictorProcess(module="bench.constant_predictor", env={"PYTHONPATH": str(REPO)})
        with predictor:
            startup = time.perf_counter() - started
            with anchor:
                fixed = _load(
                    predictor.port,
                    body,
                    "--mode", "rate", "--rate", str(RATE), "--count", str(RATE_COUNT),
                    "--connections", "8",
                )  # fmt: skip
                runs: dict[int, tuple[list[dict], list[dict]]] = {}
                for connections in LEVELS:
                    served, bare = runs.setdefault(connections, ([], []))
                    for _ in range(ROUNDS):
                        args = _max_args(connections)
                        served.append(_load(predictor.port, body, *args, pid=predictor.process.pid))
                        bare.append(_load(anchor.port, body, *args, pid=anchor.process.pid))
    cpu = {
        c: (
            statistics.median(r["cpu_ms_per_request"] for r in served),
            statistics.median(r["cpu_ms_per_request"] for r in bare),
        )
        for c, (served, bare) in runs.items()
    }
    # Capacity of one core = 1 / CPU per request, at the concurrency that is best for each.
    cpu_served = min(p for p, _ in cpu.values())
    cpu_bare = min(b for _, b in cpu.values())
    cpu_anchor = "server CPU ms per request (median of {} runs) at {}: {}".format(
        ROUNDS,
        " / ".join(f"{c} connections" for c in LEVELS),
        "; ".join(
            f"predictor {p:.3f}, bare constant kserve.Model {b:.3f}" for p, b in cpu.values()
        ),
    )
    served, bare = runs[LEVELS[-1]]
    ratios = sorted(
        s["requests_per_s"] / b["requests_per_s"] for s, b in zip(served, bare, strict=True)
    )
    ratio = statistics.median(ratios)
    best_served = statistics.median(r["requests_per_s"] for r in served)
    best_bare = statistics.median(r["requests_per_s"] for r in bare)
    rate_anchor = f"{fixed['ok']} v1 requests due at {RATE:.0f}/s, open loop, 8 connections"
    max_anchor = (
        f"{LEVELS[-1]} connections x {MAX_SECONDS:.0f} s, median of {ROUNDS} back-to-back pairs "
        f"(ratios {ratios[0]:.2f}-{ratios[-1]:.2f}); bare constant kserve.Model {best_bare:,.0f} "
        "req/s (the Python client, not the server, is its limit)"
    )
    return [
        {
            "benchmark": "predictor at 200 req/s: achieved rate",
            "measured": fixed["requests_per_s"],
            "unit": "req/s",
            "target": "200 req/s",
            "anchor": rate_anchor,
        },
        {
            "benchmark": "predictor at 200 req/s: p50 latency",
            "measured": fixed["p50_ms"],
            "unit": "ms",
            "target": "-",
            "anchor": rate_anchor,
        },
        {
            "benchmark": "predictor at 200 req/s: p99 latency",
            "measured": fixed["p99_ms"],
            "unit": "ms",
            "target": "<= 20 ms",
            "anchor": rate_anchor,
        },
        {
            "benchmark": "predictor maximum throughput",
            "measured": best_served,
            "unit": "req/s",
            "target": "-",
            "anchor": max_anchor,
        },
        {
            "benchmark": "predictor max throughput per core (1 / CPU per request)",
            "measured": 1000.0 / cpu_served,
            "unit": "req/s",
            "target": "-",
            "anchor": cpu_anchor,
        },
        {
            "benchmark": "predictor / bare kserve.Model max throughput, CPU time",
            "measured": cpu_bare / cpu_served,
            "unit": "ratio",
            "target": ">= 0.7",
            "anchor": cpu_anchor,
        },
        {
            "benchmark": "predictor / bare kserve.Model max throughput, wall clock",
            "measured": ratio,
            "unit": "ratio",
            "target": ">= 0.7",
            "anchor": max_anchor,
        },
        {
            "benchmark": "predictor startup to ready",
            "measured": startup,
            "unit": "s",
            "target": "< 30 s",
            "anchor": "process start to /v2/health/ready 200",
        },
    ]
