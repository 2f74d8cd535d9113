"""A behaviour model: the logging policy's propensities when the logs carry none.

Real exports (ASSISTments, EdNet) do not record with what probability the tutor chose each item.
The model factorises the logging policy's choice into the item's group (its skill) given what the
tutor could see, and the item within the group:

    pi_b(item | x) = P(group(item) | x) * P(item | group(item))

``P(group | x)`` is a gradient-boosted multinomial classifier over the context of
:func:`quizops.evaluation.decisions.context_features` (a tutor's rule such as "the first skill
not yet answered right three times in a row" is a tree, not a linear function), calibrated by
temperature scaling on students it was not fitted on. ``P(item | group)`` is the smoothed share of
the group's decisions that went to the item. The factorisation is exact for a tutor that picks the
skill from the student's record and then any of its items uniformly or by a fixed mix, like the
project's simulator; its error on the simulator's logs, whose true propensities are known, is
reported by :func:`propensity_error`.

Every propensity is mixed with a small uniform share (``floor``) so no weight is infinite.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.ensemble import HistGradientBoostingClassifier

from quizops.errors import InputDataError

logger = logging.getLogger(__name__)

#: Largest number of group classes modelled (the most frequent; the rest pool into one class).
MAX_CLASSES = 60


@dataclass
class BehaviourModel:
    """A fitted model of the logging policy.

    Attributes:
        classifier: ``P(class | context)``.
        temperature: Calibration temperature applied to the classifier's log-probabilities.
        item_class: Class code of each item.
        within_class: ``P(item | class)`` per item.
        n_classes: Number of classes.
        floor: Uniform share mixed in.
    """

    classifier: HistGradientBoostingClassifier
    temperature: float
    item_class: np.ndarray
    within_class: np.ndarray
    n_classes: int
    floor: float

    def class_probabilities(self, context: np.ndarray) -> np.ndarray:
        """Calibrated ``P(class | context)`` [decisions, classes]."""
        raw = np.full((len(context), self.n_classes), 1e-12)
        raw[:, self.classifier.classes_] = np.clip(self.classifier.predict_proba(context), 1e-12, 1)
        return _tempered(raw, self.temperature)

    def distribution(self, context: np.ndarray) -> np.ndarray:
        """``pi_b(item | context)`` for every item [decisions, items]; rows sum to one."""
        by_class = self.class_probabilities(context)
        dist = by_class[:, self.item_class] * self.within_class[None, :]
        n_items = len(self.item_class)
        return (1.0 - self.floor) * dist + self.floor / n_items

    def propensity(self, context: np.ndarray, action: np.ndarray) -> np.ndarray:
        """``pi_b(a_i | x_i)`` of the logged items."""
        by_class = self.class_probabilities(context)
        rows = np.arange(len(action))
        p = by_class[rows, self.item_class[action]] * self.within_class[action]
        return (1.0 - self.floor) * p + self.floor / len(self.item_class)


def _tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(probabilities) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Calibration:
    """How well the behaviour model's class probabilities match what the tutor did.

    Attributes:
        temperature: Fitted temperature (1 = the classifier was already calibrated).
        log_loss_before: Mean log loss on the calibration students before scaling.
        log_loss_after: After scaling.
        expected_calibration_error: ECE (10 bins) of all class probabilities after scaling.
        decisions: Decisions of the calibration students.
    """

    temperature: float
    log_loss_before: float
    log_loss_after: float
    expected_calibration_error: float
    decisions: int


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 10
) -> float:
    """Expected calibration error of every (decision, class) probability.

    Args:
        probabilities: Matrix [decisions, classes].
        labels: True class per decision.
        bins: Equal-width probability bins.

    Returns:
        Mean over bins, weighted by their size, of |mean predicted - observed frequency|.
    """
    flat = probabilities.ravel()
    hit = np.zeros_like(probabilities)
    hit[np.arange(len(labels)), labels] = 1.0
    which = np.minimum((flat * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    predicted = np.bincount(which, weights=flat, minlength=bins)
    observed = np.bincount(which, weights=hit.ravel(), minlength=bins)
    used = count > 0
    return float(np.abs(predicted[used] - observed[used]).sum() / count.sum())


def fit_behaviour_model(
    context: np.ndarray,
    action: np.ndarray,
    item_group: np.ndarray,
    student: np.ndarray,
    *,
    seed: int = 0,
    floor: float = 1e-3,
    calibration_fraction: float = 0.25,
) -> tuple[BehaviourModel, Calibration]:
    """Fits and calibrates the behaviour model on logged decisions.

    Args:
        context: Context features [decisions, features].
        action: Item code of each decision.
        item_group: Group code of each item (groups numbered by frequency).
        student: Student code of each decision (the calibration split is by student).
        seed: Seed of the calibration split and the classifier.
        floor: Uniform share mixed into every propensity.
        calibration_fraction: Share of students used to fit the temperature.

    Returns:
        The model and its calibration report.

    Raises:
        InputDataError: Too few decisions or students to fit and calibrate.
    """
    if len(action) < 50:
        raise InputDataError(f"behaviour model: {len(action)} decisions, need at least 50")
    item_class = np.minimum(item_group, MAX_CLASSES - 1)
    n_classes = int(item_class.max()) + 1
    n_items = len(item_class)
    label = item_class[action]
    # P(item | class): smoothed item shares within the class.
    item_counts = np.bincount(action, minlength=n_items) + 0.5
    class_totals = np.bincount(item_class, weights=item_counts, minlength=n_classes)
    within = item_counts / class_totals[item_class]

    rng = np.random.default_rng(seed)
    students = np.unique(student)
    if len(students) < 4:
        raise InputDataError(f"behaviour model: {len(students)} students, need at least 4")
    calibrating = np.isin(
        student, rng.permutation(students)[: max(1, int(len(students) * calibration_fraction))]
    )
    classifier = HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=31,
        min_samples_leaf=20,
        early_stopping=False,
        random_state=seed,
    )
    classifier.fit(context[~calibrating], label[~calibrating])
    model = BehaviourModel(classifier, 1.0, item_class, within, n_classes, floor)
    raw = model.class_probabilities(context[calibrating])
    held_labels = label[calibrating]

    def loss(log_t: float) -> float:
        scaled = _tempered(raw, float(np.exp(log_t)))
        return float(-np.mean(np.log(scaled[np.arange(len(held_labels)), held_labels] + 1e-300)))

    before = loss(0.0)
    best = minimize_scalar(loss, bounds=(-2.0, 2.0), method="bounded")
    model.temperature = float(np.exp(best.x))
    scaled = _tempered(raw, model.temperature)
    calibration = Calibration(
        temperature=model.temperature,
        log_loss_before=before,
        log_loss_after=float(best.fun),
        expected_calibration_error=expected_calibration_error(scaled, held_labels),
        decisions=int(calibrating.sum()),
    )
    logger.info(
        "behaviour model: %d classes, temperature %.3f, log loss %.4f -> %.4f, ECE %.4f",
        n_classes,
        calibration.temperature,
        calibration.log_loss_before,
        calibration.log_loss_after,
        calibration.expected_calibration_error,
    )
    return model, calibration


def propensity_error(estimated: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Compares estimated propensities with the true ones (where the log has them).

    Args:
        estimated: Behaviour model's propensities of the logged items.
        true: Logged propensities.

    Returns:
        Mean absolute error, median ratio estimated/true, share within 25% of the truth, and the
        correlation of the log-propensities.
    """
    ratio = estimated / true
    return {
        "mean_absolute_error": float(np.mean(np.abs(estimated - true))),
        "median_ratio": float(np.median(ratio)),
        "share_within_25pct": float(np.mean(np.abs(ratio - 1.0) <= 0.25)),
        "log_correlation": float(np.corrcoef(np.log(estimated), np.log(true))[0, 1]),
    }
