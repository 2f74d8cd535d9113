"""The ``quiz-policy`` KServe model: v1 and v2 (Open Inference Protocol) on one policy."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from kserve import Model
from quizops.errors import InputDataError
from quizops.policy import QuizPolicy
from quizops_predictor.contract import (
    MODEL_NAME,
    V2_INPUT,
    ContractError,
    Instance,
    parse_v1,
    parse_v2_elements,
)
from quizops_predictor.decisions import DecisionLog

logger = logging.getLogger(__name__)


class QuizPolicyModel(Model):
    """Serves a :class:`QuizPolicy`: one chosen item and its propensity per instance."""

    def __init__(
        self,
        policy: QuizPolicy,
        policy_version: str,
        decision_log: DecisionLog | None = None,
        seed: int | None = None,
        name: str = MODEL_NAME,
    ) -> None:
        """Wraps a loaded policy.

        Args:
            policy: The policy to serve.
            policy_version: The version reported with every prediction.
            decision_log: Where decisions are appended (None: not logged).
            seed: Seed of the sampling generator (None: fresh entropy).
            name: The model name on the endpoints.
        """
        super().__init__(name)
        self.policy = policy
        self.policy_version = policy_version
        self.decision_log = decision_log
        self._item_bank = frozenset(policy.item_bank)
        self._rng = np.random.default_rng(seed)
        self.ready = False

    def load(self) -> bool:
        """Marks the (already loaded) policy ready.

        Returns:
            True.
        """
        self.ready = True
        return self.ready

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

    def choose_all(self, instances: Sequence[Instance]) -> list[tuple[str, float]]:
        """Chooses one item per instance and logs each decision.

        Args:
            instances: Parsed instances.

        Returns:
            ``(item_id, propensity)`` per instance.

        Raises:
            InvalidInput: The policy rejected an item id (400).
        """
        chosen = []
        for n, instance in enumerate(instances):
            try:
                item, propensity = self.policy.choose(
                    instance.history, instance.candidates, rng=self._rng
                )
            except InputDataError as exc:
                raise InvalidInput(f"instance {n}: {exc}") from exc
            chosen.append((str(item), float(propensity)))
            if self.decision_log is not None:
                self.decision_log.append(
                    student_id=instance.student_id,
                    history_length=len(instance.history),
                    candidates_count=len(instance.candidates or self._item_bank),
                    item_id=str(item),
                    propensity=float(propensity),
                    policy_version=self.policy_version,
                )
        return chosen

    def predict(
        self,
        payload: dict | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict | InferResponse:
        """Answers a v1 body (dict) or a v2 :class:`InferRequest`.

        Args:
            payload: The decoded request.
            headers: Request headers (unused).
            response_headers: Response headers (unused).

        Returns:
            ``{"predictions": [...]}`` for v1, an :class:`InferResponse` for v2.

        Raises:
            InvalidInput: The request breaks the contract (400, message names the field).
        """
        if isinstance(payload, InferRequest):
            return self._predict_v2(payload)
        if isinstance(payload, bytes | bytearray):
            # A v1 body sent without a JSON content type reaches the model undecoded.
            try:
                payload = json.loads(payload)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInput(f"body: not valid JSON ({exc})") from exc
        try:
            instances = parse_v1(payload, self._item_bank)
        except ContractError as exc:
            raise InvalidInput(str(exc)) from exc
        return {
            "predictions": [
                {"item_id": item, "propensity": propensity, "policy_version": self.policy_version}
                for item, propensity in self.choose_all(instances)
            ]
        }

    def _predict_v2(self, request: InferRequest) -> InferResponse:
        tensor = request.get_input_by_name(V2_INPUT)
        if tensor is None:
            names = [i.name for i in request.inputs]
            raise InvalidInput(f"inputs: no input named '{V2_INPUT}' (got {names})")
        if tensor.datatype != "BYTES":
            raise InvalidInput(f"{V2_INPUT}: datatype must be BYTES, got {tensor.datatype}")
        if len(tensor.shape) != 1:
            raise InvalidInput(f"{V2_INPUT}: shape must be [N], got {tensor.shape}")
        try:
            elements = tensor.as_numpy().reshape(-1).tolist()
        except Exception as exc:
            raise InvalidInput(f"{V2_INPUT}: cannot decode the tensor data ({exc})") from exc
        if len(elements) != tensor.shape[0]:
            raise InvalidInput(
                f"{V2_INPUT}: shape says {tensor.shape[0]} elements, data has {len(elements)}"
            )
        try:
            instances = parse_v2_elements(elements, self._item_bank)
        except ContractError as exc:
            raise InvalidInput(str(exc)) from exc
        chosen = self.choose_all(instances)
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
        if request.request_outputs:
            known = {o.name for o in outputs}
            for wanted in request.request_outputs:
                if wanted.name not in known:
                    raise InvalidInput(f"outputs: unknown output '{wanted.name}' (have {known})")
        return InferResponse(
            response_id=request.id or "",
            model_name=self.name,
            infer_outputs=outputs,
            use_binary_outputs=request.use_binary_outputs,
            requested_outputs=request.request_outputs,
        )
