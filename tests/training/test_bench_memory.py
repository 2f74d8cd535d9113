"""The training benchmark's peak memory is the training process's own, not its parent's."""

import subprocess
import sys

import numpy as np


def test_a_child_reports_its_own_peak_not_the_parents_it_was_spawned_from():
    from bench.bench_policy import _own_peak_kib

    held = np.ones(40_000_000)  # 320 MB resident in this (the parent) process
    held[::512] = 2.0
    child = subprocess.run(
        [sys.executable, "-c",
         "from bench.bench_policy import _own_peak_kib; import numpy as np; "
         "x = np.ones(12_500_000); print(_own_peak_kib())"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    child_kib = int(child.stdout.strip().splitlines()[-1])
    # The child touched 100 MB on top of an interpreter with numpy: well below the parent's
    # 320 MB array, which getrusage's maximum in the child would include (carried over exec).
    assert 100_000 < child_kib < 300_000
    assert _own_peak_kib() > 320_000
    assert held.sum() > 0
