"""The benchmark anchor: a bare ``kserve.Model`` that returns a constant, on 127.0.0.1.

``python -m bench.constant_predictor --port P`` serves ``quiz-policy`` with KServe's stock app
(no limits, no metrics of ours, no decision log): every v1 instance gets the same answer. The
predictor benchmark compares the predictor's maximum throughput with this one's, measured in
the same run on the same machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

KSERVE_DIR = Path(__file__).resolve().parents[1] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from kserve import Model  # noqa: E402
from quizops_predictor.server import BoundModelServer  # noqa: E402

ANSWER = {"item_id": "p100", "propensity": 1.0, "policy_version": "0"}


class ConstantModel(Model):
    """Answers every instance with the same prediction."""

    def __init__(self) -> None:
        super().__init__("quiz-policy")
        self.ready = True

    def predict(self, payload, headers=None):
        return {"predictions": [ANSWER] * len(payload.get("instances", []))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.constant_predictor")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    guard = os.environ.get("BENCH_ANCHOR_GUARD") == "1"  # overhead experiments only
    server = BoundModelServer(http_port=args.port, install_guard=guard)
    # The fastest stock configuration: no per-request log lines (the predictor has one).
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    server.start([ConstantModel()])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
