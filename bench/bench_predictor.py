"""Latency and throughput of v1 predict on the real predictor process on 127.0.0.1.

Serves a demo policy of the default world's size (8 skills x 15 items, the same gain-model class
as a trained one) so that the figure does not depend on a previous run. A bounded loop (count and
time) of sequential requests, one instance each with a 10-answer history and the whole bank as
candidates, over one keep-alive connection, after 20 warm-up requests.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REQUESTS = 500
WARMUP = 20
TIME_LIMIT_S = 120.0

KSERVE_DIR = Path(__file__).resolve().parents[1] / "kserve"


def _policy_dir(scratch: Path) -> tuple[Path, str]:
    if str(KSERVE_DIR) not in sys.path:
        sys.path.insert(0, str(KSERVE_DIR))
    from quizops_predictor.demo import save_demo_policy

    return save_demo_policy(scratch / "policy", n_skills=8, items_per_skill=15), "demo policy"


def run() -> list[dict]:
    from quizops.serving import PredictorProcess

    with tempfile.TemporaryDirectory(prefix="bench-predictor-") as scratch:
        policy_dir, label = _policy_dir(Path(scratch))
        started = time.perf_counter()
        with PredictorProcess(model_dir=policy_dir, decisions_dir=Path(scratch) / "d") as server:
            startup = time.perf_counter() - started
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            body = json.dumps(
                {
                    "instances": [
                        {
                            "student_id": "bench",
                            "history": [{"item_id": "p100", "correct": 1}] * 10,
                        }
                    ]
                }
            )
            headers = {"content-type": "application/json"}
            latencies = []
            deadline = time.monotonic() + TIME_LIMIT_S
            loop_started = time.perf_counter()
            for n in range(WARMUP + REQUESTS):
                if time.monotonic() > deadline:
                    break
                t0 = time.perf_counter()
                connection.request("POST", "/v1/models/quiz-policy:predict", body, headers)
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    raise RuntimeError(f"predict answered {response.status}: {payload[:200]!r}")
                if n == WARMUP - 1:
                    loop_started = time.perf_counter()
                elif n >= WARMUP:
                    latencies.append((time.perf_counter() - t0) * 1000)
            elapsed = time.perf_counter() - loop_started
            connection.close()
    quantiles = statistics.quantiles(latencies, n=100)
    anchor = f"{len(latencies)} sequential requests, {label}, history 10, bank 120"
    return [
        {
            "benchmark": "predictor v1 p50 latency",
            "measured": quantiles[49],
            "unit": "ms",
            "target": "< 50 ms",
            "anchor": anchor,
        },
        {
            "benchmark": "predictor v1 p95 latency",
            "measured": quantiles[94],
            "unit": "ms",
            "target": "< 100 ms",
            "anchor": anchor,
        },
        {
            "benchmark": "predictor v1 throughput",
            "measured": len(latencies) / elapsed,
            "unit": "req/s",
            "target": "> 50 req/s (one client)",
            "anchor": anchor,
        },
        {
            "benchmark": "predictor startup to ready",
            "measured": startup,
            "unit": "s",
            "target": "< 30 s",
            "anchor": "process start to /v2/health/ready 200",
        },
    ]
