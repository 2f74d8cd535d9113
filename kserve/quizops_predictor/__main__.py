"""``python -m quizops_predictor``: serve the quiz policy on 127.0.0.1.

Examples:
    PYTHONPATH=kserve python -m quizops_predictor --port 8080            # champion from MLflow
    PYTHONPATH=kserve python -m quizops_predictor --model-dir path/to/policy --port 8080
    QUIZOPS_VARIANT=canary python -m quizops_predictor --decisions-dir gs://bucket/decisions

The decision log goes to ``--decisions-dir`` (a folder or ``gs://bucket/prefix``; default
``$QUIZOPS_DECISIONS_URI``, else the home's ``decisions/``); it is flushed and closed when the
server stops (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from threadpoolctl import threadpool_limits

from quizops.errors import DecisionSinkError, ModelNotFoundError
from quizops.featurestore.serving import open_state_store
from quizops.home import PII_KEY_ENV, PII_KEY_FILE_ENV, local_home
from quizops.names import CANARY_VARIANT, CHAMPION_VARIANT, DECISIONS_URI_ENV, VARIANT_ENV
from quizops_predictor import contract, heap
from quizops_predictor.decisions import DecisionLog, configured_pii_key, open_sink
from quizops_predictor.loading import CHAMPION_URI, load_policy
from quizops_predictor.metrics import create_metrics
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
        default=os.environ.get(DECISIONS_URI_ENV) or None,
        help=f"decision log folder or gs://bucket/prefix (default ${DECISIONS_URI_ENV}, "
        f"else {home.decisions})",
    )
    parser.add_argument(
        "--decisions-batch-records",
        type=int,
        default=1000,
        help="gs:// sink: upload a batch at this many decisions (default 1000)",
    )
    parser.add_argument(
        "--decisions-batch-seconds",
        type=float,
        default=10.0,
        help="gs:// sink: upload a batch at the latest after this many seconds (default 10)",
    )
    parser.add_argument(
        "--decisions-spill-dir",
        default=None,
        help="gs:// sink: local folder for decisions still not uploaded at shutdown "
        "(default $TMPDIR/quizops-decisions-spill)",
    )
    parser.add_argument(
        "--variant",
        choices=(CHAMPION_VARIANT, CANARY_VARIANT),
        default=os.environ.get(VARIANT_ENV) or CHAMPION_VARIANT,
        help=f"serving variant in metrics and decisions (default ${VARIANT_ENV} or champion)",
    )
    limits = parser.add_argument_group("request limits (beyond: 413)")
    limits.add_argument("--max-body-bytes", type=int, default=contract.MAX_BODY_BYTES)
    limits.add_argument("--max-instances", type=int, default=contract.MAX_INSTANCES)
    limits.add_argument("--max-history", type=int, default=contract.MAX_HISTORY)
    limits.add_argument("--max-candidates", type=int, default=contract.MAX_CANDIDATES)
    parser.add_argument(
        "--workers", type=int, default=1, help="scoring threads (default 1; bounded pool)"
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=64,
        help="inference requests served at once; more are answered 503 (default 64)",
    )
    parser.add_argument(
        "--gc-young-threshold",
        type=int,
        default=heap.YOUNG_THRESHOLD,
        help=f"garbage collector's young-generation threshold (default {heap.YOUNG_THRESHOLD}; "
        "CPython's is 700)",
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.variant not in (CHAMPION_VARIANT, CANARY_VARIANT):
        parser.error(f"{VARIANT_ENV}: must be {CHAMPION_VARIANT} or {CANARY_VARIANT}")
    try:
        limits = contract.Limits(
            max_body_bytes=args.max_body_bytes,
            max_instances=args.max_instances,
            max_history=args.max_history,
            max_candidates=args.max_candidates,
        )
    except ValueError as exc:
        parser.error(str(exc))
    if args.gc_young_threshold < 1:
        parser.error("--gc-young-threshold: must be at least 1")
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
    try:
        target = str(args.decisions_dir or home.decisions)
        options = {}
        if target.startswith("gs://"):
            options = {
                "max_records": args.decisions_batch_records,
                "max_seconds": args.decisions_batch_seconds,
                "spill_directory": args.decisions_spill_dir,
            }
        sink = open_sink(target, **options)
    except (DecisionSinkError, OSError) as exc:
        print(f"error: decision log: {exc}", file=sys.stderr)
        return 4
    metrics = create_metrics(args.variant)
    decision_log = DecisionLog(
        sink, configured_pii_key(), variant=args.variant, item_bank=policy.item_bank
    )
    # One request scores one small batch: OpenMP thread start-up in the gain model's predict
    # costs more than it saves (4x slower per decision on 2 cores), so score on one thread.
    threadpool_limits(limits=1)
    model = QuizPolicyModel(
        policy,
        version,
        decision_log=decision_log,
        seed=args.seed,
        limits=limits,
        workers=args.workers,
        metrics=metrics,
        state_store=open_state_store(policy),  # stateful form when a feature store exists
        freeze_heap=True,  # this process serves only this model
    )
    heap.set_young_threshold(args.gc_young_threshold)
    model.load()
    logger.info(
        "serving policy version %s (%d items, variant %s) on http://%s:%d, decisions in %s",
        version or "-",
        len(policy.item_bank),
        args.variant,
        args.host,
        args.port,
        decision_log.location,
    )
    server = BoundModelServer(
        http_port=args.port,
        host=args.host,
        max_body_bytes=limits.max_body_bytes,
        max_in_flight=args.max_in_flight,
        metrics=metrics,
    )
    try:
        server.start([model])
    finally:
        model.stop()  # idempotent: flushes and closes the decision log
        logger.info("predictor stopped; decision log closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
