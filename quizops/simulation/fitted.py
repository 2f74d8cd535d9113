"""Student simulators fitted to logs (no propensities needed), each validated on held-out students.

Three families:

- ``bkt``: knowledge tracing as a world. Each student knows a skill or not (drawn from the
  fitted prior); an answer is right with the item's fitted guess or 1 - slip (mean over an item's
  tags); an item teaches each tagged skill with its fitted rate, times the fitted gate when the
  learned prerequisites are not all known.
- ``ibkt``: the ``bkt`` world with a learning speed per student (a fitted mixture; see
  :mod:`quizops.simulation.ibkt`).
- ``pfa``: Performance Factors Analysis, a logistic learner: ``logit P(correct) = beta_item +
  sum over the item's skills of (gamma_s * successes_s + rho_s * failures_s)``. A skill counts
  as mastered when the model gives its median item at least :data:`PFA_MASTERY` probability.

All are fitted on 80% of the students (split by a seeded hash of the id) and scored on the
other 20%: held-out log-likelihood per answer and AUC of next-answer prediction, beside a plain
per-skill BKT (one guess, slip and learning rate per skill, no prerequisites).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError, ModelFitError
from quizops.features.fit import fit_on_shared_skills, sort_log, without_skills
from quizops.features.tracer import ANSWER_KEY, KnowledgeTracer, first_rows_of_answers

logger = logging.getLogger(__name__)

#: P(correct) on a skill's median item at which the PFA world counts the skill mastered.
PFA_MASTERY = 0.9
#: Share of students held out for validation.
HOLDOUT_SHARE = 0.2
#: Splits tried before a fit that is not identifiable on any of them fails.
SPLIT_ATTEMPTS = 3


def _interactions(df: pd.DataFrame) -> pd.DataFrame:
    df = sort_log(df)
    first = first_rows_of_answers(df)
    return df.loc[first].reset_index(drop=True)


def split_students(df: pd.DataFrame, seed: int,
                   share: float = HOLDOUT_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Splits a log by student (a seeded hash of the id), so the split ignores row order.

    Args:
        df: Canonical rows.
        seed: Seed of the split.
        share: Share of students in the second part.

    Returns:
        ``(train, holdout)``.

    Raises:
        InputDataError: One part would be empty.
    """
    ids = df["student_id"].astype(str).unique()
    salt = str(seed).encode()
    held = {
        s
        for s in ids
        if int.from_bytes(hashlib.sha256(salt + s.encode()).digest()[:8], "big") / 2**64 < share
    }
    mask = df["student_id"].astype(str).isin(held).to_numpy()
    if mask.all() or not mask.any():
        raise InputDataError(
            f"simulator fit: {len(ids)} students are too few to hold some out for validation"
        )
    return df.loc[~mask].reset_index(drop=True), df.loc[mask].reset_index(drop=True)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p)) if 0 < y.mean() < 1 else float("nan")


def answer_logliks(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Log-likelihood of each answer (0/1) under P(correct), clipped away from 0 and 1.

    Args:
        y: Answers (any leading shape broadcasting with ``p``).
        p: P(correct).

    Returns:
        ``log p`` where right, ``log (1 - p)`` where wrong.
    """
    q = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.where(np.asarray(y) > 0, np.log(q), np.log(1 - q))


def _loglik(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(answer_logliks(y, p)))


@dataclass(frozen=True)
class Answers:
    """A canonical log's answers, prepared once for several tracers' predictions.

    One row per answer (the first row of an answer to a multi-skill item), students in id
    order and each student's answers in time order: the order of
    :meth:`~quizops.features.tracer.KnowledgeTracer.trace_interactions`.

    Attributes:
        students: Student id of each answer.
        items: Item id of each answer.
        correct: 0/1 answers.
    """

    students: np.ndarray
    items: np.ndarray
    correct: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame) -> Answers:
        """Prepares the answers of canonical rows.

        Args:
            df: Canonical rows.

        Returns:
            The prepared answers.
        """
        inter = _interactions(df)
        return cls(
            inter["student_id"].astype(str).to_numpy(dtype=object),
            inter["item_id"].astype(str).to_numpy(dtype=object),
            inter["correct"].to_numpy(),
        )

    def item_rows(self, tracer: KnowledgeTracer) -> np.ndarray:
        """Each answer's item row in ``tracer.arrays`` (-1: an item the tracer does not know)."""
        return tracer.arrays.rows_of(self.items)


def tracer_predictions(tracer: KnowledgeTracer,
                       df: pd.DataFrame | Answers) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """P(correct) the tracer gave each answer before seeing it (unknown items: skipped).

    Args:
        tracer: The tracer.
        df: Canonical rows, or their :class:`Answers`.

    Returns:
        ``(answers, predictions)`` over interactions whose item the tracer knows.
    """
    y, p, _ = _tracer_predictions(tracer, df)
    return y, p


def _tracer_predictions(
    tracer: KnowledgeTracer, df: pd.DataFrame | Answers, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`tracer_predictions` with the student of each answer.

    ``rows`` (:meth:`Answers.item_rows`) may be given when the caller has them for a tracer
    with the same item bank in the same order (the scaled tracers of the ``ibkt`` family).
    """
    answers = df if isinstance(df, Answers) else Answers.of(df)
    if rows is None:
        rows = answers.item_rows(tracer)
    states = tracer.trace_interactions(answers.students, answers.items, answers.correct, rows=rows)
    known = rows >= 0
    p = tracer.p_correct(states[known], rows[known])
    return answers.correct[known], p, answers.students[known]


@dataclass
class FittedBKTWorld:
    """The ``bkt`` family: a knowledge-tracing world with learned prerequisites.

    Attributes:
        tracer: The fitted tracer whose parameters drive the world.
        validation: Held-out figures (loglik, auc, and the plain BKT's).
    """

    tracer: KnowledgeTracer
    validation: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.item_ids = list(self.tracer.arrays.item_ids)
        self._init = np.array([p.p_init for p in self.tracer.params])

    @property
    def name(self) -> str:
        """Short name for reports."""
        return "bkt"

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return self.tracer.n_skills

    def new_students(self, n_students: int, rng: np.random.Generator) -> np.ndarray:
        """Draws which skills new students know (fitted priors, independent)."""
        return rng.random((n_students, self.n_skills)) < self._init

    def respond(self, students: np.ndarray, items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Answers and learning (see the module docstring); ``students`` updated in place."""
        return self._respond(students, items, u_answer, u_learn, None)

    def _respond(self, students: np.ndarray, items: np.ndarray, u_answer: np.ndarray,
                 u_learn: np.ndarray, speed: np.ndarray | None) -> np.ndarray:  # fmt: skip
        """:meth:`respond` with teaching rates times a per-student ``speed`` (None: 1)."""
        a = self.tracer.arrays
        n = len(items)
        rows = np.arange(n)
        skill = a.skill[items]  # [n, T]
        valid = skill >= 0
        safe = np.where(valid, skill, 0)
        known = students[rows[:, None], safe]
        p = np.where(known, 1.0 - a.slip[items], a.guess[items])
        p_correct = np.where(valid, p, 0.0).sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
        correct = (u_answer < p_correct).astype(np.int64)
        before = students.copy()
        for j in range(skill.shape[1]):
            s = safe[:, j]
            ready = ~np.any(a.requires[s] & ~before, axis=1)
            rate = a.teach[items, j] * np.where(ready, 1.0, a.gate[s])
            if speed is not None:
                rate = np.minimum(rate * speed, 1.0)
            learns = valid[:, j] & ~before[rows, s] & (u_learn[rows, s] < rate)
            students[rows[learns], s[learns]] = True
        return correct

    def mastered(self, students: np.ndarray) -> np.ndarray:
        """The hidden knowledge state (a copy)."""
        return students.copy()

    def oracle_scores(self, students: np.ndarray) -> np.ndarray:
        """Expected skills taught now by each item, knowing the state (unlocks break ties)."""
        a = self.tracer.arrays
        ready = ~np.any(a.requires[None, :, :] & ~students[:, None, :], axis=2)
        unlocks = a.requires.sum(axis=0).astype(float)
        per_skill = ~students * np.where(ready, 1.0, a.gate[None, :]) * (1.0 + 0.25 * unlocks)
        valid = a.skill >= 0
        safe = np.where(valid, a.skill, 0)
        teach = np.where(valid, a.teach, 0.0)
        return (per_skill[:, safe] * teach[None, :, :]).sum(axis=2)


@dataclass
class FittedPFAWorld:
    """The ``pfa`` family: a Performance Factors Analysis learner.

    Attributes:
        item_ids: Items.
        skill_ids: Skills.
        item_skills: Skill indices per item.
        beta: Easiness per item.
        gamma: Weight of past successes per skill.
        rho: Weight of past failures per skill.
        validation: Held-out figures.
    """

    item_ids: list[str]
    skill_ids: list[str]
    item_skills: list[list[int]]
    beta: np.ndarray
    gamma: np.ndarray
    rho: np.ndarray
    validation: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        width = max(len(s) for s in self.item_skills)
        self._skill = np.full((len(self.item_ids), width), -1, dtype=np.int64)
        for i, skills in enumerate(self.item_skills):
            self._skill[i, : len(skills)] = skills
        primary = self._skill[:, 0]
        self._median_beta = np.array(
            [
                float(np.median(self.beta[primary == k])) if (primary == k).any() else 0.0
                for k in range(len(self.skill_ids))
            ]
        )

    @property
    def name(self) -> str:
        """Short name for reports."""
        return "pfa"

    @property
    def n_skills(self) -> int:
        """Number of skills."""
        return len(self.skill_ids)

    def new_students(self, n_students: int, rng: np.random.Generator) -> np.ndarray:
        """New students: no successes or failures yet, array [n, 2, skills]."""
        return np.zeros((n_students, 2, self.n_skills))

    def _logit(self, students: np.ndarray, items: np.ndarray) -> np.ndarray:
        skill = self._skill[items]
        valid = skill >= 0
        safe = np.where(valid, skill, 0)
        rows = np.arange(len(items))[:, None]
        term = self.gamma[safe] * students[rows, 0, safe] + self.rho[safe] * students[rows, 1, safe]
        return self.beta[items] + np.where(valid, term, 0.0).sum(axis=1)

    def respond(self, students: np.ndarray, items: np.ndarray, u_answer: np.ndarray,
                u_learn: np.ndarray) -> np.ndarray:  # fmt: skip
        """Answers by the logistic model; counts updated in place (``u_learn`` unused)."""
        p = 1.0 / (1.0 + np.exp(-self._logit(students, items)))
        correct = (u_answer < p).astype(np.int64)
        skill = self._skill[items]
        for j in range(skill.shape[1]):
            has = skill[:, j] >= 0
            rows = np.flatnonzero(has)
            s = skill[has, j]
            students[rows, 1 - correct[has], s] += 1.0
        return correct

    def skill_logits(self, students: np.ndarray) -> np.ndarray:
        """Logit of P(correct) on each skill's median item, matrix [n, skills]."""
        return self._median_beta + self.gamma * students[:, 0] + self.rho * students[:, 1]

    def mastered(self, students: np.ndarray) -> np.ndarray:
        """Skills whose median item the student answers right with P >= PFA_MASTERY."""
        return self.skill_logits(students) >= np.log(PFA_MASTERY / (1 - PFA_MASTERY))

    def oracle_scores(self, students: np.ndarray) -> np.ndarray:
        """Expected progress towards mastery of each item (one-step lookahead on counts)."""
        threshold = np.log(PFA_MASTERY / (1 - PFA_MASTERY))
        n, items = len(students), len(self.item_ids)
        logits = self.skill_logits(students)  # [n, S]
        gap = np.maximum(threshold - logits, 0.0)
        scores = np.zeros((n, items))
        for i in range(items):  # items are few; vectorized over students
            p = 1.0 / (1.0 + np.exp(-self._logit(students, np.full(n, i))))
            for s in self._skill[i][self._skill[i] >= 0]:
                step = p * max(self.gamma[s], 0.0) + (1 - p) * max(self.rho[s], 0.0)
                progress = np.minimum(step, gap[:, s])
                crosses = (gap[:, s] > 0) & (step >= gap[:, s])
                scores[:, i] += progress / np.maximum(gap[:, s], 1e-9) * 0.1 + crosses
        return scores

    def predict(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """P(correct) before each answer of a log (items outside the bank skipped).

        Args:
            df: Canonical rows.

        Returns:
            ``(answers, predictions)``.
        """
        y, p, _ = self.predict_by_student(df)
        return y, p

    def predict_by_student(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`predict` with the student of each answer.

        Args:
            df: Canonical rows.

        Returns:
            ``(answers, predictions, students)``.
        """
        x, y, _, students = _pfa_design(df, self.item_ids, self.skill_ids, with_students=True)
        coef = np.r_[self.beta, self.gamma, self.rho]
        return y, 1.0 / (1.0 + np.exp(-(x @ coef))), students


def _pfa_design(df: pd.DataFrame, item_ids: list[str], skill_ids: list[str],
                with_students: bool = False) -> tuple[Any, ...]:  # fmt: skip
    """Sparse PFA design [interactions, items + 2 skills] (counts before each answer).

    Returns ``(x, y, interaction codes)``, and the student of each answer with
    ``with_students``.
    """
    from scipy import sparse

    rows_df = sort_log(df)
    item_index = {s: i for i, s in enumerate(item_ids)}
    skill_index = {s: i for i, s in enumerate(skill_ids)}
    rows_df = rows_df.assign(
        _i=rows_df["item_id"].astype(str).map(item_index),
        _s=rows_df["skill_id"].astype(str).map(skill_index),
    ).dropna(subset=["_i", "_s"])
    rows_df["_i"] = rows_df["_i"].astype(np.int64)
    rows_df["_s"] = rows_df["_s"].astype(np.int64)
    # Prior successes / failures of the student on the row's skill (cumulative, exclusive).
    grp = rows_df.groupby(["student_id", "_s"], sort=False)["correct"]
    succ = grp.cumsum() - rows_df["correct"]
    fail = grp.cumcount() - succ
    inter_code = rows_df.groupby(ANSWER_KEY, sort=False).ngroup().to_numpy()
    n_inter = int(inter_code.max()) + 1 if len(inter_code) else 0
    n_items, n_skills = len(item_ids), len(skill_ids)
    first = ~pd.Series(inter_code).duplicated().to_numpy()
    r = np.r_[inter_code[first], inter_code, inter_code]
    c = np.r_[
        rows_df["_i"].to_numpy()[first],
        n_items + rows_df["_s"].to_numpy(),
        n_items + n_skills + rows_df["_s"].to_numpy(),
    ]
    v = np.r_[np.ones(first.sum()), succ.to_numpy(float), fail.to_numpy(float)]
    x = sparse.csr_matrix((v, (r, c)), shape=(n_inter, n_items + 2 * n_skills))
    y = rows_df["correct"].to_numpy()[first]
    if with_students:
        return x, y, inter_code, rows_df["student_id"].astype(str).to_numpy()[first]
    return x, y, inter_code


def fit_pfa(df: pd.DataFrame, item_ids: list[str], skill_ids: list[str],
            item_skills: list[list[int]]) -> FittedPFAWorld:  # fmt: skip
    """Fits PFA by L2-regularised logistic regression (no intercept: item easiness absorbs it).

    Args:
        df: Canonical rows.
        item_ids: Item bank.
        skill_ids: Skills.
        item_skills: Skills of each item.

    Returns:
        The world (without validation figures).
    """
    from sklearn.linear_model import LogisticRegression

    x, y, _ = _pfa_design(df, item_ids, skill_ids)
    model = LogisticRegression(C=10.0, fit_intercept=False, max_iter=500)
    model.fit(x, y)
    coef = model.coef_[0]
    n_items, n_skills = len(item_ids), len(skill_ids)
    return FittedPFAWorld(
        item_ids=list(item_ids),
        skill_ids=list(skill_ids),
        item_skills=item_skills,
        beta=coef[:n_items],
        gamma=coef[n_items : n_items + n_skills],
        rho=coef[n_items + n_skills :],
    )


#: Bootstrap resamples (over held-out students) of the fit gap between families.
FIT_GAP_RESAMPLES = 400


def fit_gaps(
    predictions: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    seed: int = 0,
    resamples: int = FIT_GAP_RESAMPLES,
) -> dict[str, tuple[float, float, float]]:
    """Each family's held-out log-likelihood per answer minus the best family's (95% interval).

    The difference is paired by student: a bootstrap over held-out students resamples every
    family's answers of the same students together (a student's answers are not independent
    of each other). The best family (highest log-likelihood per answer) has a gap of 0.

    Args:
        predictions: Family -> ``(answers, P(correct), student of each answer)``.
        seed: Seed of the resamples.
        resamples: Bootstrap resamples.

    Returns:
        Family -> ``(gap, low, high)`` in log-likelihood per answer (at most 0 for ``gap``).
    """
    frames = {}
    for name, (y, p, students) in predictions.items():
        ll = answer_logliks(y, p)
        frames[name] = (
            pd.DataFrame({"s": students, "ll": ll}).groupby("s")["ll"].agg(["sum", "count"])
        )
    ids = sorted(set().union(*(f.index for f in frames.values())))
    sums = {n: f["sum"].reindex(ids, fill_value=0.0).to_numpy() for n, f in frames.items()}
    counts = {n: f["count"].reindex(ids, fill_value=0).to_numpy(float) for n, f in frames.items()}
    point = {n: sums[n].sum() / max(counts[n].sum(), 1.0) for n in frames}
    best = max(point, key=point.__getitem__)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(ids), np.full(len(ids), 1.0 / len(ids)), size=resamples)
    out = {}
    for name in frames:
        if name == best:
            out[name] = (0.0, 0.0, 0.0)
            continue
        mine = (weights @ sums[name]) / np.maximum(weights @ counts[name], 1.0)
        theirs = (weights @ sums[best]) / np.maximum(weights @ counts[best], 1.0)
        low, high = np.percentile(mine - theirs, [2.5, 97.5])
        out[name] = (float(point[name] - point[best]), float(low), float(high))
    return out


def fit_simulators(interactions: pd.DataFrame, *,
                   seed: int) -> dict[str, Any]:  # fmt: skip
    """Fits the ``bkt``, ``ibkt`` and ``pfa`` simulators to a canonical log and validates them.

    Args:
        interactions: Canonical rows (student_id, item_id, skill_id, correct, timestamp, and
            the rows of one answer to a multi-skill item share student, timestamp and item).
        seed: Seed of the held-out split.

    Returns:
        ``{"bkt": world, "ibkt": world, "pfa": world}``; each world's ``validation`` holds
        ``heldout_loglik`` (mean per answer), ``heldout_auc``, ``plain_bkt_loglik`` and
        ``plain_bkt_auc`` (``ibkt`` also ``mean_speed``), and
        ``fit_gap`` / ``fit_gap_low`` / ``fit_gap_high``: its held-out log-likelihood per
        answer minus the best family's, with a 95% interval paired by student
        (:func:`fit_gaps`; 0 for the best family).

        A split that leaves a skill unidentifiable on its training part (a small log: the
        part has fewer answers than the whole, which the feature stage fitted) is redrawn,
        at most :data:`SPLIT_ATTEMPTS` times with seeds ``seed``, ``seed + 1``, ...; on the
        last one such a skill is left out of the simulators (warned) rather than stopping
        the run. The seed used is ``split_seed`` in every world's ``validation``. The
        training and the evaluation stage call this with the same seed and so get the same
        split.

    Raises:
        InputDataError: The log is empty or too small to split.
        ModelFitError: A fit is not finite or identifiable on every split tried.
    """
    if interactions.empty:
        raise InputDataError("simulator fit: the interaction table is empty")
    for attempt in range(SPLIT_ATTEMPTS - 1):
        try:
            return _fit_on_split(interactions, seed + attempt)
        except ModelFitError as exc:
            logger.warning(
                "simulator fit: split %d leaves a skill unidentifiable (%s); redrawing the "
                "split with seed %d", seed + attempt, exc, seed + attempt + 1,
            )  # fmt: skip
    return _fit_on_split(interactions, seed + SPLIT_ATTEMPTS - 1, untraceable="drop")


def _fit_on_split(interactions: pd.DataFrame, seed: int,
                  untraceable: str = "raise") -> dict[str, Any]:  # fmt: skip
    """:func:`fit_simulators` on the split of one seed.

    With ``untraceable="drop"`` (the last split tried), a skill that cannot be traced on the
    training part is left out of every family, and its rows out of both parts, so that the
    families are fitted and validated on the same answers.
    """
    train, holdout = split_students(interactions, seed)
    # Both on the same skills, so that every family sees the same answers.
    (tracer, plain), left_out = fit_on_shared_skills(
        [(train, {}), (train, {"learn_prerequisites": False, "item_level": False})],
        untraceable=untraceable,
    )
    if left_out:
        logger.warning(
            "simulator fit: %d skill(s) cannot be traced on the training part of split %d "
            "either; the simulators leave them out", len(left_out), seed,
        )  # fmt: skip
        train, holdout = without_skills(train, left_out), without_skills(holdout, left_out)
    held = Answers.of(holdout)  # prepared once for every family's predictions
    y_bkt, p_bkt, s_bkt = _tracer_predictions(tracer, held)
    y_plain, p_plain = tracer_predictions(plain, held)
    plain_figures = {"plain_bkt_loglik": _loglik(y_plain, p_plain),
                     "plain_bkt_auc": _auc(y_plain, p_plain)}  # fmt: skip
    bkt = FittedBKTWorld(tracer)
    bkt.validation = {
        "heldout_loglik": _loglik(y_bkt, p_bkt),
        "heldout_auc": _auc(y_bkt, p_bkt),
        **plain_figures,
    }
    arrays = tracer.arrays
    item_skills = [[int(s) for s in row if s >= 0] for row in arrays.skill]
    pfa = fit_pfa(train, arrays.item_ids, tracer.skill_ids, item_skills)
    y_pfa, p_pfa, s_pfa = pfa.predict_by_student(holdout)
    pfa.validation = {
        "heldout_loglik": _loglik(y_pfa, p_pfa),
        "heldout_auc": _auc(y_pfa, p_pfa),
        **plain_figures,
    }
    from quizops.simulation.ibkt import fit_speed_world, mixture_predictions, speed_predictions

    ibkt = fit_speed_world(tracer, train)
    y_i, p_grid, s_i = speed_predictions(tracer, held)
    p_i = mixture_predictions(y_i, p_grid, s_i, ibkt.weights)
    ibkt.validation = {
        "heldout_loglik": _loglik(y_i, p_i),
        "heldout_auc": _auc(y_i, p_i),
        "mean_speed": ibkt.mean_speed,
        **plain_figures,
    }
    gaps = fit_gaps(
        {"bkt": (y_bkt, p_bkt, s_bkt), "ibkt": (y_i, p_i, s_i), "pfa": (y_pfa, p_pfa, s_pfa)},
        seed=seed,
    )
    for world in (bkt, ibkt, pfa):
        gap, low, high = gaps[world.name]
        world.validation.update(
            fit_gap=gap, fit_gap_low=low, fit_gap_high=high, split_seed=float(seed)
        )
        logger.info(
            "simulator %s: held-out loglik %.4f AUC %.3f (plain BKT %.4f / %.3f); "
            "gap to the best family %.4f [%.4f, %.4f]",
            world.name,
            world.validation["heldout_loglik"],
            world.validation["heldout_auc"],
            plain_figures["plain_bkt_loglik"],
            plain_figures["plain_bkt_auc"],
            gap,
            low,
            high,
        )
    return {"bkt": bkt, "ibkt": ibkt, "pfa": pfa}
