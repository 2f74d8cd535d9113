"""Knowledge-state features: Bayesian Knowledge Tracing per skill, item statistics, examples.

Training and the predictor compute features with the same :class:`KnowledgeTracer`, so a
student's state at serving time is exactly what it would have been in the training log.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError

logger = logging.getLogger(__name__)

_GRID_INIT = np.array([0.05, 0.15, 0.3, 0.5, 0.7])
_GRID_LEARN = np.array([0.01, 0.03, 0.06, 0.1, 0.15, 0.25])
_GRID_GUESS = np.array([0.05, 0.15, 0.25, 0.35])
_GRID_SLIP = np.array([0.03, 0.08, 0.15, 0.25])


@dataclass(frozen=True)
class BKTParams:
    """Bayesian Knowledge Tracing parameters of one skill.

    Attributes:
        p_init: Probability the skill is known before any practice.
        p_learn: Probability of learning it at one practice opportunity.
        p_guess: Probability of a correct answer without knowing it.
        p_slip: Probability of a wrong answer despite knowing it.
        log_likelihood: Log-likelihood of the fitted sequences (for reports).
        opportunities: Number of attempts the fit saw.
    """

    p_init: float
    p_learn: float
    p_guess: float
    p_slip: float
    log_likelihood: float = 0.0
    opportunities: int = 0


def _sequences(correct: np.ndarray, student_codes: np.ndarray) -> np.ndarray:
    """Packs per-student answer sequences into a padded matrix (-1 pads)."""
    order = np.argsort(student_codes, kind="stable")
    codes = student_codes[order]
    values = correct[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, len(codes)])
    matrix = np.full((len(starts), int(lengths.max())), -1, dtype=np.int8)
    position = np.arange(len(codes)) - np.repeat(starts, lengths)
    matrix[np.repeat(np.arange(len(starts)), lengths), position] = values
    return matrix


def fit_bkt_skill(sequences: np.ndarray) -> BKTParams:
    """Fits BKT to one skill by maximum likelihood over a parameter grid.

    The forward pass runs over every grid point and every student at once.

    Args:
        sequences: Matrix [students, opportunities] of 0/1 answers in time order, -1 padded.

    Returns:
        The best parameters on the grid.
    """
    grid = np.array(list(product(_GRID_INIT, _GRID_LEARN, _GRID_GUESS, _GRID_SLIP)))
    # Identifiability: a known student must be likelier to answer right than one who guesses.
    grid = grid[grid[:, 2] + grid[:, 3] < 0.7]
    p_known = np.repeat(grid[:, 0:1], len(sequences), axis=1)  # [grid, students]
    learn, guess, slip = grid[:, 1:2], grid[:, 2:3], grid[:, 3:4]
    loglik = np.zeros(len(grid))
    for t in range(sequences.shape[1]):
        obs = sequences[:, t][None, :]
        present = obs >= 0
        p_right = p_known * (1 - slip) + (1 - p_known) * guess
        likelihood = np.where(obs == 1, p_right, 1 - p_right)
        loglik += np.where(present, np.log(np.clip(likelihood, 1e-12, None)), 0.0).sum(axis=1)
        posterior = np.where(
            obs == 1, p_known * (1 - slip) / p_right, p_known * slip / (1 - p_right)
        )
        updated = posterior + (1 - posterior) * learn
        p_known = np.where(present, updated, p_known)
    best = int(np.argmax(loglik))
    p_init, p_learn, p_guess, p_slip = (float(v) for v in grid[best])
    return BKTParams(
        p_init, p_learn, p_guess, p_slip, float(loglik[best]), int((sequences >= 0).sum())
    )


@dataclass
class KnowledgeTracer:
    """Per-skill BKT over a bank of items: turns a history into a knowledge state.

    Attributes:
        skill_ids: Skill ids, in feature order.
        params: BKT parameters per skill, in the same order.
        item_skill: Item id -> index of its skill.
    """

    skill_ids: list[str]
    params: list[BKTParams]
    item_skill: dict[str, int]

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return len(self.skill_ids)

    def initial_state(self) -> np.ndarray:
        """Returns the knowledge state of a student with no history.

        Returns:
            Probability of knowing each skill.
        """
        return np.array([p.p_init for p in self.params])

    def update(self, state: np.ndarray, skill: int, correct: int) -> None:
        """Updates a state in place with one observed answer (posterior, then learning).

        Args:
            state: Probability of knowing each skill.
            skill: Index of the skill practised.
            correct: The answer, 0 or 1.
        """
        params = self.params[skill]
        known = state[skill]
        if correct:
            right = known * (1 - params.p_slip) + (1 - known) * params.p_guess
            posterior = known * (1 - params.p_slip) / right
        else:
            wrong = known * params.p_slip + (1 - known) * (1 - params.p_guess)
            posterior = known * params.p_slip / wrong
        state[skill] = posterior + (1 - posterior) * params.p_learn

    def state_after(self, history: list[tuple[str, int]]) -> np.ndarray:
        """Computes the knowledge state after a history.

        Args:
            history: ``(item_id, correct)`` pairs in time order.

        Returns:
            Probability of knowing each skill before the next item.

        Raises:
            InputDataError: An item of the history is not in the bank.
        """
        state = self.initial_state()
        for item_id, correct in history:
            skill = self.item_skill.get(str(item_id))
            if skill is None:
                raise InputDataError(f"history: unknown item_id '{item_id}'")
            if correct not in (0, 1):
                raise InputDataError(f"history: 'correct' must be 0 or 1, got {correct!r}")
            self.update(state, skill, int(correct))
        return state

    def trace_log(self, df: pd.DataFrame) -> np.ndarray:
        """Knowledge state before each row of a canonical log.

        Args:
            df: Canonical rows sorted by student, then timestamp.

        Returns:
            Matrix [rows, skills].
        """
        states = np.empty((len(df), self.n_skills))
        skills = df["item_id"].map(self.item_skill).to_numpy()
        correct = df["correct"].to_numpy()
        students = df["student_id"].to_numpy()
        state = self.initial_state()
        for row in range(len(df)):
            if row == 0 or students[row] != students[row - 1]:
                state = self.initial_state()
            states[row] = state
            self.update(state, int(skills[row]), int(correct[row]))
        return states

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready form."""
        return {
            "skill_ids": self.skill_ids,
            "params": [asdict(p) for p in self.params],
            "item_skill": self.item_skill,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KnowledgeTracer:
        """Rebuilds a tracer from :meth:`to_dict` output.

        Args:
            data: The dict.

        Returns:
            The tracer.
        """
        return cls(
            skill_ids=list(data["skill_ids"]),
            params=[BKTParams(**p) for p in data["params"]],
            item_skill={str(k): int(v) for k, v in data["item_skill"].items()},
        )


def sort_log(df: pd.DataFrame) -> pd.DataFrame:
    """Sorts a canonical log by student, then time.

    Args:
        df: Canonical rows.

    Returns:
        The sorted rows with a fresh index.
    """
    return df.sort_values(["student_id", "timestamp"], kind="stable").reset_index(drop=True)


def fit_tracer(df: pd.DataFrame) -> KnowledgeTracer:
    """Fits BKT per skill and maps every item to its skill.

    An item tagged with several skills keeps the first skill it appears with (ingest emits one
    row per skill; the policy chooses items, and an item's first tag is its primary skill).

    Args:
        df: Canonical rows (any order).

    Returns:
        The fitted tracer.

    Raises:
        InputDataError: The log is empty.
    """
    if df.empty:
        raise InputDataError("feature engineering: the interaction table is empty")
    df = sort_log(df)
    first_skill = df.drop_duplicates("item_id")[["item_id", "skill_id"]]
    skill_ids = sorted(df["skill_id"].astype(str).unique().tolist())
    skill_index = {s: i for i, s in enumerate(skill_ids)}
    item_skill = {str(i): skill_index[str(s)] for i, s in first_skill.itertuples(index=False)}
    params = []
    for skill in skill_ids:
        rows = df[df["skill_id"] == skill]
        codes = pd.factorize(rows["student_id"])[0]
        fitted = fit_bkt_skill(_sequences(rows["correct"].to_numpy(np.int8), codes))
        logger.info(
            "BKT skill %s: init %.2f learn %.2f guess %.2f slip %.2f (%d attempts)",
            skill,
            fitted.p_init,
            fitted.p_learn,
            fitted.p_guess,
            fitted.p_slip,
            fitted.opportunities,
        )
        params.append(fitted)
    return KnowledgeTracer(skill_ids, params, item_skill)


@dataclass(frozen=True)
class FeatureSet:
    """What feature engineering hands to training.

    Attributes:
        tracer: The fitted knowledge tracer.
        items: Item bank: item_id, skill_index, attempts, difficulty, gain.
        examples: One row per logged interaction with a later attempt at the same skill:
            student_id, item_id, the knowledge state before it (``m_<k>`` columns), the
            learning-gain reward and the logging propensity.
    """

    tracer: KnowledgeTracer
    items: pd.DataFrame
    examples: pd.DataFrame


def state_columns(n_skills: int) -> list[str]:
    """Names of the knowledge-state columns.

    Args:
        n_skills: Number of skills.

    Returns:
        ``m_0 ... m_{n-1}``.
    """
    return [f"m_{k}" for k in range(n_skills)]


def engineer_features(df: pd.DataFrame) -> FeatureSet:
    """Computes knowledge states, the item bank and training examples from a canonical log.

    The reward of an interaction is the learning gain it is followed by: the correctness of
    the student's next attempt at the same skill minus the correctness of this attempt. Items
    that teach raise it; practising a skill whose prerequisites are missing does not.

    Args:
        df: The canonical, de-identified log.

    Returns:
        The features.
    """
    df = sort_log(df)
    tracer = fit_tracer(df)
    states = tracer.trace_log(df)
    skills = df["item_id"].map(tracer.item_skill).to_numpy()
    next_same = (
        df.assign(_skill=skills)
        .groupby(["student_id", "_skill"], sort=False)["correct"]
        .shift(-1)
        .to_numpy()
    )
    reward = next_same - df["correct"].to_numpy()
    examples = pd.DataFrame(states, columns=state_columns(tracer.n_skills))
    examples.insert(0, "item_id", df["item_id"].to_numpy())
    examples.insert(0, "student_id", df["student_id"].to_numpy())
    examples["correct"] = df["correct"].to_numpy()
    examples["reward"] = reward
    examples["propensity"] = df["propensity"].to_numpy()
    examples = examples[~np.isnan(reward)].reset_index(drop=True)

    per_item = (
        pd.DataFrame({"item_id": df["item_id"], "correct": df["correct"], "reward": reward})
        .groupby("item_id", sort=True)
        .agg(attempts=("correct", "size"), difficulty=("correct", "mean"), gain=("reward", "mean"))
        .reset_index()
    )
    per_item["difficulty"] = 1.0 - per_item["difficulty"]
    # Shrink item gains towards the skill mean where an item has few attempts.
    per_item["skill_index"] = per_item["item_id"].map(tracer.item_skill)
    per_item["gain"] = per_item["gain"].fillna(0.0)
    skill_gain = per_item.groupby("skill_index")["gain"].transform("mean")
    weight = per_item["attempts"] / (per_item["attempts"] + 20.0)
    per_item["gain"] = weight * per_item["gain"] + (1 - weight) * skill_gain
    per_item = per_item[["item_id", "skill_index", "attempts", "difficulty", "gain"]]
    logger.info(
        "features: %d examples, %d items, %d skills",
        len(examples),
        len(per_item),
        tracer.n_skills,
    )
    return FeatureSet(tracer, per_item, examples)


def save_features(features: FeatureSet, directory: str | os.PathLike[str]) -> None:
    """Writes a feature set as ``tracer.json``, ``items.parquet`` and ``examples.parquet``.

    Args:
        features: The features.
        directory: Destination folder (created).
    """
    from quizops.canonical import write_parquet_atomic

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(features.items, directory / "items.parquet")
    write_parquet_atomic(features.examples, directory / "examples.parquet")
    tmp = directory / ".tracer.json.tmp"
    tmp.write_text(json.dumps(features.tracer.to_dict(), indent=1))
    tmp.replace(directory / "tracer.json")


def load_features(directory: str | os.PathLike[str]) -> FeatureSet:
    """Reads a feature set written by :func:`save_features`.

    Args:
        directory: The folder.

    Returns:
        The features.

    Raises:
        InputDataError: A file is missing.
    """
    directory = Path(directory)
    for name in ("tracer.json", "items.parquet", "examples.parquet"):
        if not (directory / name).is_file():
            raise InputDataError(f"{directory}: feature set lacks {name}")
    tracer = KnowledgeTracer.from_dict(json.loads((directory / "tracer.json").read_text()))
    return FeatureSet(
        tracer,
        pd.read_parquet(directory / "items.parquet"),
        pd.read_parquet(directory / "examples.parquet"),
    )


def run_feature_stage(
    data_path: str | os.PathLike[str], features_dir: str | os.PathLike[str]
) -> dict[str, float]:
    """Reads the validated table, engineers features and writes them.

    Args:
        data_path: Canonical Parquet table (validated, de-identified).
        features_dir: Destination folder.

    Returns:
        Summary metrics (examples, items, skills, mean fitted learning rate).
    """
    from quizops.canonical import read_table

    features = engineer_features(read_table(data_path))
    save_features(features, features_dir)
    return {
        "examples": float(len(features.examples)),
        "items": float(len(features.items)),
        "skills": float(features.tracer.n_skills),
        "mean_bkt_p_learn": float(np.mean([p.p_learn for p in features.tracer.params])),
    }
