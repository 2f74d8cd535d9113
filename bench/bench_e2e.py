"""End-to-end local run on default data (50,000 simulated interactions): seconds per stage.

Runs `python -m pipelines.local_run` in a fresh temporary home (environments already built),
then reads the run summary. Target from issue 2: under 5 minutes with the environments built.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INTERACTIONS = int(os.environ.get("QUIZOPS_BENCH_INTERACTIONS", "50000"))


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="quizops-bench-") as home:
        started = time.perf_counter()
        process = subprocess.run(
            [sys.executable, "-m", "pipelines.local_run", "--interactions", str(INTERACTIONS)],
            cwd=REPO,
            env={**os.environ, "QUIZOPS_HOME": home},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        wall = time.perf_counter() - started
        summary_path = Path(home) / "pipeline_root" / "last_run.json"
        if process.returncode != 0 or not summary_path.exists():
            raise RuntimeError(
                f"local run failed:\n{process.stdout[-3000:]}{process.stderr[-3000:]}"
            )
        summary = json.loads(summary_path.read_text())
    rows = [
        {
            "benchmark": f"e2e stage {stage}",
            "measured": info["seconds"],
            "unit": "s",
            "target": "",
            "anchor": info["status"],
        }
        for stage, info in summary["stages"].items()
    ]
    rows.append(
        {
            "benchmark": f"e2e make run ({INTERACTIONS:,} interactions)",
            "measured": round(wall, 1),
            "unit": "s",
            "target": "< 300 s with envs built",
            "anchor": "issue 2",
        }
    )
    metrics = summary["metrics"]
    for key, label in (
        ("evaluate-policy.sim_bkt_challenger_mastered", "policy skills mastered (fitted bkt sim)"),
        ("evaluate-policy.sim_bkt_random_mastered", "random skills mastered (fitted bkt sim)"),
    ):
        if key in metrics:
            rows.append(
                {
                    "benchmark": label,
                    "measured": round(metrics[key], 4),
                    "unit": "skills",
                    "target": "policy > random",
                    "anchor": "uniform random policy",
                }
            )
    return rows
