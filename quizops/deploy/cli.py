"""``quizops deploy``: see what would be deployed without deploying it.

``quizops deploy render --model-uri gs://bucket/models/7/policy --canary-percent 10`` prints the
InferenceService manifest (YAML) that the deploy stage would apply, validated against the CRD
schema; bad arguments exit with status 2 and a one-line message.
"""

from __future__ import annotations

import argparse
import sys

from quizops.errors import ManifestInvalidError
from quizops.names import PREDICTOR_IMAGE, PREDICTOR_SERVICE_ACCOUNT, SERVICE_NAME


def _render(args: argparse.Namespace) -> int:
    import yaml

    from quizops.deploy.manifest import render_inference_service

    if not args.model_uri:
        raise ManifestInvalidError("--model-uri: required (gs://, s3:// or pvc:// URI)")
    canary: int | None = None
    if args.canary_percent not in (None, ""):
        try:
            canary = int(args.canary_percent)
        except ValueError:
            raise ManifestInvalidError("--canary-percent: must be an integer 0..100") from None
        if not 0 <= canary <= 100:
            raise ManifestInvalidError("--canary-percent: must be within 0..100")
    if not args.namespace:
        raise ManifestInvalidError("--namespace: must not be empty")
    manifest = render_inference_service(
        service_name=args.service_name,
        namespace=args.namespace,
        storage_uri=args.model_uri,
        image=args.image,
        model_version=args.model_version,
        canary_traffic_percent=canary,
        service_account=args.service_account,
        decisions_uri=args.decisions_uri,
    )
    sys.stdout.write(yaml.safe_dump(manifest, sort_keys=False))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds ``deploy render`` to the ``quizops`` command line.

    Args:
        subparsers: The parent parser's subparsers.
    """
    deploy = subparsers.add_parser("deploy", help="deployment tools (KServe)")
    actions = deploy.add_subparsers(dest="deploy_command", required=True)
    render = actions.add_parser(
        "render", help="print the InferenceService manifest (CRD-validated YAML)"
    )
    render.add_argument("--model-uri", default="", help="policy folder: gs://, s3:// or pvc://")
    render.add_argument(
        "--canary-percent", default=None, help="canary traffic share 0..100 (omit: full rollout)"
    )
    render.add_argument("--namespace", default="quizops")
    render.add_argument("--service-name", default=SERVICE_NAME)
    render.add_argument("--image", default=PREDICTOR_IMAGE)
    render.add_argument("--model-version", default="", help="registered version (a label)")
    render.add_argument("--service-account", default=PREDICTOR_SERVICE_ACCOUNT)
    render.add_argument(
        "--decisions-uri", default="", help="gs:// prefix of the decision log ('' = in the pod)"
    )
    render.set_defaults(handler=_render)
