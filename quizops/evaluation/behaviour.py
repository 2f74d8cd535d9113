"""A behaviour model: the logging policy's propensities when the logs carry none.

Real exports (ASSISTments, EdNet) do not record with what probability the tutor chose each item.
The model factorises the logging policy's choice into the item's group (its skill) given what the
tutor could see, and the item within the group:

    pi_b(item | x) = P(group(item) | x) * P(item | group(item))

``P(group | x)`` is a gradient-boosted multinomial classifier over the context of
:func:`quizops.evaluation.decisions.context_features` (a tutor's rule such as "the first skill
not yet answered right three times in a row" is a tree, not a linear function), calibrated by
temperature scaling on students it was not fitted on. The number of boosting rounds is chosen on
those same students (early stopping by student): a classifier boosted past that point is
confidently wrong in rare states, and since the mean of ``pi_b / pi_hat`` over the logged
decisions exceeds 1 by about the squared relative error of ``pi_hat`` (Jensen), its noise biased
unnormalised IPS upward (mean weight of the logging policy 1.08 with 100 fixed rounds on the
simulator's logs, about 1.02 with early stopping). ``P(item | group)`` is the smoothed share of
the group's decisions that went to the item. The factorisation is exact for a tutor that picks the
skill from the student's record and then any of its items uniformly or by a fixed mix, like the
project's simulator; its error on the simulator's logs, whose true propensities are known, is
reported by :func:`propensity_error`.

Every propensity is mixed with a uniform share over items, fitted on the calibration students
(at least ``floor``, so no weight is infinite): a tutor that sometimes picks any item (an
epsilon-greedy rule, off-plan practice) gives rare choices a propensity a classifier of its
main rule underestimates, and their weights would inflate unnormalised IPS (by about 9% for a
target that favours the choices the simulator's tutor makes only when exploring).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier

from quizops.errors import InputDataError

logger = logging.getLogger(__name__)

#: Largest number of group classes modelled (the most frequent; the rest pool into one class).
MAX_CLASSES = 60
#: Boosting: learning rate, most rounds, rounds added per step and rounds without improvement
#: of the held-out students' log loss before stopping.
LEARNING_RATE = 0.1
MAX_ROUNDS = 300
ROUNDS_STEP = 20
ROUNDS_PATIENCE = 20


@dataclass
class BehaviourModel:
    """A fitted model of the logging policy.

    Attributes:
        classifier: ``P(class | context)`` (a constant when the log has one class).
        temperature: Calibration temperature applied to the classifier's log-probabilities.
        item_class: Class code of each item.
        within_class: ``P(item | class)`` per item.
        n_classes: Number of classes.
        floor: Uniform share mixed in.
    """

    classifier: HistGradientBoostingClassifier | DummyClassifier
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


def _classifier(rounds: int, seed: int, warm_start: bool = False) -> HistGradientBoostingClassifier:
    """The group classifier with ``rounds`` boosting rounds (no subsampling: deterministic)."""
    return HistGradientBoostingClassifier(
        max_iter=rounds,
        learning_rate=LEARNING_RATE,
        max_leaf_nodes=15,
        min_samples_leaf=100,
        early_stopping=False,
        warm_start=warm_start,
        random_state=seed,
    )


def _mean_log_loss(classes: np.ndarray, probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean log loss of labels under probabilities whose columns are ``classes``."""
    column = np.searchsorted(classes, labels)
    column = np.minimum(column, len(classes) - 1)
    seen = classes[column] == labels
    p = np.where(seen, probabilities[np.arange(len(labels)), column], 0.0)
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def _best_rounds(
    fit_context: np.ndarray,
    fit_label: np.ndarray,
    held_context: np.ndarray,
    held_label: np.ndarray,
    *,
    seed: int,
) -> int:
    """Boosting rounds that predict held-out students' groups best (early stopping by student).

    Rounds are added :data:`ROUNDS_STEP` at a time until the held-out log loss has not improved
    for :data:`ROUNDS_PATIENCE` rounds or :data:`MAX_ROUNDS` is reached. Sklearn's own early
    stopping splits rows, not students, so one student's decisions would sit on both sides.

    Args:
        fit_context: Contexts the classifier is fitted on.
        fit_label: Their group labels.
        held_context: Contexts of other students.
        held_label: Their group labels.
        seed: Seed of the classifier.

    Returns:
        The number of rounds with the least held-out log loss.
    """
    classifier = _classifier(ROUNDS_STEP, seed, warm_start=True)
    losses: list[float] = []
    while True:
        classifier.fit(fit_context, fit_label)
        staged = classifier.staged_predict_proba(held_context)
        for i, probabilities in enumerate(staged):
            if i >= len(losses):
                losses.append(_mean_log_loss(classifier.classes_, probabilities, held_label))
        best = int(np.argmin(losses)) + 1
        done = len(losses) >= MAX_ROUNDS or len(losses) - best >= ROUNDS_PATIENCE
        if done or classifier.n_iter_ < classifier.max_iter:
            return best
        classifier.max_iter = min(MAX_ROUNDS, classifier.max_iter + ROUNDS_STEP)


@dataclass(frozen=True)
class Calibration:
    """How well the behaviour model's class probabilities match what the tutor did.

    Attributes:
        temperature: Fitted temperature (1 = the classifier was already calibrated).
        log_loss_before: Mean log loss on the calibration students before scaling.
        log_loss_after: After scaling.
        expected_calibration_error: ECE (10 bins) of all class probabilities after scaling.
        decisions: Decisions of the calibration students.
        rounds: Boosting rounds chosen by early stopping on the calibration students.
        class_weight_balance: Mean over the calibration decisions of
            ``1 / (classes * P(logged class | x))``: the mean importance weight of a target that
            picks a class uniformly. It is 1 in expectation when the model is right and the
            tutor gives every class some chance; well above 1 means probabilities of chosen
            classes are underestimated, which inflates unnormalised IPS.
        reliability: Per probability bin after scaling: mean predicted, observed frequency,
            count (see :func:`reliability`).
        exploration_share: Uniform share over items mixed into every propensity, fitted on
            the calibration students' items (at least the model's ``floor``).
    """

    temperature: float
    log_loss_before: float
    log_loss_after: float
    expected_calibration_error: float
    decisions: int
    rounds: int = 0
    class_weight_balance: float = float("nan")
    reliability: tuple[tuple[float, float, int], ...] = ()
    exploration_share: float = float("nan")


def reliability(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 10
) -> tuple[tuple[float, float, int], ...]:
    """Reliability table of every (decision, class) probability: per equal-width bin.

    Args:
        probabilities: Matrix [decisions, classes].
        labels: True class per decision.
        bins: Equal-width probability bins.

    Returns:
        ``(mean predicted, observed frequency, count)`` of each non-empty bin, lowest first.
    """
    flat = probabilities.ravel()
    hit = np.zeros_like(probabilities)
    hit[np.arange(len(labels)), labels] = 1.0
    which = np.minimum((flat * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    predicted = np.bincount(which, weights=flat, minlength=bins)
    observed = np.bincount(which, weights=hit.ravel(), minlength=bins)
    return tuple(
        (float(predicted[b] / count[b]), float(observed[b] / count[b]), int(count[b]))
        for b in range(bins)
        if count[b]
    )


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
    return calibration_error_of(reliability(probabilities, labels, bins))


def calibration_error_of(table: tuple[tuple[float, float, int], ...]) -> float:
    """Expected calibration error of a :func:`reliability` table.

    Args:
        table: ``(mean predicted, observed frequency, count)`` per non-empty bin.

    Returns:
        Mean over bins, weighted by their size, of |mean predicted - observed frequency|.
    """
    total = sum(count for _, _, count in table)
    return float(sum(count * abs(p - o) for p, o, count in table) / max(total, 1))


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
        floor: Least uniform share mixed into every propensity (the share is fitted).
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
    fit_rows, calibration_rows = np.flatnonzero(~calibrating), np.flatnonzero(calibrating)
    classifier: HistGradientBoostingClassifier | DummyClassifier
    if len(np.unique(label[fit_rows])) < 2:  # one skill: nothing to choose between
        rounds = 0
        classifier = DummyClassifier(strategy="prior")
    else:
        rounds = _best_rounds(
            context[fit_rows], label[fit_rows], context[calibration_rows],
            label[calibration_rows], seed=seed,
        )  # fmt: skip
        classifier = _classifier(rounds, seed)
    classifier.fit(context[fit_rows], label[fit_rows])
    model = BehaviourModel(classifier, 1.0, item_class, within, n_classes, floor)
    raw = model.class_probabilities(context[calibrating])
    held_labels = label[calibrating]

    def loss(log_t: float) -> float:
        scaled = _tempered(raw, float(np.exp(log_t)))
        return float(-np.mean(np.log(scaled[np.arange(len(held_labels)), held_labels] + 1e-300)))

    before = after = loss(0.0)
    if rounds:  # a constant classifier has nothing to scale
        best = minimize_scalar(loss, bounds=(-2.0, 2.0), method="bounded")
        model.temperature, after = float(np.exp(best.x)), float(best.fun)
    scaled = _tempered(raw, model.temperature)
    # Exploration share: a logging policy that sometimes picks any item uniformly (an
    # epsilon-greedy tutor, off-plan practice) gives rare choices a propensity the classifier
    # underestimates; the uniform share is fitted on the calibration students' items.
    held_items = action[calibrating]
    p_item = scaled[np.arange(len(held_labels)), held_labels] * within[held_items]

    def item_loss(share: float) -> float:
        return float(-np.mean(np.log((1.0 - share) * p_item + share / n_items)))

    if rounds:  # a constant classifier: the item shares already are the propensities
        best_share = minimize_scalar(item_loss, bounds=(floor, 0.5), method="bounded")
        if float(best_share.fun) < item_loss(floor):
            model.floor = float(best_share.x)
    table = reliability(scaled, held_labels)
    calibration = Calibration(
        temperature=model.temperature,
        log_loss_before=before,
        log_loss_after=after,
        expected_calibration_error=calibration_error_of(table),
        decisions=int(calibrating.sum()),
        rounds=rounds,
        class_weight_balance=float(
            np.mean(1.0 / (n_classes * scaled[np.arange(len(held_labels)), held_labels]))
        ),
        reliability=table,
        exploration_share=model.floor,
    )
    logger.info(
        "behaviour model: %d classes, %d rounds, temperature %.3f, log loss %.4f -> %.4f, "
        "ECE %.4f, class weight balance %.3f, exploration share %.4f",
        n_classes,
        rounds,
        calibration.temperature,
        calibration.log_loss_before,
        calibration.log_loss_after,
        calibration.expected_calibration_error,
        calibration.class_weight_balance,
        calibration.exploration_share,
    )
    return model, calibration


def propensity_error(estimated: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Compares estimated propensities with the true ones (where the log has them).

    Args:
        estimated: Behaviour model's propensities of the logged items.
        true: Logged propensities.

    Returns:
        Mean absolute error, median ratio estimated/true, share within 25% of the truth, the
        correlation of the log-propensities, and the mean of true/estimated (the mean importance
        weight the logging policy itself gets from estimated propensities; 1 when they are right,
        and its excess over 1 is the relative bias of IPS).
    """
    ratio = estimated / true
    return {
        "mean_weight": float(np.mean(true / estimated)),
        "mean_absolute_error": float(np.mean(np.abs(estimated - true))),
        "median_ratio": float(np.median(ratio)),
        "share_within_25pct": float(np.mean(np.abs(ratio - 1.0) <= 0.25)),
        "log_correlation": float(np.corrcoef(np.log(estimated), np.log(true))[0, 1]),
    }
