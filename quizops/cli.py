"""The ``quizops`` command line.

Each subcommand lives in the module that owns its logic and exposes ``register(subparsers)``;
this module only dispatches. Exit statuses (``quizops.errors.exit_status``): 0 success, 2 bad
input or configuration, 3 personal data left unhandled, 4 a busy local home, 1 any other failure.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from quizops.errors import PIILeftError, QuizopsError, exit_status

#: Modules that contribute subcommands; a module whose optional dependencies are missing
#: (for example TFDV outside the validation environment) is skipped.
SUBCOMMAND_MODULES: list[str] = [
    "quizops.simulation.cli",
    "quizops.pii.cli",
    "quizops.validation.cli",
    "quizops.validation.store",
    "quizops.deploy.cli",
    # `quizops submit` / `quizops schedule`: the KFP client lives beside the compiled pipelines
    # in the checkout (the library never imports kfp); available when run from the checkout.
    "pipelines.submit",
]

logger = logging.getLogger("quizops")


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser with every available subcommand.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(prog="quizops", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    checkout = Path.cwd()
    if (checkout / "pipelines" / "submit.py").is_file() and str(checkout) not in sys.path:
        sys.path.append(str(checkout))
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            logger.debug("subcommands of %s unavailable: %s", name, exc)
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except PIILeftError as exc:
        print(f"personal data left unhandled: {exc}", file=sys.stderr)
        return exit_status(exc)
    except QuizopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_status(exc)


if __name__ == "__main__":
    sys.exit(main())
