"""Bayesian Knowledge Tracing fitted by expectation-maximisation (forward-backward).

One hidden Markov chain per (student, skill): the skill is known or not; each answer to an item
of the skill is emitted with the item's guess and slip; after each answer the item may teach the
skill (no forgetting). Parameters are per *tag*, one (item, skill) pair, so that an item that
never teaches (assessment only) is recognised. The E-step runs over every student of a skill at
once (a loop over positions, vectors over students); the M-step has closed forms, with Beta
priors that pull a rarely seen item towards its skill's pooled estimate (maximum a posteriori).

Guards (pyBKT issue #62 returned NaN priors silently): every fitted value is finite and inside
(0, 1), and guess < 1 - slip for every tag (a known student answers right more often than one who
guesses); a skill whose pooled fit breaks this raises :class:`~quizops.errors.ModelFitError`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from quizops.errors import ModelFitError

logger = logging.getLogger(__name__)

_EPS = 1e-6
#: Upper bound on guess + slip of any tag after each M-step (identifiability margin).
MAX_GUESS_PLUS_SLIP = 0.9
#: Pseudo-observations of the Beta priors that shrink tag parameters towards the skill's.
PRIOR_STRENGTH = 8.0


@dataclass(frozen=True)
class BKTParams:
    """Bayesian Knowledge Tracing parameters of one skill (pooled over its items).

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


@dataclass(frozen=True)
class EMFit:
    """Result of :func:`fit_bkt_em` for one skill.

    Attributes:
        p_init: Probability the skill is known at a student's first attempt.
        guess: Guess probability per tag.
        slip: Slip probability per tag.
        teach: Probability per tag that answering it teaches the skill (prerequisites met).
        gate: Multiplier of teaching when prerequisites are missing (1 without covariates).
        log_likelihood: Log-likelihood of the sequences under the fit.
        iterations: EM iterations run.
        learned: Expected 0 -> 1 transitions after each observation (same shape as the input).
        unknown: Smoothed probability the skill is unknown at each observation.
    """

    p_init: float
    guess: np.ndarray
    slip: np.ndarray
    teach: np.ndarray
    gate: float
    log_likelihood: float
    iterations: int
    learned: np.ndarray
    unknown: np.ndarray


def _forward_backward(e1, e0, teach, present, p_init):  # noqa: ANN001, ANN202
    """Forward-backward in [positions, students] layout (each step reads contiguous rows).

    Args:
        e1: P(answer | known) at each position (1 at pads).
        e0: P(answer | unknown) at each position (1 at pads).
        teach: Probability of learning after each answer, 0 where no answer of the student
            follows (so that pads, which must trail each student's answers, change nothing).
        present: Whether each position holds an answer.
        p_init: Probability the skill is known before the first answer.

    Returns:
        ``(gamma1, learned, loglik)``: smoothed P(known), expected 0 -> 1 transitions after
        each position, and the log-likelihood of the answers.
    """
    length, n = e1.shape
    filtered = np.empty((length, n))
    total = np.empty(n)
    loglik = 0.0
    prior = np.full(n, p_init)
    a1 = np.empty(n)
    a0 = np.empty(n)
    for t in range(length):
        f = filtered[t]
        np.multiply(prior, e1[t], out=a1)
        np.subtract(1.0, prior, out=a0)
        a0 *= e0[t]
        np.add(a1, a0, out=total)
        loglik += float(np.log(total[present[t]]).sum())
        np.divide(a1, total, out=f)
        # prior = f + (1 - f) * teach
        np.subtract(1.0, f, out=prior)
        prior *= teach[t]
        prior += f
    # Backward: beta_t(l) = P(answers after t | L_t = l), scaled per step.
    b1 = np.ones(n)
    b0 = np.ones(n)
    gamma1 = np.empty((length, n))
    learned = np.empty((length, n))
    learned[length - 1] = 0.0
    g0 = np.empty(n)
    w1 = np.empty(n)
    w0 = np.empty(n)
    n01 = np.empty(n)
    norm = np.empty(n)
    scratch = np.empty(n)
    for t in range(length - 1, -1, -1):
        f = filtered[t]
        g1 = gamma1[t]
        np.multiply(f, b1, out=g1)
        np.subtract(1.0, f, out=g0)
        g0 *= b0
        g0 += g1
        g1 /= g0
        if t == 0:
            break
        # Transition from t-1 to t happens after observation t-1.
        tr = teach[t - 1]
        fp = filtered[t - 1]
        np.multiply(e1[t], b1, out=w1)
        np.multiply(e0[t], b0, out=w0)
        # n00 = (1 - fp) * (1 - tr) * w0; n01 = (1 - fp) * tr * w1; n11 = fp * w1
        np.subtract(1.0, fp, out=scratch)  # 1 - fp
        np.subtract(1.0, tr, out=norm)
        norm *= scratch
        norm *= w0  # n00
        np.multiply(scratch, tr, out=n01)
        n01 *= w1
        norm += n01
        np.multiply(fp, w1, out=scratch)  # n11
        norm += scratch
        np.divide(n01, norm, out=learned[t - 1])
        # new b1 = w1; new b0 = (1 - tr) * w0 + tr * w1; both scaled by their sum.
        np.subtract(1.0, tr, out=b0)
        b0 *= w0
        np.multiply(tr, w1, out=scratch)
        b0 += scratch
        np.add(w1, b0, out=scratch)
        np.divide(w1, scratch, out=b1)
        b0 /= scratch
    return gamma1, learned, loglik


def _e_step(obs, tags, present, p_init, guess, slip, teach_eff):  # noqa: ANN001, ANN202
    """Forward-backward over [students, positions]; returns smoothed figures and the LL.

    ``present`` must be padded at the tail of each student's row (as
    :func:`pack_sequences` lays it out).
    """
    present_t, codes, has_next = _chain_layout(obs, tags, present, len(guess))
    e1, e0 = _emission_tables(guess, slip)
    teach = np.ascontiguousarray(np.where(has_next, teach_eff, 0.0).T)
    gamma1, learned, loglik = _forward_backward(e1[codes], e0[codes], teach, present_t, p_init)
    return np.ascontiguousarray(gamma1.T), np.ascontiguousarray(learned.T), loglik


def _chain_layout(obs, tags, present, n_tags):  # noqa: ANN001, ANN202
    """A chain's presence and emission codes in [positions, students] layout, and its has-next.

    The code of a position is ``2 * tag + answer``, and ``2 * n_tags`` at pads
    (:func:`_emission_tables`); has-next ([students, positions]) marks the answers that
    another answer of the same student follows.
    """
    has_next = np.zeros_like(present)
    has_next[:, :-1] = present[:, 1:]
    codes = np.ascontiguousarray(np.where(present, 2 * tags + (obs == 1), 2 * n_tags).T)
    return np.ascontiguousarray(present.T), codes, has_next


def _emission_tables(guess, slip):  # noqa: ANN001, ANN202
    """P(answer | known) and P(answer | unknown) by emission code (the last code: pads, 1)."""
    e1 = np.append(np.stack([slip, 1.0 - slip], axis=1).ravel(), 1.0)
    e0 = np.append(np.stack([1.0 - guess, guess], axis=1).ravel(), 1.0)
    return e1, e0


def _project(guess: np.ndarray, slip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clips into (0, 1) and scales (guess, slip) pairs down to guess + slip <= the bound."""
    guess = np.clip(guess, _EPS, 1.0 - _EPS)
    slip = np.clip(slip, _EPS, 1.0 - _EPS)
    total = guess + slip
    scale = np.where(total > MAX_GUESS_PLUS_SLIP, MAX_GUESS_PLUS_SLIP / total, 1.0)
    return guess * scale, slip * scale


def fit_bkt_em(obs: np.ndarray, tags: np.ndarray, n_tags: int, *,
               ready: np.ndarray | None = None, skill: str = "", max_iter: int = 60,
               tol: float = 1e-5, init: tuple[float, float, float, float] = (0.3, 0.2, 0.1, 0.1),
               start: EMFit | None = None,
               silent: np.ndarray | None = None) -> EMFit:  # fmt: skip
    """Fits one skill's BKT chain with tag-level guess, slip and teaching by EM.

    Args:
        obs: Matrix [students, positions] of answers (0/1) in time order, -1 padded.
        tags: Matrix of the same shape: tag index (0..n_tags-1) of each answer (any value at
            pads).
        n_tags: Number of tags (items of this skill).
        ready: Optional matrix of the same shape: probability that the skill's prerequisites
            are known when the answer is given. With it, teaching is ``teach * (ready + gate *
            (1 - ready))`` and the gate is fitted too.
        skill: Skill id for messages.
        max_iter: Most EM iterations.
        tol: Stop when the log-likelihood improves by less than this per observation.
        init: Starting ``(p_init, guess, slip, teach)``.
        start: A previous fit of the same chain to start from (overrides ``init``; a gated
            fit's gate is the starting gate, else 0.5).
        silent: Optional boolean per tag: tags that do not teach the skill (their teaching
            rate is held at the floor, 1e-6; their answers are still evidence).

    Returns:
        The fit.

    Raises:
        ModelFitError: The fit is not finite or not identifiable (pooled guess >= 1 - slip).
    """
    present = obs >= 0
    n_obs = int(present.sum())
    if n_obs == 0:
        raise ModelFitError(f"BKT skill '{skill}': no observations")
    tags = np.where(present, tags, 0).astype(np.int64)
    p_init, g0, s0, t0 = init
    guess = np.full(n_tags, g0)
    slip = np.full(n_tags, s0)
    teach = np.full(n_tags, t0)
    if start is not None:
        p_init, guess, slip, teach = start.p_init, start.guess, start.slip, start.teach
    mute = np.zeros(n_tags, dtype=bool) if silent is None else np.asarray(silent, dtype=bool)
    teach = np.where(mute, _EPS, teach)
    gate = 1.0 if ready is None else 0.5
    if ready is not None and start is not None and start.gate < 1.0:
        gate = float(start.gate)  # a gated fit to start from (for example on fewer students)
    present_t, codes, has_next = _chain_layout(obs, tags, present, n_tags)
    at = has_next & present
    # The E-step runs in [positions, students] layout (contiguous steps); the M-step reads
    # the smoothed figures of the answers in row order through flat indices, so its sums are
    # those of boolean indexing of the [students, positions] matrices.
    n_students = obs.shape[0]
    rows, cols = np.nonzero(present)
    answers = cols * n_students + rows
    rows, cols = np.nonzero(at)
    opportunities = cols * n_students + rows
    flat_tags = tags[present]
    t_tags = tags[at]
    right = ((obs == 1) & present)[present].astype(float)
    wrong = 1.0 - right
    # Teaching after a position: its tag, or n_tags (no teaching) where no answer follows.
    teach_codes = np.ascontiguousarray(np.where(has_next, tags, n_tags).T)
    ready_t = None if ready is None else np.ascontiguousarray(np.clip(ready, 0.0, 1.0).T)
    ready_at = np.ones(len(t_tags)) if ready is None else np.clip(ready, 0.0, 1.0)[at]
    previous = -np.inf
    iterations = 0
    gamma1 = learned = np.zeros(present_t.shape)
    loglik = -np.inf
    for iterations in range(1, max_iter + 1):  # noqa: B007
        e1, e0 = _emission_tables(guess, slip)
        teach_eff = np.append(teach, 0.0)[teach_codes]
        if ready_t is not None:
            teach_eff = np.clip(teach_eff * (ready_t + gate * (1.0 - ready_t)), 0.0, 1.0)
        gamma1, learned, loglik = _forward_backward(
            e1[codes], e0[codes], teach_eff, present_t, p_init
        )
        if not np.isfinite(loglik):
            raise ModelFitError(f"BKT skill '{skill}': log-likelihood is not finite")
        # M-step with Beta priors centred on the pooled estimates.
        known = gamma1.ravel()[answers]
        unknown = 1.0 - known
        guessed = unknown * right
        slipped = known * wrong
        pooled_guess = guessed.sum() / max(unknown.sum(), _EPS)
        pooled_slip = slipped.sum() / max(known.sum(), _EPS)
        m = PRIOR_STRENGTH
        num_g = np.bincount(flat_tags, guessed, n_tags) + m * pooled_guess
        den_g = np.bincount(flat_tags, unknown, n_tags) + m
        num_s = np.bincount(flat_tags, slipped, n_tags) + m * pooled_slip
        den_s = np.bincount(flat_tags, known, n_tags) + m
        guess, slip = _project(num_g / den_g, num_s / den_s)
        # Teaching: expected learning events over expected opportunities while unknown.
        learn_t = learned.ravel()[opportunities]
        opp = 1.0 - gamma1.ravel()[opportunities]
        r = ready_at
        mult = r + gate * (1.0 - r)
        if ready is not None:
            # Whether the prerequisites were known at an opportunity is latent (``ready`` is
            # its prior probability): its posterior given whether the skill was learnt there
            # weighs the opportunity's exposure to teaching, and the gate is the learning of
            # the opportunities whose prerequisites were unknown per unit of teaching.
            t_now = teach[t_tags]
            w_learnt = r / np.maximum(r + (1.0 - r) * gate, _EPS)
            not_learnt = r * (1.0 - t_now)
            w_not = not_learnt / np.maximum(not_learnt + (1.0 - r) * (1.0 - gate * t_now), _EPS)
            w_ready = (learn_t * w_learnt + (opp - learn_t) * w_not) / np.maximum(opp, _EPS)
            mult = w_ready + gate * (1.0 - w_ready)
        live = ~mute[t_tags]  # the skill's pooled rate is that of the tags that may teach
        pooled_teach = learn_t[live].sum() / max((opp * mult)[live].sum(), _EPS)
        num_t = np.bincount(t_tags, learn_t, n_tags) + m * pooled_teach
        den_t = np.bincount(t_tags, opp * mult, n_tags) + m
        teach = np.where(mute, _EPS, np.clip(num_t / den_t, _EPS, 1.0 - _EPS))
        if ready is not None:
            unready_learning = (learn_t * (1.0 - w_learnt)).sum()
            unready_exposure = (opp * teach[t_tags] * (1.0 - w_ready)).sum()
            gate = float(np.clip(unready_learning / max(unready_exposure, _EPS), 0.0, 1.0))
        p_init = float(np.clip(gamma1[0].mean(), _EPS, 1.0 - _EPS))
        if loglik - previous < tol * n_obs:
            break
        previous = loglik
    gamma1 = np.ascontiguousarray(gamma1.T)
    learned = np.ascontiguousarray(learned.T)
    values = np.concatenate([[p_init, gate, pooled_guess, pooled_slip], guess, slip, teach])
    if not np.all(np.isfinite(values)):
        raise ModelFitError(f"BKT skill '{skill}': fitted parameters are not finite")
    # The skill-level (unprojected) estimates decide identifiability: when a known student is
    # barely likelier to answer right than one who guesses, knowledge is not identified.
    if pooled_guess + pooled_slip >= MAX_GUESS_PLUS_SLIP:
        raise ModelFitError(
            f"BKT skill '{skill}': not identifiable (guess {pooled_guess:.3f} + slip "
            f"{pooled_slip:.3f} >= {MAX_GUESS_PLUS_SLIP}): answers do not depend on knowing it"
        )
    return EMFit(p_init, guess, slip, teach, gate, loglik, iterations, learned, 1.0 - gamma1)


def fit_bkt_skill(sequences: np.ndarray) -> BKTParams:
    """Fits skill-level BKT (one guess, slip and learning rate) by EM.

    Args:
        sequences: Matrix [students, opportunities] of 0/1 answers in time order, -1 padded.

    Returns:
        The fitted parameters.
    """
    fit = fit_bkt_em(sequences, np.zeros(sequences.shape, dtype=np.int64), 1)
    return BKTParams(
        float(fit.p_init),
        float(fit.teach[0]),
        float(fit.guess[0]),
        float(fit.slip[0]),
        float(fit.log_likelihood),
        int((sequences >= 0).sum()),
    )


def pack_sequences(values: np.ndarray, student_codes: np.ndarray,
                   fill: int = -1) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Packs per-student sequences (rows already in time order per student) into a matrix.

    Args:
        values: One value per row.
        student_codes: Student code per row (rows of a student need not be adjacent).
        fill: Pad value.

    Returns:
        The padded matrix [students, longest] (students in code order) and each row's
        ``(student_row, position)`` as a matrix [rows, 2].
    """
    order = np.argsort(student_codes, kind="stable")
    codes = student_codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    lengths = np.diff(np.r_[starts, len(codes)])
    matrix = np.full((len(starts), int(lengths.max())), fill, dtype=values.dtype)
    student_row = np.repeat(np.arange(len(starts)), lengths)
    position = np.arange(len(codes)) - np.repeat(starts, lengths)
    matrix[student_row, position] = values[order]
    where = np.empty((len(values), 2), dtype=np.int64)
    where[order, 0] = student_row
    where[order, 1] = position
    return matrix, where


def _sequences(correct: np.ndarray, student_codes: np.ndarray) -> np.ndarray:
    """Packs per-student answer sequences into a padded matrix (-1 pads)."""
    return pack_sequences(correct.astype(np.int8), student_codes)[0]
