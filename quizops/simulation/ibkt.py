"""The ``ibkt`` family: knowledge tracing with students who learn at different speeds.

Individualized BKT (after Yudelson, Koedinger and Gordon, 2013): the ``bkt`` world's items,
prerequisites, guess and slip, with every teaching rate of a student multiplied by that
student's learning speed. Speeds are a discrete distribution on a fixed geometric grid
(:data:`SPEED_GRID`, 0.2x to 5x), whose weights are fitted by EM to the training students'
whole answer sequences (the nonparametric maximum-likelihood mixing distribution: each grid
point's likelihood of a student's sequence is one pass of the tracer with scaled teaching).
A grid point at 1 with all the weight is the ``bkt`` world itself, so the family nests it.

Held-out validation predicts each answer with the posterior over the student's speed given
the answers before it (the model learns how fast *this* student learns as the session goes):
``P(correct_t) = sum_z w_z(t) p_z(t)``, ``w_z(t) ~ weight_z * P(answers before t | z)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quizops.features.tracer import KnowledgeTracer
from quizops.simulation.fitted import (
    Answers,
    FittedBKTWorld,
    _tracer_predictions,
    answer_logliks,
)

logger = logging.getLogger(__name__)

#: Learning-speed multipliers the mixture puts weight on (geometric, 1 included).
SPEED_GRID = np.exp(np.linspace(-1.0, 1.0, 11) * np.log(5.0))
#: EM iterations for the mixture weights (each is a few array operations).
EM_ITERATIONS = 500


def scaled_tracer(tracer: KnowledgeTracer, speed: float) -> KnowledgeTracer:
    """The tracer of a student whose every teaching rate is ``speed`` times the fitted one.

    Args:
        tracer: The fitted tracer.
        speed: The multiplier (rates are capped at 1).

    Returns:
        A new tracer.
    """
    data = tracer.to_dict()
    data["item_tags"] = {
        item: [[t[0], t[1], t[2], min(1.0, t[3] * speed)] for t in tags]
        for item, tags in data["item_tags"].items()
    }
    for p in data["params"]:
        p["p_learn"] = min(1.0, p["p_learn"] * speed)
    return KnowledgeTracer.from_dict(data)


def speed_predictions(
    tracer: KnowledgeTracer, df: pd.DataFrame | Answers
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(correct) of each answer under every grid speed.

    The answers are prepared (sorted, item rows looked up) once for the whole grid: the
    scaled tracers share the tracer's item bank and its order.

    Args:
        tracer: The fitted tracer.
        df: Canonical rows, or their :class:`~quizops.simulation.fitted.Answers`.

    Returns:
        ``(answers [n], predictions [speeds, n], student of each answer [n])``, answers in
        student then time order (the tracer's own order).
    """
    answers = df if isinstance(df, Answers) else Answers.of(df)
    rows = answers.item_rows(tracer)
    preds = []
    y = students = np.zeros(0)
    for speed in SPEED_GRID:
        scaled = scaled_tracer(tracer, float(speed))
        same_bank = scaled.arrays.item_ids == tracer.arrays.item_ids
        y, p, students = _tracer_predictions(scaled, answers, rows if same_bank else None)
        preds.append(p)
    return y, np.array(preds), students


def fit_speed_weights(y: np.ndarray, p: np.ndarray, students: np.ndarray) -> np.ndarray:
    """Mixture weights over :data:`SPEED_GRID` by EM on whole-sequence likelihoods.

    Args:
        y: Answers.
        p: Predictions per grid speed [speeds, n].
        students: Student of each answer.

    Returns:
        Weights (sum 1).
    """
    codes, unique = pd.factorize(pd.Series(students))
    terms = answer_logliks(y, p)
    loglik = np.stack([np.bincount(codes, t, len(unique)) for t in terms])  # [speeds, students]
    weights = np.full(len(SPEED_GRID), 1.0 / len(SPEED_GRID))
    for _ in range(EM_ITERATIONS):
        a = np.log(np.maximum(weights, 1e-300))[:, None] + loglik
        a -= a.max(axis=0)
        r = np.exp(a)
        r /= r.sum(axis=0)
        weights = r.mean(axis=1)
    return weights


def mixture_predictions(y: np.ndarray, p: np.ndarray, students: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:  # fmt: skip
    """P(correct) of each answer given the student's earlier answers (speed posterior).

    Args:
        y: Answers, grouped by student in time order.
        p: Predictions per grid speed [speeds, n].
        students: Student of each answer.
        weights: Mixture weights.

    Returns:
        Predictions [n].
    """
    if len(y) == 0:
        return np.zeros(0)
    terms = answer_logliks(y, p)
    codes = pd.factorize(pd.Series(students))[0]
    start = np.r_[True, codes[1:] != codes[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(len(codes)), 0))
    total = np.cumsum(terms, axis=1)
    before = (total - terms) - (total[:, first] - terms[:, first])  # this student's, before t
    a = np.log(np.maximum(weights, 1e-300))[:, None] + before
    a -= a.max(axis=0)
    r = np.exp(a)
    r /= r.sum(axis=0)
    return (r * p).sum(axis=0)


@dataclass
class FittedSpeedBKTWorld(FittedBKTWorld):
    """The ``ibkt`` family: the ``bkt`` world with a learning speed per student.

    Attributes:
        tracer: The fitted tracer.
        speeds: Speed multipliers (:data:`SPEED_GRID`).
        weights: Share of students at each speed.
        validation: Held-out figures.
    """

    speeds: np.ndarray = field(default_factory=lambda: SPEED_GRID.copy())
    weights: np.ndarray = field(default_factory=lambda: np.eye(len(SPEED_GRID))[5])

    @property
    def name(self) -> str:
        """Short name for reports."""
        return "ibkt"

    @property
    def mean_speed(self) -> float:
        """Mean learning-speed multiplier of the fitted mixture."""
        return float(self.weights @ self.speeds)

    # Its students carry a speed beside the knowledge state (the StudentWorld protocol's
    # opaque students), not the parent's array: the overrides below differ in that type only.
    def new_students(  # type: ignore[override]
        self, n_students: int, rng: np.random.Generator
    ) -> dict[str, np.ndarray]:
        """Draws which skills new students know and each one's learning speed."""
        known = rng.random((n_students, self.n_skills)) < self._init
        speed = self.speeds[rng.choice(len(self.speeds), size=n_students, p=self.weights)]
        return {"known": known, "speed": speed}

    def respond(self, students: dict[str, np.ndarray], items: np.ndarray,  # type: ignore[override]
                u_answer: np.ndarray, u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Answers and learning, every teaching rate times the student's speed."""
        return self._respond(students["known"], items, u_answer, u_learn, students["speed"])

    def mastered(self, students: dict[str, np.ndarray]) -> np.ndarray:  # type: ignore[override]
        """The hidden knowledge state (a copy)."""
        return students["known"].copy()

    def oracle_scores(  # type: ignore[override]
        self, students: dict[str, np.ndarray]
    ) -> np.ndarray:
        """Expected skills taught now by each item, knowing state and speed."""
        scores = super().oracle_scores(students["known"])
        return scores * students["speed"][:, None]


def fit_speed_world(tracer: KnowledgeTracer, train: pd.DataFrame) -> FittedSpeedBKTWorld:
    """Fits the speed mixture of the ``ibkt`` family on training rows.

    Args:
        tracer: The ``bkt`` family's fitted tracer.
        train: The training students' canonical rows.

    Returns:
        The world (validation figures not yet filled in).
    """
    y, p, students = speed_predictions(tracer, train)
    weights = fit_speed_weights(y, p, students)
    world = FittedSpeedBKTWorld(tracer, speeds=SPEED_GRID.copy(), weights=weights)
    logger.info(
        "simulator ibkt: learning speeds %s with weights %s (mean %.2f)",
        np.round(SPEED_GRID, 2).tolist(),
        np.round(weights, 3).tolist(),
        world.mean_speed,
    )
    return world
