"""The local target: smoke-test the predictor process on 127.0.0.1, then promote in MLflow."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from quizops.deploy.report import DeploymentRecord, now
from quizops.errors import DeploymentError, PredictorStartError
from quizops.names import SERVICE_NAME

logger = logging.getLogger(__name__)

#: Student id of the smoke prediction (not a person; kept out of the real decision log).
SMOKE_INSTANCE_ID = "deploy-smoke-check"


def check_v1_answer(status: int, body: Any, item_bank: set[str] | None, version: str) -> None:
    """Checks one v1 answer against the predictor contract.

    Messages name the field at fault, never a value from the answer.

    Args:
        status: HTTP status.
        body: Decoded body.
        item_bank: Items the answer may name (None: not checked).
        version: Expected ``policy_version`` ("" skips the check).

    Raises:
        DeploymentError: The answer breaks the contract.
    """
    if status != 200:
        raise DeploymentError(f"smoke prediction answered HTTP {status}")
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != 1:
        count = len(predictions) if isinstance(predictions, list) else "no list of"
        raise DeploymentError(f"smoke prediction: expected one prediction, got {count}")
    answer = predictions[0]
    if not isinstance(answer, dict) or set(answer) != {"item_id", "propensity", "policy_version"}:
        fields = sorted(answer) if isinstance(answer, dict) else type(answer).__name__
        raise DeploymentError(f"smoke prediction: unexpected fields {fields}")
    if not isinstance(answer["item_id"], str) or (
        item_bank is not None and answer["item_id"] not in item_bank
    ):
        raise DeploymentError("smoke prediction: item_id not in the bank of candidates")
    propensity = answer["propensity"]
    if not isinstance(propensity, float | int) or not 0.0 < float(propensity) <= 1.0:
        raise DeploymentError("smoke prediction: propensity not in (0, 1]")
    if version and answer["policy_version"] != version:
        raise DeploymentError(
            f"smoke prediction: policy_version differs from the expected version {version!r}"
        )


def smoke_test_process(process: Any, policy: Any, record: DeploymentRecord) -> None:
    """Checks readiness and one v1 prediction of a started predictor process.

    Args:
        process: A started :class:`quizops.serving.PredictorProcess`.
        policy: The :class:`quizops.policy.QuizPolicy` it serves.
        record: Where the checks go.

    Raises:
        DeploymentError: Not ready or an answer against the contract.
    """
    from quizops.serving import http_json

    bank = policy.item_bank
    status, _ = http_json("GET", f"{process.base_url}/v2/health/ready")
    record.checks["health_ready"] = status == 200
    if status != 200:
        raise DeploymentError(f"/v2/health/ready answered HTTP {status}")
    instance = {
        "student_id": SMOKE_INSTANCE_ID,
        "history": [{"item_id": bank[0], "correct": 1}],
        "candidates": bank[: min(5, len(bank))],
    }
    started = time.perf_counter()
    status, body = process.predict_v1([instance])
    record.checks["v1_latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    check_v1_answer(status, body, set(instance["candidates"]), policy.version)
    record.checks["v1_contract"] = True
    record.event(f"smoke prediction {body['predictions'][0]}")


def deploy_local(
    model_dir: str | Path,
    model_version: str,
    tracking_uri: str = "",
    ready_timeout: float = 90.0,
    promote: bool = True,
) -> DeploymentRecord:
    """Local target: smoke-test the predictor process on the policy, then promote in MLflow.

    Args:
        model_dir: The saved policy folder.
        model_version: Registered version ("" skips the promotion).
        tracking_uri: MLflow tracking URI.
        ready_timeout: Seconds to wait for readiness.
        promote: Set the ``champion`` alias after the checks pass.

    Returns:
        The record (status ``promoted``).

    Raises:
        DeploymentError: The process did not start or answered against the contract.
        ModelNotFoundError: The folder holds no policy.
    """
    from quizops.policy import QuizPolicy
    from quizops.serving import PredictorProcess
    from quizops.tracking import promote_in_registry, read_champion

    model_dir = Path(model_dir)
    policy = QuizPolicy.load(model_dir)
    # Read before the smoke test, fail closed; promotion refuses if it changes meanwhile.
    champion = read_champion(tracking_uri) if promote and model_version else ""
    record = DeploymentRecord(
        target="local",
        status="failed",
        model_uri=str(model_dir),
        model_version=str(model_version),
        service_name=SERVICE_NAME,
        started=now(),
    )
    with tempfile.TemporaryDirectory(prefix="quizops-deploy-") as scratch:
        # The smoke decision goes to a scratch log: it must not enter the real decision log.
        process = PredictorProcess(model_dir=model_dir, decisions_dir=Path(scratch) / "decisions")
        try:
            process.start(ready_timeout=ready_timeout)
        except PredictorStartError as exc:
            raise DeploymentError(f"local predictor did not start: {exc}") from exc
        try:
            record.event(f"predictor ready on {process.base_url}")
            smoke_test_process(process, policy, record)
        finally:
            code = process.stop()
            record.event(f"predictor stopped (exit {code})")
    if promote and model_version:
        record.previous_version = promote_in_registry(
            str(model_version), tracking_uri, expected_champion=champion
        )
        record.event(f"MLflow alias champion -> version {model_version}")
    record.status = "promoted"
    record.finished = now()
    return record
