"""``python -m quizops_predictor``: serve the quiz policy on 127.0.0.1.

Examples:
    PYTHONPATH=kserve python -m quizops_predictor --port 8080            # champion from MLflow
    PYTHONPATH=kserve python -m quizops_predictor --model-dir path/to/policy --port 8080
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from threadpoolctl import threadpool_limits

from quizops.errors import ModelNotFoundError
from quizops.home import PII_KEY_ENV, PII_KEY_FILE_ENV, local_home
from quizops_predictor.decisions import DecisionLog, configured_pii_key
from quizops_predictor.loading import CHAMPION_URI, load_policy
from quizops_predictor.model import QuizPolicyModel
from quizops_predictor.server import LOOPBACK, BoundModelServer

logger = logging.getLogger("quizops_predictor")


def build_parser() -> argparse.ArgumentParser:
    """Builds the command-line parser.

    Returns:
        The parser.
    """
    home = local_home()
    parser = argparse.ArgumentParser(prog="quizops_predictor", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    parser.add_argument("--host", default=LOOPBACK, help="bind address (default 127.0.0.1)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model-dir", help="a saved QuizPolicy folder")
    source.add_argument(
        "--model-uri", default=CHAMPION_URI, help=f"MLflow model URI (default {CHAMPION_URI})"
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI (default: the local home's SQLite store)",
    )
    parser.add_argument(
        "--decisions-dir",
        default=None,
        help=f"decision log folder (default {home.decisions})",
    )
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (tests)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Loads the policy and serves it until SIGTERM/SIGINT.

    Args:
        argv: Arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit status: 0 after a clean stop, 4 when no model can be loaded.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    home = local_home()
    if not os.environ.get(PII_KEY_ENV) and not os.environ.get(PII_KEY_FILE_ENV):
        if home.pii_key_file.exists():
            os.environ[PII_KEY_FILE_ENV] = str(home.pii_key_file)
    try:
        policy, version = load_policy(
            model_dir=args.model_dir,
            model_uri=None if args.model_dir else args.model_uri,
            tracking_uri=args.tracking_uri or home.mlflow_tracking_uri,
        )
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    decision_log = DecisionLog(args.decisions_dir or home.decisions, configured_pii_key())
    # One request scores one small batch: OpenMP thread start-up in the gain model's predict
    # costs more than it saves (4x slower per decision on 2 cores), so score on one thread.
    threadpool_limits(limits=1)
    model = QuizPolicyModel(policy, version, decision_log=decision_log, seed=args.seed)
    model.load()
    logger.info(
        "serving policy version %s (%d items) on http://%s:%d, decisions in %s",
        version or "-",
        len(policy.item_bank),
        args.host,
        args.port,
        decision_log.directory,
    )
    BoundModelServer(http_port=args.port, host=args.host).start([model])
    return 0


if __name__ == "__main__":
    sys.exit(main())
