"""The ``quizops simulate`` subcommand: write simulated ASSISTments-style logs."""

from __future__ import annotations

import argparse
from typing import Any

from quizops.simulation.export import simulate_logs, write_assistments_csv
from quizops.simulation.world import make_world


def register(subparsers: Any) -> None:
    """Adds the ``simulate`` subcommand.

    Args:
        subparsers: The dispatcher's subparsers.
    """
    parser = subparsers.add_parser("simulate", help="write simulated ASSISTments-style logs")
    parser.add_argument("output", help="CSV file to write (keep it in the raw zone)")
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--world-seed", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=_simulate_command)


def _simulate_command(args: argparse.Namespace) -> int:
    world = make_world(args.world_seed)
    frame = simulate_logs(world, args.interactions, seed=args.seed)
    write_assistments_csv(frame, args.output)
    return 0
