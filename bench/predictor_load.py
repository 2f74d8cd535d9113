"""A bounded HTTP load generator for the predictor benchmark, run as its own process.

``python -m bench.predictor_load --port P --body FILE --mode rate --rate 200 --count 2000``
sends ``count`` POSTs (the bodies are FILE's lines, taken in turn) on a fixed schedule (open
loop: request ``i`` is due at ``i / rate`` seconds) from a pool of keep-alive connections, and
measures each latency from the request's due time, so that a slow server is not hidden by a
client that waits for it (coordinated omission). ``--mode max`` keeps ``--connections``
requests in flight (closed loop) for ``--seconds``. Both stop at ``--time-limit`` whatever
happens. Prints one JSON object: sent, ok, errors, elapsed seconds, requests per second and
latency quantiles in milliseconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import threading
import time

PATH = "/v1/models/quiz-policy:predict"
HEADERS = {"content-type": "application/json"}


def _send(connection: http.client.HTTPConnection, body: bytes) -> int:
    connection.request("POST", PATH, body, HEADERS)
    response = connection.getresponse()
    response.read()
    return response.status


def run_rate(
    port: int, bodies: list[bytes], rate: float, count: int, connections: int, limit: float
):
    start = time.perf_counter() + 0.05
    deadline = time.monotonic() + limit
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    errors = [0]

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while time.monotonic() < deadline:
                with lock:
                    i = state["next"]
                    if i >= count:
                        return
                    state["next"] = i + 1
                due = start + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                try:
                    status = _send(connection, bodies[i % len(bodies)])
                except OSError:
                    status = 0
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                done = time.perf_counter()
                with lock:
                    if status == 200:
                        latencies.append((done - due) * 1000)
                    else:
                        errors[0] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=limit + 15)
    elapsed = time.perf_counter() - start
    return latencies, errors[0], elapsed


def run_max(port: int, bodies: list[bytes], seconds: float, connections: int, limit: float):
    stop = time.perf_counter() + min(seconds, limit)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    start = time.perf_counter()

    def worker(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        failed = 0
        n = offset
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                n += 1
                try:
                    status = _send(connection, bodies[n % len(bodies)])
                except OSError:
                    status = 0
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if status == 200:
                    mine.append((time.perf_counter() - t0) * 1000)
                else:
                    failed += 1
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)
                errors[0] += failed

    threads = [threading.Thread(target=worker, args=(k * 7919,)) for k in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=limit + 15)
    return latencies, errors[0], time.perf_counter() - start


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.predictor_load")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", required=True, help="file of JSON bodies, one per line")
    parser.add_argument("--mode", choices=("rate", "max"), required=True)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    with open(args.body, "rb") as handle:
        bodies = [line for line in handle.read().splitlines() if line.strip()]
    warm = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    for n in range(args.warmup):
        _send(warm, bodies[n % len(bodies)])
    warm.close()
    if args.mode == "rate":
        latencies, errors, elapsed = run_rate(
            args.port, bodies, args.rate, args.count, args.connections, args.time_limit
        )
    else:
        latencies, errors, elapsed = run_max(
            args.port, bodies, args.seconds, args.connections, args.time_limit
        )
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(
        json.dumps(
            {
                "sent": len(latencies) + errors,
                "ok": len(latencies),
                "errors": errors,
                "elapsed_s": elapsed,
                "requests_per_s": len(latencies) / elapsed if elapsed > 0 else 0.0,
                "p50_ms": quantiles[49],
                "p99_ms": quantiles[98],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
