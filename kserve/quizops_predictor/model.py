"""The ``quiz-policy`` KServe model: v1 and v2 (Open Inference Protocol) on one policy.

Model work (parsing, knowledge tracing, scoring, sampling, decision logging) runs in scoring
threads fed by a queue (:mod:`quizops_predictor.batching`), never on the event loop, so that
health probes and ``/metrics`` answer while a request is scored; requests that queue up while
the scorer works are scored in one pass. Decisions are logged only once every instance of a
request has been answered: a request rejected at any point logs nothing.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from kserve import Model
from quizops.errors import InputDataError, RequestTooLargeError
from quizops.featurestore.serving import StatefulBatch, StatefulRequest
from quizops.policy import QuizPolicy
from quizops_predictor.batching import Batcher
from quizops_predictor.contract import (
    DEFAULT_LIMITS,
    MODEL_NAME,
    V2_INPUT,
    V2_OUTPUTS,
    ContractError,
    Instance,
    Limits,
    parse_v1,
    parse_v2_elements,
)
from quizops_predictor.decisions import DecisionLog, Record
from quizops_predictor.heap import freeze_long_lived
from quizops_predictor.metrics import PredictorMetrics

logger = logging.getLogger(__name__)

#: Header a caller (or the mesh: Istio, Knative) sets to identify a request.
REQUEST_ID_HEADER = "x-request-id"


class FieldError(InvalidInput):
    """A 400 whose message is the predictor's own: a field path and a kind of problem, no value."""


class TooLargeError(FieldError):
    """A 413: the request exceeds a configured limit (instances, history, candidates)."""


_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def _new_request_id() -> str:
    """A request id unique across processes (random prefix) without a syscall per request."""
    return f"{_ID_PREFIX}-{next(_ID_COUNTER):x}"


def _single_threaded_scoring() -> None:
    """Thread-local settings of a scoring thread.

    OpenMP's thread count is per calling thread: without this the gain model's predict starts
    a team of OpenMP threads per call (4x slower per decision on 2 cores, and far worse when the
    cores are shared). scikit-learn's finiteness check is skipped: the design matrix is built
    from probabilities and the item bank, never from request numbers.
    """
    import sklearn
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    sklearn.set_config(assume_finite=True)


@dataclass
class Prepared:
    """A parsed request waiting for its choices.

    Attributes:
        protocol: ``v1`` or ``v2``.
        request_id: The request's id.
        instances: Its parsed instances.
        request: The v2 request (None for v1).
    """

    protocol: str
    request_id: str
    instances: list[Instance]
    request: InferRequest | None = None


def _answers_behind(n: int, instances: Sequence[Any], stored: dict[int, Any]) -> int:
    """Answers behind instance ``n``'s state: the stored state's ``n_answers`` (stateful form)
    or the history's length. The decision record's ``history_length`` and the question's place
    for a policy's endgame (``PlanningModel.endgame``) are this one figure."""
    return int(stored[n].n_answers) if n in stored else len(instances[n].history)


def _field_error(exc: ContractError) -> FieldError:
    if isinstance(exc, RequestTooLargeError):
        return TooLargeError(str(exc))
    return FieldError(str(exc))


class _NoBatch:
    """Stands in for a :class:`StatefulBatch` when a request has no stateful instance."""

    def __enter__(self) -> _NoBatch:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NO_BATCH = _NoBatch()


class QuizPolicyModel(Model):
    """Serves a :class:`QuizPolicy`: one chosen item and its propensity per instance."""

    def __init__(
        self,
        policy: QuizPolicy,
        policy_version: str,
        decision_log: DecisionLog | None = None,
        seed: int | None = None,
        name: str = MODEL_NAME,
        limits: Limits = DEFAULT_LIMITS,
        workers: int = 1,
        metrics: PredictorMetrics | None = None,
        state_store: Any = None,
        freeze_heap: bool = False,
    ) -> None:
        """Wraps a loaded policy.

        Args:
            policy: The policy to serve.
            policy_version: The version reported with every prediction.
            decision_log: Where decisions are logged (None: not logged).
            seed: Seed of the sampling generator (None: fresh entropy).
            name: The model name on the endpoints.
            limits: Request bounds.
            workers: Scoring threads (default 1: the GIL serializes scoring; the event loop
                never scores).
            metrics: Prometheus metrics (None: not counted).
            state_store: The feature store of the stateful form
                (:class:`quizops.featurestore.online.OnlineStateStore`; None: stateless only).
            freeze_heap: Move long-lived objects out of the garbage collector's reach at
                :meth:`load` and after the first scoring pass (:mod:`quizops_predictor.heap`;
                the served process only: it is process-wide).
        """
        super().__init__(name)
        self.policy = policy
        self.policy_version = policy_version
        self.decision_log = decision_log
        self.limits = limits
        self.metrics = metrics
        self.state_store = state_store
        bank = [str(item) for item in policy.item_bank]
        self._item_bank = frozenset(bank)
        # Items training left out (untraceable skills): counted apart among unknown items.
        self._left_out = frozenset(policy.tracer.left_out_items)
        self._bank = bank
        self._all_rows = np.arange(len(bank))
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self.freeze_heap = freeze_heap
        self._first_pass_done = False
        self._batcher = Batcher(
            self._score_pass,
            threads=workers,
            max_requests=32,
            thread_setup=_single_threaded_scoring,
            name="score",
        )
        self.ready = False

    def load(self) -> bool:
        """Marks the (already loaded) policy ready.

        Returns:
            True.
        """
        self.ready = True
        if self.metrics is not None:
            self.metrics.set_model(self.name, self.policy_version)
        if self.freeze_heap:
            freeze_long_lived(collect=True)
        return self.ready

    def stop(self) -> None:
        """Stops scoring and closes the decision log (flushing batched records)."""
        self.ready = False
        self._batcher.close()
        if self.decision_log is not None:
            self.decision_log.close()

    def get_input_types(self) -> list[dict]:
        """v2 model metadata: the one input tensor.

        Returns:
            Input descriptions.
        """
        return [{"name": V2_INPUT, "datatype": "BYTES", "shape": [-1]}]

    def get_output_types(self) -> list[dict]:
        """v2 model metadata: the three output tensors.

        Returns:
            Output descriptions.
        """
        return [
            {"name": "item_id", "datatype": "BYTES", "shape": [-1]},
            {"name": "propensity", "datatype": "FP32", "shape": [-1]},
            {"name": "policy_version", "datatype": "BYTES", "shape": [-1]},
        ]

    def _choose_from_states(
        self,
        states: np.ndarray,
        candidates: Sequence[str] | None,
        positions: np.ndarray | None = None,
    ) -> tuple[list[str], list[float]]:
        """Samples one item per state: ``QuizPolicy.choose_many`` from its states on.

        The predictor computes each instance's state once, for the choice and for the
        decision log (``choose_many`` would trace the history a second time); from the states
        on this is the policy's own code: its ``probabilities`` and its sampling rule on the
        served generator (a test checks the choices and propensities equal ``choose_many``'s
        under the same seed). The caller holds the generator's lock.

        Args:
            states: Matrix [students, state size].
            candidates: Items allowed (None: the whole bank).
            positions: Answers behind each state (a history's length, a stored state's
                ``n_answers``), for a policy's endgame.

        Returns:
            Chosen item ids and their propensities.

        Raises:
            InputDataError: An unknown candidate.
        """
        policy = self.policy
        rows = self._all_rows if candidates is None else policy.item_rows(candidates)
        probs = policy.probabilities(states, rows, positions)
        sample = getattr(policy, "_sample", None)
        if sample is not None:
            picks = sample(probs, self._rng)
        else:  # the policy's documented rule: cumulative sum against one uniform draw
            cumulative = probs.cumsum(axis=1)
            draws = self._rng.random((len(probs), 1)) * cumulative[:, -1:]
            picks = np.minimum((cumulative < draws).sum(axis=1), probs.shape[1] - 1)
        bank = self._bank
        return (
            [bank[rows[p]] for p in picks.tolist()],
            probs[np.arange(len(picks)), picks].tolist(),
        )

    def choose_all(
        self, instances: Sequence[Instance], request_id: str = "", protocol: str = "v1"
    ) -> tuple[list[tuple[str, float]], list[Record]]:
        """Chooses one item per instance; builds (does not write) the decision records.

        Instances that share a candidate list are scored in one model call.

        Args:
            instances: Parsed instances.
            request_id: The request's id, for the records.
            protocol: ``v1`` or ``v2``, for the records.

        Returns:
            ``(item_id, propensity)`` per instance, and one record per instance.

        Raises:
            FieldError: The policy rejected an instance (400).
        """
        stateful = [n for n, instance in enumerate(instances) if instance.stateful]
        where = "instances" if protocol == "v1" else V2_INPUT
        if stateful and self.state_store is None:
            raise FieldError(
                f"{where}[{stateful[0]}].history: required (this predictor has no feature store "
                "for the stateful form)"
            )
        batch = StatefulBatch(
            self.state_store,
            [
                StatefulRequest(
                    instances[n].student_id, instances[n].answer, instances[n].request_id
                )
                for n in stateful
            ],
        )
        try:
            with batch if stateful else _NO_BATCH:
                stored = dict(zip(stateful, batch.states, strict=True))
                chosen, states = self._choose(instances, stored)
                batch.commit()  # every instance answered: push the new states
        except InputDataError:
            raise FieldError(f"{where}: an answer was rejected by the knowledge tracer") from None
        records: list[Record] = []
        if self.decision_log is not None:
            for n, instance in enumerate(instances):
                item, propensity = chosen[n]
                records.append(
                    self.decision_log.record(
                        request_id=instance.request_id or request_id,
                        instance=n,
                        student_id=instance.student_id,
                        history_length=_answers_behind(n, instances, stored),
                        candidates=instance.candidates,
                        state=states[n],
                        item_id=item,
                        propensity=propensity,
                        policy_version=self.policy_version,
                        protocol=protocol,
                        unknown_history=getattr(instance, "unknown_history", 0),
                        unknown_candidates=getattr(instance, "unknown_candidates", 0),
                    )
                )
        return chosen, records

    def _choose(
        self, instances: Sequence[Instance], stored: dict[int, Any]
    ) -> tuple[list[tuple[str, float]], list[list[float]]]:
        """Chooses per instance: from the history, or from the stored state (stateful form).

        Returns:
            ``(item_id, propensity)`` per instance, and the state each choice was made in.
        """
        groups: dict[tuple[str, ...] | None, list[int]] = {}
        for n, instance in enumerate(instances):
            groups.setdefault(instance.candidates, []).append(n)
        chosen: list[tuple[str, float]] = [("", 0.0)] * len(instances)
        states: list[list[float]] = [[]] * len(instances)
        for candidates, members in groups.items():
            try:
                rows = [
                    stored[n].state if n in stored else self.policy.state(instances[n].history)
                    for n in members
                ]
                matrix = np.array(rows, dtype=np.float64)
                # Answers behind each state: the question's place, for a policy's endgame.
                positions = np.array([_answers_behind(n, instances, stored) for n in members])
                with self._rng_lock:
                    items, propensities = self._choose_from_states(matrix, candidates, positions)
            except InputDataError:
                raise FieldError(
                    f"instances[{members[0]}]: rejected by the policy (an item id of the "
                    "history or candidates)"
                ) from None
            for n, item, p, state in zip(
                members, items, propensities, matrix.tolist(), strict=True
            ):
                chosen[n] = (item, p)
                states[n] = state
        return chosen, states

    def _commit(
        self,
        chosen: Sequence[tuple[str, float]],
        records: Sequence[Record],
        instances: Sequence[Instance] = (),
    ) -> None:
        """Logs and counts the decisions of an answered request, and the outcomes it reports."""
        if self.decision_log is not None and records:
            try:
                self.decision_log.write(records)
            except Exception as exc:  # the answer stands; the sink counts and logs its failure
                logger.error("decision log write failed (%s)", type(exc).__name__)
                if self.metrics is not None:
                    self.metrics.log_failures.labels(variant=self.metrics.variant).inc()
            else:
                if self.metrics is not None:
                    self.metrics.observe_decisions_logged(len(records))
        if self.metrics is not None:
            try:
                self._count(chosen, instances)
            except Exception as exc:  # metrics never fail an answered request
                logger.error("metrics update failed (%s)", type(exc).__name__)

    def _count(self, chosen: Sequence[tuple[str, float]], instances: Sequence[Instance]) -> None:
        """Counts decisions and the outcomes the instances report."""
        if self.metrics is not None:
            for item, propensity in chosen:
                self.metrics.observe_decision(item, propensity)
            for instance in instances:
                # The answer to the previous question: the stateful form's ``answer``, else the
                # last answer of the history.
                answer = getattr(instance, "answer", None)
                if answer is None and instance.history:
                    answer = instance.history[-1]
                if answer is not None:
                    self.metrics.observe_outcome(int(answer[1]))
                self.metrics.observe_unknown_items(
                    getattr(instance, "unknown_history", 0),
                    getattr(instance, "unknown_candidates", 0),
                    getattr(instance, "left_out_history", 0),
                    getattr(instance, "left_out_candidates", 0),
                )

    async def predict(
        self,
        payload: dict | InferRequest | bytes,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict | InferResponse:
        """Answers a v1 body (dict) or a v2 :class:`InferRequest`, scoring in the worker pool.

        Args:
            payload: The decoded request.
            headers: Request headers (``x-request-id`` names the request in the decision log).
            response_headers: Response headers (the request id is echoed back).

        Returns:
            ``{"predictions": [...]}`` for v1, an :class:`InferResponse` for v2.

        Raises:
            FieldError: The request breaks the contract (400, message names the field).
            TooLargeError: The request exceeds a limit (413).
        """
        request_id = (headers or {}).get(REQUEST_ID_HEADER) or ""
        if isinstance(payload, InferRequest):
            request_id = payload.id or request_id
        request_id = request_id[:128] or _new_request_id()
        if response_headers is not None:
            response_headers[REQUEST_ID_HEADER] = request_id
        return await self._batcher.submit(payload, request_id)

    def predict_now(self, payload: dict | InferRequest | bytes, request_id: str = "") -> Any:
        """Answers one request in the calling thread (tests; the server goes through the queue).

        Args:
            payload: A v1 body (dict or JSON bytes) or a v2 :class:`InferRequest`.
            request_id: The request's id for the decision log (default: a new one).

        Returns:
            ``{"predictions": [...]}`` for v1, an :class:`InferResponse` for v2.

        Raises:
            FieldError: The request breaks the contract (400, message names the field).
            TooLargeError: The request exceeds a limit (413).
        """
        prepared = self.prepare(payload, request_id or _new_request_id())
        chosen, records = self.choose_all(
            prepared.instances, prepared.request_id, prepared.protocol
        )
        answer = self.finish(prepared, chosen)
        self._commit(chosen, records, prepared.instances)
        return answer

    def _score_pass(
        self, batch: Sequence[tuple[Any, str]]
    ) -> list[tuple[Any, BaseException | None]]:
        """One pass of a scoring thread; the first one ends by freezing what is long-lived."""
        results = self.score_batch(batch)
        if not self._first_pass_done:
            self._first_pass_done = True
            if self.freeze_heap:  # the server app and the first request's lazy imports exist now
                freeze_long_lived()
        return results

    def score_batch(
        self, batch: Sequence[tuple[Any, str]]
    ) -> list[tuple[Any, BaseException | None]]:
        """Answers several requests with one pass of the policy (the scoring threads call this).

        Args:
            batch: ``(payload, request_id)`` pairs.

        Returns:
            ``(answer, None)`` or ``(None, error)`` per pair, in order.
        """
        results: list[tuple[Any, BaseException | None]] = [(None, None)] * len(batch)
        ready: list[tuple[int, Prepared]] = []
        for n, (payload, request_id) in enumerate(batch):
            try:
                ready.append((n, self.prepare(payload, request_id or _new_request_id())))
            except Exception as exc:
                results[n] = (None, exc)
        if len(ready) > 1:
            try:
                everything = [i for _, prepared in ready for i in prepared.instances]
                chosen, records = self.choose_all(everything, "", "v1")
            except Exception:
                chosen = []  # one request spoils the pass: score them one by one below
            if chosen:
                start = 0
                all_chosen: list[tuple[str, float]] = []
                all_records: list[Record] = []
                all_instances: list[Instance] = []
                for n, prepared in ready:
                    end = start + len(prepared.instances)
                    mine = chosen[start:end]
                    for k, record in enumerate(records[start:end]):
                        record["request_id"] = (
                            prepared.instances[k].request_id or prepared.request_id
                        )
                        record["instance"] = k
                        record["protocol"] = prepared.protocol
                    try:
                        results[n] = (self.finish(prepared, mine), None)
                    except Exception as exc:
                        results[n] = (None, exc)
                    else:
                        all_chosen += mine
                        all_records += records[start:end]
                        all_instances += prepared.instances
                    start = end
                self._commit(all_chosen, all_records, all_instances)
                return results
        for n, prepared in ready:
            try:
                chosen, records = self.choose_all(
                    prepared.instances, prepared.request_id, prepared.protocol
                )
                answer = self.finish(prepared, chosen)
            except Exception as exc:
                results[n] = (None, exc)
            else:
                self._commit(chosen, records, prepared.instances)
                results[n] = (answer, None)
        return results

    def prepare(self, payload: dict | InferRequest | bytes, request_id: str) -> Prepared:
        """Parses and validates a request (no model work).

        Args:
            payload: A v1 body (dict or JSON bytes) or a v2 :class:`InferRequest`.
            request_id: The request's id.

        Returns:
            The parsed request.

        Raises:
            FieldError: The request breaks the contract (400, message names the field).
            TooLargeError: The request exceeds a limit (413).
        """
        if isinstance(payload, InferRequest):
            return self._prepare_v2(payload, request_id)
        if isinstance(payload, bytes | bytearray):
            # A v1 body sent without a JSON content type reaches the model undecoded.
            try:
                payload = json.loads(payload)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise FieldError("body: not valid JSON") from None
            except RecursionError:
                raise FieldError("body: JSON nested too deeply") from None
        try:
            instances = parse_v1(payload, self._item_bank, self.limits, self._left_out)
        except ContractError as exc:
            raise _field_error(exc) from None
        return Prepared("v1", request_id, instances)

    def finish(self, prepared: Prepared, chosen: Sequence[tuple[str, float]]) -> Any:
        """Builds the answer of a request from its choices.

        Args:
            prepared: The parsed request.
            chosen: ``(item_id, propensity)`` per instance.

        Returns:
            ``{"predictions": [...]}`` for v1, an :class:`InferResponse` for v2.
        """
        if prepared.request is not None:
            return self._answer_v2(prepared.request, prepared.request_id, chosen)
        return {
            "predictions": [
                {"item_id": item, "propensity": propensity, "policy_version": self.policy_version}
                for item, propensity in chosen
            ]
        }

    def _elements(self, request: InferRequest) -> list[Any]:
        tensor = request.get_input_by_name(V2_INPUT)
        if tensor is None:
            raise FieldError(f"inputs: no input named '{V2_INPUT}'")
        if tensor.datatype != "BYTES":
            raise FieldError(f"{V2_INPUT}: datatype must be BYTES")
        shape = list(tensor.shape or [])
        if len(shape) != 1 or not isinstance(shape[0], int) or shape[0] < 1:
            raise FieldError(f"{V2_INPUT}: shape must be [N] with N >= 1")
        if shape[0] > self.limits.max_instances:
            raise TooLargeError(
                f"{V2_INPUT}: more than {self.limits.max_instances} elements per request"
            )
        data = tensor.data
        if isinstance(data, list):
            # JSON tensor data: a flat list of strings (nested lists are not BYTES [N]).
            if any(not isinstance(e, str | bytes) for e in data):
                raise FieldError(f"{V2_INPUT}.data: must be a flat list of strings")
            elements: list[Any] = list(data)
        else:
            try:
                elements = np.asarray(tensor.as_numpy()).reshape(-1).tolist()
            except Exception:
                raise FieldError(f"{V2_INPUT}: cannot decode the tensor data") from None
        if len(elements) != shape[0]:
            raise FieldError(f"{V2_INPUT}: shape and data disagree on the number of elements")
        return elements

    def _prepare_v2(self, request: InferRequest, request_id: str) -> Prepared:
        if request.request_outputs:
            for wanted in request.request_outputs:
                if wanted.name not in V2_OUTPUTS:
                    raise FieldError(f"outputs: unknown output (have {', '.join(V2_OUTPUTS)})")
        elements = self._elements(request)
        try:
            instances = parse_v2_elements(elements, self._item_bank, self.limits, self._left_out)
        except ContractError as exc:
            raise _field_error(exc) from None
        return Prepared("v2", request_id, instances, request)

    def _answer_v2(
        self, request: InferRequest, request_id: str, chosen: Sequence[tuple[str, float]]
    ) -> InferResponse:
        n = len(chosen)
        outputs = [
            InferOutput(
                name="item_id",
                shape=[n],
                datatype="BYTES",
                data=np.array([item.encode("utf-8") for item, _ in chosen], dtype=np.object_),
            ),
            InferOutput(
                name="propensity",
                shape=[n],
                datatype="FP32",
                data=np.array([p for _, p in chosen], dtype=np.float32),
            ),
            InferOutput(
                name="policy_version",
                shape=[n],
                datatype="BYTES",
                data=np.array([self.policy_version.encode("utf-8")] * n, dtype=np.object_),
            ),
        ]
        return InferResponse(
            response_id=request.id or request_id,
            model_name=self.name,
            infer_outputs=outputs,
            use_binary_outputs=request.use_binary_outputs,
            requested_outputs=request.request_outputs,
        )
