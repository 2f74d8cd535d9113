"""The quiz policy: picks each student's next item from their history.

The policy is a contextual bandit learnt from logged interactions (one step of policy
improvement over the logging policy): a gradient-boosted model predicts the learning gain of
each candidate item from the student's knowledge state (per-skill BKT) and the item's statistics,
and the policy samples from a softmax over the predicted gains mixed with a small uniform share.
Sampling keeps every candidate's propensity positive, so the decisions it logs can evaluate the
next challenger off-policy.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from quizops.errors import InputDataError, ModelNotFoundError
from quizops.features import FeatureSet, KnowledgeTracer, state_columns

logger = logging.getLogger(__name__)

POLICY_FORMAT = "quizops.policy/v1"


@dataclass
class TrainingConfig:
    """Hyper-parameters of :func:`train_policy`.

    Attributes:
        temperature: Softmax temperature over predicted gains (lower is greedier).
        epsilon: Uniform share mixed into the softmax (exploration floor).
        max_iter: Boosting iterations.
        learning_rate: Boosting learning rate.
        max_leaf_nodes: Leaves per tree.
        min_samples_leaf: Minimum examples per leaf.
        early_stopping: Stop on a random validation split. Off by default: the split depends
            on row order (which pseudonymization changes), and with it the policy did vary
            run to run on the same data (final mastery 0.29-0.40 in simulation); with a fixed
            number of iterations the policy depends on the data only.
        seed: Random seed of the learner.
    """

    temperature: float = 0.02
    epsilon: float = 0.05
    max_iter: int = 150
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 200
    early_stopping: bool = False
    seed: int = 0


@dataclass
class QuizPolicy:
    """A trained policy with everything it needs to act on a raw history.

    Attributes:
        tracer: Knowledge tracer (same code as training features).
        items: Item bank (item_id, skill_index, attempts, difficulty, gain).
        model: Gain model over :meth:`design_matrix` rows.
        temperature: Softmax temperature.
        epsilon: Uniform exploration share.
        version: Registered model version ("" before registration).
        metrics: Training metrics carried for reports.
    """

    tracer: KnowledgeTracer
    items: pd.DataFrame
    model: HistGradientBoostingRegressor
    temperature: float
    epsilon: float
    version: str = ""
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.items = self.items.reset_index(drop=True)
        self._index = {item: i for i, item in enumerate(self.items["item_id"].astype(str))}

    @property
    def item_bank(self) -> list[str]:
        """Every item id the policy can choose."""
        return self.items["item_id"].astype(str).tolist()

    def design_matrix(self, states: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        """Builds model inputs for (state, item) pairs.

        Columns: the knowledge state, the mastery of the item's own skill, the item's skill
        index (categorical), difficulty and empirical gain.

        Args:
            states: Matrix [pairs, skills].
            item_rows: Row of each pair's item in :attr:`items`.

        Returns:
            Matrix [pairs, skills + 4].
        """
        skill = self.items["skill_index"].to_numpy()[item_rows]
        own = states[np.arange(len(states)), skill]
        return np.column_stack(
            [
                states,
                own,
                skill,
                self.items["difficulty"].to_numpy()[item_rows],
                self.items["gain"].to_numpy()[item_rows],
            ]
        )

    def item_rows(self, item_ids: Sequence[str]) -> np.ndarray:
        """Rows in the bank of some item ids.

        Args:
            item_ids: Item ids.

        Returns:
            Their rows.

        Raises:
            InputDataError: An id is not in the bank.
        """
        rows = []
        for item in item_ids:
            row = self._index.get(str(item))
            if row is None:
                raise InputDataError(f"candidates: unknown item_id '{item}'")
            rows.append(row)
        return np.array(rows, dtype=np.int64)

    def probabilities(self, states: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The policy's distribution over candidates for each state.

        Args:
            states: Matrix [students, skills].
            candidates: Bank rows of the candidate items (shared by all students).

        Returns:
            Matrix [students, candidates] whose rows sum to one.
        """
        n, c = len(states), len(candidates)
        pairs_state = np.repeat(states, c, axis=0)
        pairs_item = np.tile(candidates, n)
        gains = self.model.predict(self.design_matrix(pairs_state, pairs_item)).reshape(n, c)
        logits = (gains - gains.max(axis=1, keepdims=True)) / self.temperature
        soft = np.exp(logits)
        soft /= soft.sum(axis=1, keepdims=True)
        return (1.0 - self.epsilon) * soft + self.epsilon / c

    def choose(
        self,
        history: Sequence[tuple[str, int]],
        candidates: Sequence[str] | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[str, float]:
        """Samples the next item for one student.

        Args:
            history: ``(item_id, correct)`` pairs in time order.
            candidates: Items allowed (default: the whole bank).
            rng: Random generator (default: a fresh one).

        Returns:
            The chosen item id and the probability the policy gave it.

        Raises:
            InputDataError: An item id of the history or the candidates is unknown, or the
                candidate list is empty.
        """
        items, propensities = self.choose_many([list(history)], candidates, rng)
        return items[0], propensities[0]

    def choose_many(
        self,
        histories: Sequence[Sequence[tuple[str, int]]],
        candidates: Sequence[str] | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[list[str], list[float]]:
        """Samples the next item for several students at once (one model call).

        Args:
            histories: One history per student.
            candidates: Items allowed for all of them (default: the whole bank).
            rng: Random generator.

        Returns:
            Chosen item ids and their propensities.

        Raises:
            InputDataError: Unknown items, or an empty candidate list.
        """
        rng = rng or np.random.default_rng()
        if candidates is not None and len(candidates) == 0:
            raise InputDataError("candidates: empty list")
        rows = np.arange(len(self.items)) if candidates is None else self.item_rows(candidates)
        states = np.array([self.tracer.state_after(list(h)) for h in histories])
        probs = self.probabilities(states, rows)
        cumulative = probs.cumsum(axis=1)
        draws = rng.random((len(histories), 1)) * cumulative[:, -1:]
        picks = np.minimum((cumulative < draws).sum(axis=1), len(rows) - 1)
        bank = self.items["item_id"].astype(str).to_numpy()
        chosen = [str(bank[rows[p]]) for p in picks]
        return chosen, [float(probs[i, p]) for i, p in enumerate(picks)]

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Writes the policy to a folder (``policy.joblib`` and ``policy.json``).

        Args:
            directory: Destination folder (created).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.model, directory / "model.joblib")
        self.items.to_parquet(directory / "items.parquet", index=False)
        meta = {
            "format": POLICY_FORMAT,
            "version": self.version,
            "temperature": self.temperature,
            "epsilon": self.epsilon,
            "tracer": self.tracer.to_dict(),
            "metrics": self.metrics,
        }
        (directory / "policy.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> QuizPolicy:
        """Reads a policy written by :meth:`save`.

        Args:
            directory: The folder.

        Returns:
            The policy.

        Raises:
            ModelNotFoundError: The folder holds no policy.
        """
        directory = Path(directory)
        meta_path = directory / "policy.json"
        if not meta_path.is_file():
            raise ModelNotFoundError(f"{directory}: no policy.json (not a saved quiz policy)")
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        if meta.get("format") != POLICY_FORMAT:
            raise ModelNotFoundError(f"{meta_path}: format {meta.get('format')!r} unsupported")
        return cls(
            tracer=KnowledgeTracer.from_dict(meta["tracer"]),
            items=pd.read_parquet(directory / "items.parquet"),
            model=joblib.load(directory / "model.joblib"),
            temperature=float(meta["temperature"]),
            epsilon=float(meta["epsilon"]),
            version=str(meta.get("version", "")),
            metrics=dict(meta.get("metrics", {})),
        )


def train_policy(features: FeatureSet, config: TrainingConfig | None = None) -> QuizPolicy:
    """Fits the gain model on logged interactions and wraps it as a policy.

    Args:
        features: Output of feature engineering.
        config: Hyper-parameters.

    Returns:
        The trained policy (unversioned).

    Raises:
        InputDataError: There are too few examples to learn from.
    """
    config = config or TrainingConfig()
    examples = features.examples
    if len(examples) < 100:
        raise InputDataError(f"training: {len(examples)} examples, need at least 100")
    items = features.items.reset_index(drop=True)
    policy = QuizPolicy(features.tracer, items, HistGradientBoostingRegressor(), 1.0, 0.0)
    states = examples[state_columns(features.tracer.n_skills)].to_numpy()
    rows = policy.item_rows(examples["item_id"].astype(str).tolist())
    x = policy.design_matrix(states, rows)
    y = examples["reward"].to_numpy()
    n_skills = features.tracer.n_skills
    categorical = np.zeros(x.shape[1], dtype=bool)
    categorical[n_skills + 1] = True
    model = HistGradientBoostingRegressor(
        max_iter=config.max_iter,
        learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes,
        min_samples_leaf=config.min_samples_leaf,
        categorical_features=categorical,
        early_stopping=config.early_stopping,
        validation_fraction=0.15 if config.early_stopping else None,
        random_state=config.seed,
    )
    model.fit(x, y)
    train_mse = float(np.mean((model.predict(x) - y) ** 2))
    policy.model = model
    policy.temperature = config.temperature
    policy.epsilon = config.epsilon
    policy.metrics = {
        "train_examples": float(len(examples)),
        "boosting_iterations": float(model.n_iter_),
        "train_mse": train_mse,
        "reward_variance": float(np.var(y)),
    }
    logger.info("trained gain model on %d examples (%d iterations)", len(examples), model.n_iter_)
    return policy
