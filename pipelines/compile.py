"""Compiles every pipeline to compiled/<name>.yaml (deterministic: `make compile`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kfp import compiler

from pipelines.monitoring import monitoring_pipeline
from pipelines.rollback import rollback_pipeline
from pipelines.training import training_pipeline

#: File stem -> pipeline function.
PIPELINES = {
    "training": training_pipeline,
    "monitoring": monitoring_pipeline,
    "rollback": rollback_pipeline,
}


def compile_all(out_dir: str | Path) -> list[Path]:
    """Writes every pipeline's IR YAML.

    Args:
        out_dir: Destination folder.

    Returns:
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, pipeline in PIPELINES.items():
        path = out / f"{stem}.yaml"
        compiler.Compiler().compile(pipeline_func=pipeline, package_path=str(path))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="compiled")
    args = parser.parse_args(argv)
    for path in compile_all(args.out):
        print(f"compiled {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
