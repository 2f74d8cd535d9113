"""The local target: smoke-test the predictor process on 127.0.0.1, then promote in MLflow."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quizops.deploy.analysis import AnalysisResult, CanaryCriteria, VariantFigures, judge
from quizops.deploy.report import DeploymentRecord, now
from quizops.errors import (
    DeploymentError,
    InputDataError,
    PredictorStartError,
)
from quizops.names import SERVICE_NAME, VARIANT_ENV

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
        raise DeploymentError(
            "smoke prediction: unexpected fields (expected exactly item_id, propensity, "
            "policy_version)"
        )
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


def _champion_policy_dir(version: str, tracking_uri: str, destination: Path) -> Path:
    """Downloads the registered champion's policy folder (no global MLflow setting touched)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from quizops.tracking import (
        REGISTERED_MODEL,
        no_download_progress_bar,
        registry_client,
        resolve_tracking_uri,
    )

    uri = resolve_tracking_uri(tracking_uri)
    try:
        source = registry_client(uri).get_model_version_download_uri(REGISTERED_MODEL, version)
        with no_download_progress_bar():  # no bar in the task's log
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=str(destination), tracking_uri=uri
            )
    except (MlflowException, OSError) as exc:
        raise DeploymentError(
            f"local canary: champion version {version} could not be downloaded "
            f"({type(exc).__name__})"
        ) from exc
    folder = Path(local) / "artifacts" / "policy"  # the layout training registers
    if not (folder / "policy.json").is_file():
        raise DeploymentError(
            f"local canary: champion version {version} holds no artifacts/policy/policy.json"
        )
    return folder


def deploy_local(
    model_dir: str | Path,
    model_version: str,
    tracking_uri: str = "",
    ready_timeout: float = 90.0,
    promote: bool = True,
    replay_table: str | Path | None = None,
    max_replay_requests: int = 1000,
    replay_time_budget: float = 120.0,
    criteria: CanaryCriteria | None = None,
) -> DeploymentRecord:
    """Local target: smoke-test the predictor, compare it with the champion, then promote.

    With ``replay_table`` and a champion other than this version, the champion and the
    challenger run side by side on 127.0.0.1 and answer the same bounded replay of logged
    interactions (:func:`analyse_local_canary`); a challenger that fails the judgement is not
    promoted (the champion, which ``make serve`` follows, stays).

    Args:
        model_dir: The saved policy folder.
        model_version: Registered version ("" skips the promotion).
        tracking_uri: MLflow tracking URI.
        ready_timeout: Seconds to wait for readiness.
        promote: Set the ``champion`` alias after the checks pass.
        replay_table: De-identified interaction table to replay (None: no comparison).
        max_replay_requests: Replayed requests at most.
        replay_time_budget: Seconds for the replay at most.
        criteria: Thresholds of the comparison.

    Returns:
        The record (status ``promoted``).

    Raises:
        DeploymentError: The process did not start, answered against the contract, or the
            challenger lost the comparison.
        ModelNotFoundError: The folder holds no policy.
        RegistryError: The registry could not be read (fails closed).
    """
    from quizops.policy import QuizPolicy
    from quizops.serving import PredictorProcess
    from quizops.tracking import champion_for_promotion, promote_in_registry, read_champion

    model_dir = Path(model_dir)
    policy = QuizPolicy.load(model_dir)
    # Read before the smoke test, fail closed; promotion refuses if it changes meanwhile.
    registered = bool(promote and model_version)
    if registered:
        champion = champion_for_promotion(str(model_version), tracking_uri)
    else:
        champion = read_champion(tracking_uri) if replay_table else ""
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
        if replay_table is not None and champion and champion != str(model_version):
            requests = replay_requests(replay_table, max_replay_requests)
            champion_dir = _champion_policy_dir(champion, tracking_uri, Path(scratch) / "champ")
            record.event(
                f"local canary: version {model_version} against champion {champion} on "
                f"{len(requests)} replayed requests"
            )
            result = analyse_local_canary(
                champion_dir,
                model_dir,
                requests,
                criteria,
                time_budget=replay_time_budget,
                ready_timeout=ready_timeout,
            )
            record.analysis = result.to_dict()
            record.checks["local_canary"] = result.promote
            if not result.promote:
                raise DeploymentError(
                    f"local canary of version {model_version or '?'} failed ("
                    + "; ".join(result.reasons)
                    + f"); champion {champion} stays"
                )
        elif replay_table is not None:
            record.checks["local_canary"] = "skipped: no other champion to compare with"
    if registered:
        record.previous_version = promote_in_registry(
            str(model_version), tracking_uri, expected_champion=champion
        )
        record.event(f"MLflow alias champion -> version {model_version}")
    record.status = "promoted"
    record.finished = now()
    return record


def rollback_local(tracking_uri: str = "", expected_champion: str | None = None) -> str:
    """Local rollback: the ``previous`` version becomes champion again.

    ``make serve`` (the predictor with ``models:/quiz-policy@champion``) serves it from its
    next start.

    Args:
        tracking_uri: MLflow tracking URI.
        expected_champion: Refuse unless the champion is still this version.

    Returns:
        The restored champion's version.

    Raises:
        RegistryError: No previous version, a changed champion, or a registry failure.
    """
    from quizops.tracking import rollback_to_previous

    return rollback_to_previous(tracking_uri, expected_champion).champion


# ----------------------------------------------------------------------------- local canary


@dataclass(frozen=True)
class ReplayRequest:
    """One logged interaction replayed as a v1 instance.

    Attributes:
        instance: ``{"student_id", "history"}`` (the pseudonymous id from the validated table).
        logged_item: The item the student was actually given next.
        logged_correct: Whether the student answered it correctly (0 or 1).
    """

    instance: dict[str, Any]
    logged_item: str
    logged_correct: int


def replay_requests(
    table_path: str | Path, max_requests: int = 2000, max_history: int = 50
) -> list[ReplayRequest]:
    """Builds a bounded replay of logged interactions (the de-identified canonical table).

    For each student in time order, every answer after the first becomes one request whose
    history is the answers before it (at most ``max_history``). Students are taken in turn
    (round robin), so a long history does not crowd out the others.

    Args:
        table_path: Parquet (or CSV) table with ``student_id``, ``item_id``, ``correct`` and
            ``timestamp`` (the validated, pseudonymized table).
        max_requests: Requests at most.
        max_history: History items per request at most.

    Returns:
        The requests.

    Raises:
        InputDataError: The table is unreadable or lacks a column.
    """
    import pandas as pd

    path = Path(table_path)
    columns = ["student_id", "item_id", "correct", "timestamp"]
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, usecols=columns, dtype={"student_id": str, "item_id": str})
        else:
            frame = pd.read_parquet(path, columns=columns)
    except (OSError, ValueError, KeyError) as exc:
        raise InputDataError(
            f"{path}: replay table unreadable or lacks one of the columns {columns}"
        ) from exc
    frame = frame.dropna().sort_values(["student_id", "timestamp"], kind="stable")
    per_student: list[list[ReplayRequest]] = []
    for student, rows in frame.groupby("student_id", sort=True):
        items = rows["item_id"].astype(str).tolist()
        correct = rows["correct"].astype(int).tolist()
        requests = [
            ReplayRequest(
                instance={
                    "student_id": str(student),
                    "history": [
                        {"item_id": i, "correct": c}
                        for i, c in zip(
                            items[max(0, t - max_history) : t],
                            correct[max(0, t - max_history) : t],
                            strict=True,
                        )
                    ],
                },
                logged_item=items[t],
                logged_correct=correct[t],
            )
            for t in range(1, len(items))
        ]
        if requests:
            per_student.append(requests)
    out: list[ReplayRequest] = []
    depth = 0
    while len(out) < max_requests and any(depth < len(r) for r in per_student):
        for requests in per_student:
            if depth < len(requests) and len(out) < max_requests:
                out.append(requests[depth])
        depth += 1
    return out


def replay_figures(
    answers: list[tuple[int, float, str | None]], requests: list[ReplayRequest]
) -> VariantFigures:
    """Figures of one variant from its answers to the replayed requests.

    Errors are answers other than 200 (on logged requests the champion answers, a 4xx is a
    regression too). The outcome is the replay estimator (Li et al., 2011): among requests
    where the variant chose the item the student was actually given, the share answered
    correctly; unbiased when the logging policy chose uniformly at random, and otherwise a
    paired comparison on the same logged answers.

    Args:
        answers: Per request ``(status, seconds, chosen item or None)``.
        requests: The requests, in the same order.

    Returns:
        The figures.
    """
    import numpy as np

    latencies = [seconds for status, seconds, _ in answers if status == 200]
    matched = [
        request.logged_correct
        for (status, _, item), request in zip(answers, requests, strict=True)
        if status == 200 and item == request.logged_item
    ]
    return VariantFigures(
        requests=float(len(answers)),
        errors=float(sum(1 for status, _, _ in answers if status != 200)),
        p99_seconds=float(np.quantile(latencies, 0.99)) if latencies else None,
        outcome_successes=float(sum(matched)),
        outcome_trials=float(len(matched)),
    )


def _ask(process: Any, instance: dict[str, Any], timeout: float) -> tuple[int, float, str | None]:
    started = time.perf_counter()
    try:
        status, body = process.predict_v1([instance], timeout=timeout)
    except OSError:
        return 599, time.perf_counter() - started, None
    seconds = time.perf_counter() - started
    item = None
    if status == 200 and isinstance(body, dict):
        try:
            item = str(body["predictions"][0]["item_id"])
        except (KeyError, IndexError, TypeError):
            status = 598  # an answer against the contract counts as an error
    return status, seconds, item


def analyse_local_canary(
    champion_dir: str | Path,
    challenger_dir: str | Path,
    requests: list[ReplayRequest],
    criteria: CanaryCriteria | None = None,
    time_budget: float = 120.0,
    request_timeout: float = 5.0,
    ready_timeout: float = 90.0,
) -> AnalysisResult:
    """The local canary: champion and challenger processes on 127.0.0.1, the same replay.

    Each request goes to both processes (alternating which goes first), bounded by the number
    of requests and by ``time_budget``; then the KServe target's judgement decides
    (:func:`quizops.deploy.analysis.judge`).

    Args:
        champion_dir: The champion's policy folder.
        challenger_dir: The challenger's policy folder.
        requests: The replay (see :func:`replay_requests`).
        criteria: Thresholds (default: :class:`CanaryCriteria` with ``min_requests`` scaled to
            the replay, ``min_outcome_trials`` 30, latency bounds loosened for two
            processes sharing one machine, and the outcome test used when there are enough
            matched decisions but not required).
        time_budget: Seconds for the replay at most.
        request_timeout: Seconds per request.
        ready_timeout: Seconds for each process to become ready.

    Returns:
        The result (``variants``, ``ab_test``, ``reasons``).

    Raises:
        DeploymentError: A process did not start, or the replay is empty.
    """
    from quizops.serving import PredictorProcess

    if not requests:
        raise DeploymentError("local canary: the replay holds no requests")
    # Two processes on one shared machine: latency differences within 3x are noise here.
    criteria = criteria or CanaryCriteria(
        min_requests=min(100, len(requests)),
        max_p99_seconds=1.0,
        max_p99_ratio=3.0,
        # A two-proportion test on fewer than 30 outcomes per arm is noise (the normal
        # approximation fails): below that the outcome test is reported as not run.
        min_outcome_trials=30,
        require_outcome=False,
    )
    answers: dict[str, list[tuple[int, float, str | None]]] = {"champion": [], "canary": []}
    with tempfile.TemporaryDirectory(prefix="quizops-canary-") as scratch:
        processes = {
            variant: PredictorProcess(
                model_dir=folder,
                decisions_dir=Path(scratch) / variant,
                env={VARIANT_ENV: variant},
            )
            for variant, folder in (("champion", champion_dir), ("canary", challenger_dir))
        }
        try:
            for process in processes.values():
                process.start(ready_timeout=ready_timeout)
            deadline = time.monotonic() + time_budget
            for index, request in enumerate(requests):
                if time.monotonic() > deadline:
                    logger.warning("local canary: time budget spent after %d requests", index)
                    break
                order = ("champion", "canary") if index % 2 == 0 else ("canary", "champion")
                for variant in order:
                    answers[variant].append(
                        _ask(processes[variant], request.instance, request_timeout)
                    )
        except PredictorStartError as exc:
            raise DeploymentError(f"local canary: a predictor did not start: {exc}") from exc
        finally:
            for process in processes.values():
                process.stop()
    replayed = requests[: len(answers["canary"])]
    champion = replay_figures(answers["champion"], replayed)
    canary = replay_figures(answers["canary"], replayed)
    verdict, reasons, ab = judge(champion, canary, criteria)
    result = AnalysisResult(
        promote=verdict is True,
        reasons=reasons,
        variants={"champion": champion.summary(), "canary": canary.summary()},
        ab_test=ab,
        samples=len(replayed),
    )
    if verdict is None:
        result.reasons.insert(0, "replay ended without enough data to judge the canary")
    return result
