"""Runs every benchmark under bench/ and prints one table of measured figures beside anchors.

A benchmark is a module ``bench/bench_*.py`` with a function ``run() -> list[dict]``; each row
has the keys ``benchmark``, ``measured`` (a number), ``unit``, ``target`` (the issue's floor or
ceiling, text) and ``anchor`` (what a reference tool does, text). ``python -m bench.run_all NAME``
runs only the modules whose name contains NAME.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    selected = argv[1:]
    rows: list[dict] = []
    folder = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(folder)]), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        if selected and not any(s in info.name for s in selected):
            continue
        started = time.perf_counter()
        print(f"[bench] {info.name} ...", flush=True)
        module = importlib.import_module(f"bench.{info.name}")
        rows.extend(module.run())
        print(f"[bench] {info.name} done in {time.perf_counter() - started:.1f}s", flush=True)
    header = ("benchmark", "measured", "unit", "target", "anchor")
    table = [header] + [
        (
            str(r["benchmark"]),
            f"{r['measured']:,.3f}" if isinstance(r["measured"], float) else str(r["measured"]),
            str(r.get("unit", "")),
            str(r.get("target", "")),
            str(r.get("anchor", "")),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        print(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
