"""Starts a training run when monitoring crossed a threshold, through the KFP v2beta1 REST API.

The library never imports kfp; this module speaks the API's JSON directly (the same requests
``kfp.Client`` sends: find the pipeline by name, take its newest version, find or create the
experiment, create the run). In a cluster the task authenticates with the pipeline runner's
projected token (``/var/run/secrets/kubeflow/pipelines/token``) or ``KFP_TOKEN``. Locally
(``kfp_host = "local"``) nothing is sent: the request is written for the local driver
(``make monitor``), which starts ``make run`` on the span.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quizops import storage
from quizops.errors import SubmissionError

logger = logging.getLogger(__name__)

#: The KFP API inside a standard Kubeflow installation.
IN_CLUSTER_HOST = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
#: KFP's projected service-account token for pipeline pods (multi-user installations).
TOKEN_FILE = "/var/run/secrets/kubeflow/pipelines/token"
#: kfp_host value that records the request for the local driver instead of calling an API.
LOCAL = "local"
#: Arguments every retraining run gets on top of the environment's: its data gate does not
#: compare with the serving decisions of the span, whose skew is what started the run (the
#: monitoring report records it); drift, schema and domain checks still gate it.
RETRAINING_OVERRIDES: dict[str, Any] = {"decisions_uri": ""}


@dataclass(frozen=True)
class RetrainingRequest:
    """What the retraining stage did.

    Attributes:
        started: Whether a run was started (cluster) or requested (local).
        span: The span the training run reads.
        run_id: The KFP run id (cluster), else ``""``.
        reasons: Why (the crossed thresholds).
        target: ``kfp`` or ``local``.
    """

    started: bool
    span: str
    run_id: str
    reasons: tuple[str, ...]
    target: str


class _Api:
    """The few KFP v2beta1 calls this module needs (bounded timeouts, one-line errors)."""

    def __init__(self, host: str, token: str, timeout: float) -> None:
        self.base = host.rstrip("/") + "/apis/v2beta1"
        self.token = token
        self.timeout = timeout

    def call(self, method: str, path: str, query: dict[str, str] | None = None,
             body: Any = None) -> dict[str, Any]:  # fmt: skip
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", "")
            except ValueError:
                message = ""
            line = message.splitlines()[0][:300] if message else exc.reason
            raise SubmissionError(f"KFP API {method} {path}: {exc.code} {line}") from None
        except urllib.error.URLError as exc:
            raise SubmissionError(f"KFP API at {self.base} unreachable ({exc.reason})") from None

    @staticmethod
    def name_filter(name: str) -> dict[str, str]:
        return {
            "filter": json.dumps(
                {
                    "predicates": [
                        {"operation": "EQUALS", "key": "display_name", "stringValue": name}
                    ]
                }
            )
        }


def _token() -> str:
    if os.environ.get("KFP_TOKEN"):
        return os.environ["KFP_TOKEN"]
    path = Path(TOKEN_FILE)
    return path.read_text().strip() if path.is_file() else ""


def start_training_run(
    *,
    kfp_host: str,
    arguments: dict[str, Any],
    experiment: str,
    pipeline_name: str = "quizops-training",
    run_name: str = "",
    token: str | None = None,
    timeout: float = 30.0,
) -> str:
    """Creates a run of the newest version of the training pipeline.

    Args:
        kfp_host: The KFP API endpoint.
        arguments: The run's parameters.
        experiment: Experiment name (created if missing).
        pipeline_name: The uploaded pipeline's name.
        run_name: Display name of the run.
        token: Bearer token (None = ``KFP_TOKEN`` or the projected token file).
        timeout: Seconds per request.

    Returns:
        The run id.

    Raises:
        SubmissionError: The pipeline is not uploaded, or the API refused a request.
    """
    api = _Api(kfp_host, _token() if token is None else token, timeout)
    pipelines = api.call("GET", "/pipelines", api.name_filter(pipeline_name)).get("pipelines")
    if not pipelines:
        raise SubmissionError(f"pipeline '{pipeline_name}' is not uploaded: run quizops submit")
    pipeline_id = pipelines[0]["pipeline_id"]
    versions = api.call("GET", f"/pipelines/{pipeline_id}/versions", {"page_size": "100"}).get(
        "pipeline_versions"
    )
    if not versions:
        raise SubmissionError(f"pipeline '{pipeline_name}' has no version")
    newest = max(versions, key=lambda v: v.get("created_at", ""))
    found = api.call("GET", "/experiments", api.name_filter(experiment)).get("experiments")
    if found:
        experiment_id = found[0]["experiment_id"]
    else:
        experiment_id = api.call("POST", "/experiments", body={"display_name": experiment})[
            "experiment_id"
        ]
    run = api.call(
        "POST",
        "/runs",
        {"experiment_id": experiment_id},
        body={
            "display_name": run_name or f"{pipeline_name}-retrain",
            "experiment_id": experiment_id,
            "pipeline_version_reference": {
                "pipeline_id": pipeline_id,
                "pipeline_version_id": newest["pipeline_version_id"],
            },
            "runtime_config": {"parameters": arguments},
        },
    )
    logger.info("started training run %s", run["run_id"])
    return str(run["run_id"])


def run_retraining_stage(
    *,
    span: str,
    reasons: list[str],
    kfp_host: str,
    experiment: str,
    training_arguments: dict[str, Any],
    request_path: str,
) -> RetrainingRequest:
    """Starts (cluster) or requests (local) a training run on the monitored span.

    Args:
        span: The monitored decision span; the training run reads the same span of logs.
        reasons: The crossed thresholds.
        kfp_host: KFP API endpoint, or ``local`` to leave the request to the local driver.
        experiment: Experiment of the training run.
        training_arguments: The training pipeline's arguments (``span`` and
            :data:`RETRAINING_OVERRIDES` are set here).
        request_path: Where the JSON record of the request goes.

    Returns:
        What was done.

    Raises:
        SubmissionError: The API refused the run (nothing written).
    """
    arguments = {**training_arguments, **RETRAINING_OVERRIDES, "span": span}
    if kfp_host == LOCAL:
        request = RetrainingRequest(True, span, "", tuple(reasons), "local")
    else:
        run_id = start_training_run(
            kfp_host=kfp_host or IN_CLUSTER_HOST,
            arguments=arguments,
            experiment=experiment,
            run_name=f"quizops-training-retrain-{span}",
        )
        request = RetrainingRequest(True, span, run_id, tuple(reasons), "kfp")
    record = {**request.__dict__, "reasons": list(request.reasons), "arguments": sorted(arguments)}
    storage.write_bytes(request_path, json.dumps(record, indent=2).encode())
    return request
