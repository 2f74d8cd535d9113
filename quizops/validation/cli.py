"""``quizops update-schema`` (the only way the curated schema changes) and ``quizops validate``.

TFDV is imported inside the handlers, so that registering these subcommands costs nothing and
the core environment (without TFDV) still has a working command line.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import logging
from pathlib import Path
from typing import Any

from quizops.errors import QuizopsError

logger = logging.getLogger(__name__)


def _require_tfdv() -> None:
    if importlib.util.find_spec("tensorflow_data_validation") is None:
        raise QuizopsError(
            "TensorFlow Data Validation is not installed here; run this command in the "
            "validation environment (.venvs/validation/bin/quizops)"
        )


def register(subparsers: Any) -> None:
    """Adds the validation subcommands.

    Args:
        subparsers: The dispatcher's subparsers.
    """
    update = subparsers.add_parser(
        "update-schema",
        help="infer + curate the schema from a canonical Parquet table and write it",
    )
    update.add_argument("--data", required=True, help="de-identified canonical Parquet table")
    update.add_argument("--schema", default="", help="output (default: the packaged schema)")
    update.add_argument("--check", action="store_true", help="only show the diff, write nothing")
    update.set_defaults(handler=update_schema_command)

    validate = subparsers.add_parser("validate", help="run the data-validation gate on a table")
    validate.add_argument("--data", required=True, help="de-identified canonical Parquet table")
    validate.add_argument("--out", required=True, help="folder for the outputs")
    validate.add_argument("--statistics-store", default="")
    validate.add_argument("--decisions", default="")
    validate.add_argument("--span", default="")
    validate.set_defaults(handler=validate_command)


def update_schema_command(args: argparse.Namespace) -> int:
    """Infers, curates and writes the schema, printing the diff.

    Args:
        args: Parsed arguments.

    Returns:
        0, or 1 with ``--check`` when the schema would change.
    """
    _require_tfdv()
    from quizops.validation import schema as schema_lib
    from quizops.validation import statistics as stats_lib

    table = stats_lib.read_table(args.data)
    schema = schema_lib.infer_curated_schema(stats_lib.generate_statistics(table))
    target = Path(args.schema) if args.schema else schema_lib.CURATED_SCHEMA_PATH
    old = target.read_text() if target.is_file() else ""
    new = schema_lib.schema_text(schema, schema_lib.SCHEMA_HEADER)
    diff = list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), str(target), "new", lineterm="")
    )
    print("\n".join(diff) if diff else f"{target}: unchanged")
    if args.check:
        return 1 if diff else 0
    schema_lib.write_schema(schema, target)
    return 0


def validate_command(args: argparse.Namespace) -> int:
    """Runs the gate and writes its outputs to a folder.

    Args:
        args: Parsed arguments.

    Returns:
        0 when the gate passes (failures raise ValidationFailedError: exit status 1).
    """
    _require_tfdv()
    from quizops.validation.gate import OutputPaths, ValidationConfig, validate_data

    out = Path(args.out)
    outputs = OutputPaths(
        *(
            str(out / n)
            for n in (
                "validated.parquet",
                "statistics.pb",
                "schema.pbtxt",
                "anomalies.pbtxt",
                "report.html",
                "summary.md",
            )
        )
    )
    config = ValidationConfig(
        statistics_store_uri=args.statistics_store, decisions_uri=args.decisions, span=args.span
    )
    for name, value in validate_data(args.data, outputs, config).items():
        print(f"{name}\t{value:g}")
    return 0
