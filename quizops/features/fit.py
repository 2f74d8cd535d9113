"""Fitting the knowledge tracer to a canonical log: EM per skill, prerequisites from the logs.

1. Tag-level BKT per skill by EM (:func:`~quizops.features.bkt.fit_bkt_em`); every skill an
   item is tagged with gets the answer as an observation (one row per skill in the canonical
   table, one update per tag in the tracer).
2. Prerequisites, by likelihood: for each skill b, prerequisites are added one at a time
   (greedy forward selection, at most :data:`MAX_PREREQUISITES`), each time the skill a whose
   readiness (or pair of skills: a join may gain little from either alone) most raises the
   log-likelihood of b's answers under the gated model (teaching is
   ``teach * (ready + gate * (1 - ready))``, ready the product of the prerequisites' beliefs;
   :func:`~quizops.features.bkt.fit_bkt_em`), as long as the gain exceeds
   :data:`PREREQUISITE_PRICE` plus the log of the number of candidates per added skill. A
   prerequisite's belief before a row is its smoothed probability of being known then
   (:func:`smoothed_beliefs`). Prerequisites must also fit better than the share of the
   other skills the student knows does as readiness: students who learn fast know more of
   every skill, so without it any skill looks a little like a prerequisite. The
   search runs on at most :data:`STRUCTURE_STUDENTS` students. Edges are then added
   strongest gain first, skipping any that would close a cycle, and an edge implied by a
   longer path (a -> c -> b) is dropped (transitive reduction). A likelihood score tells a
   fork (a -> b, a -> c) from a chain (a -> c -> b), which comparing learning rates pair by
   pair does not: knowing c implies knowing a, so c looks like a prerequisite of b as well.
3. Skills with prerequisites are refitted with readiness as a covariate of teaching, which also
   fits their gate (whether the prerequisites were known at an answer is latent: EM weighs each
   opportunity by its posterior). An item tagged with a skill and with a skill that requires
   it is a problem of the advanced skill: its tag on the other is an ingredient
   (:func:`ingredient_tags`), refitted as not teaching it.
"""

from __future__ import annotations

import functools
import itertools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError, ModelFitError
from quizops.features.bkt import BKTParams, EMFit, fit_bkt_em, pack_sequences
from quizops.features.tracer import ANSWER_KEY, KnowledgeTracer

logger = logging.getLogger(__name__)

#: Least log-likelihood gain (nats) per added prerequisite, before the price of choosing among
#: candidates (the log of their number): AIC's price of a parameter. A spurious prerequisite
#: costs little (its fitted gate stays near 1), a missing one much (the policy teaches a skill
#: its students cannot learn yet), so the price is AIC's, not BIC's.
PREREQUISITE_PRICE = 1.0
#: Most prerequisites selected for one skill.
MAX_PREREQUISITES = 3
#: Best screened candidates the prerequisite search scores, alone and in pairs.
PAIR_CANDIDATES = 5
#: EM tolerance of the scores compared in the prerequisite search (per observation).
SCORE_TOL = 1e-5
#: Looser tolerance of the screen of every candidate before scoring the best.
SCREEN_TOL = 1e-4
#: Students whose answers the prerequisite search scores (the final fit uses every student).
STRUCTURE_STUDENTS = 2000
#: Largest share of a log's rows in skills that cannot be traced for the fit to leave those
#: skills out (``fit_tracer(untraceable="drop")``) rather than fail: beyond it, what is left is
#: not the course the log describes.
MAX_UNTRACEABLE_SHARE = 0.2


def sort_log(df: pd.DataFrame) -> pd.DataFrame:
    """Sorts a canonical log by student, then time.

    Args:
        df: Canonical rows.

    Returns:
        The sorted rows with a fresh index.
    """
    return df.sort_values(["student_id", "timestamp"], kind="stable").reset_index(drop=True)


@dataclass
class _SkillChain:
    rows: np.ndarray  # df rows of this skill's observations
    obs: np.ndarray
    tags: np.ndarray
    where: np.ndarray  # (student_row, position) per row
    items: list[str]


def _chains(df: pd.DataFrame, skill_ids: list[str], item_level: bool = True
            ) -> dict[str, _SkillChain]:  # fmt: skip
    skills = df["skill_id"].astype(str).to_numpy()
    items = df["item_id"].astype(str).to_numpy()
    student_codes = pd.factorize(df["student_id"])[0]
    correct = df["correct"].to_numpy().astype(np.int8)
    chains = {}
    for skill in skill_ids:
        rows = np.flatnonzero(skills == skill)
        local_items, tag_codes = np.unique(items[rows], return_inverse=True)
        if not item_level:  # one tag for the whole skill (plain BKT)
            local_items, tag_codes = np.array(["*"]), np.zeros(len(rows), dtype=np.int64)
        codes = student_codes[rows]
        obs, where = pack_sequences(correct[rows], codes)
        tags = np.zeros(obs.shape, dtype=np.int64)
        tags[where[:, 0], where[:, 1]] = tag_codes
        chains[skill] = _SkillChain(rows, obs, tags, where, [str(i) for i in local_items])
    return chains


def _tracer_from(skill_ids: list[str], item_skill: dict[str, int], chains: dict[str, _SkillChain],
                 fits: dict[str, EMFit], prerequisites: list[list[int]] | None = None,
                 ) -> KnowledgeTracer:  # fmt: skip
    item_tags: dict[str, list[list[float]]] = {}
    params = []
    for k, skill in enumerate(skill_ids):
        chain, fit = chains[skill], fits[skill]
        counts = np.bincount(chain.tags[chain.obs >= 0], minlength=len(chain.items))
        weights = counts / max(counts.sum(), 1)
        for t, item in enumerate(chain.items):
            if item == "*":
                continue
            item_tags.setdefault(item, []).append(
                [float(k), float(fit.guess[t]), float(fit.slip[t]), float(fit.teach[t])]
            )
        params.append(
            BKTParams(
                p_init=float(fit.p_init),
                p_learn=float(weights @ fit.teach),
                p_guess=float(weights @ fit.guess),
                p_slip=float(weights @ fit.slip),
                log_likelihood=float(fit.log_likelihood),
                opportunities=int(counts.sum()),
            )
        )
    # Primary skill first in each item's tag list.
    for item, tags in item_tags.items():
        tags.sort(key=lambda t: (t[0] != item_skill[item], t[0]))
    return KnowledgeTracer(
        skill_ids=skill_ids,
        params=params,
        item_skill=item_skill,
        item_tags=item_tags,
        prerequisites=prerequisites or [[] for _ in skill_ids],
        gate=[float(fits[s].gate) for s in skill_ids],
    )


def _required(edges: set[tuple[int, int]], skill: int) -> set[int]:
    """Every skill that ``skill`` requires, directly or through others (edges ``(pre, skill)``)."""
    seen: set[int] = set()
    stack = [p for (p, s) in edges if s == skill]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(p for (p, s) in edges if s == node)
    return seen


def _creates_cycle(edges: set[tuple[int, int]], new: tuple[int, int]) -> bool:
    """Whether adding ``(pre, skill)`` (skill requires pre) closes a cycle of requirements."""
    pre, skill = new
    return pre == skill or skill in _required(edges, pre)


def smoothed_beliefs(df: pd.DataFrame, chains: dict[str, _SkillChain], fits: dict[str, EMFit],
                     skill_ids: list[str], filtered: np.ndarray) -> np.ndarray:  # fmt: skip
    """Best offline estimate that each skill is known before each row.

    A skill is learnt only at its own answers (after the answer), so before a row it is in the
    state it has at the student's next answer on it (the row itself, if it is one): its
    smoothed probability of being known there (forward-backward, so every answer of the
    student counts, earlier and later). After
    the student's last answer on the skill, the smoothed probability after that answer's
    transition. Where the student never answers on the skill, the filtered belief.

    Args:
        df: The sorted, deduplicated rows the chains were built from.
        chains: Per-skill chains.
        fits: EM fits of the chains (without readiness).
        skill_ids: Skill ids in index order.
        filtered: The tracer's filtered state before each row.

    Returns:
        Matrix [rows, skills].
    """
    codes = pd.factorize(df["student_id"].astype(str))[0]
    out = np.array(filtered, dtype=float, copy=True)
    for k, skill in enumerate(skill_ids):
        chain, fit = chains[skill], fits[skill]
        s_row, pos = chain.where[:, 0], chain.where[:, 1]
        unknown = fit.unknown[s_row, pos]
        has_next = np.zeros(chain.obs.shape, dtype=bool)
        has_next[:, :-1] = chain.obs[:, 1:] >= 0
        teach = fit.teach[chain.tags[s_row, pos]]
        after = np.where(has_next[s_row, pos], fit.learned[s_row, pos], unknown * teach)
        at_answer = np.full(len(df), np.nan)
        at_answer[chain.rows] = 1.0 - unknown
        after_answer = np.full(len(df), np.nan)
        after_answer[chain.rows] = 1.0 - unknown + after
        following = pd.Series(at_answer).groupby(codes).bfill()
        preceding = pd.Series(after_answer).groupby(codes).shift(1).groupby(codes).ffill()
        value = np.where(following.isna(), preceding.to_numpy(), following.to_numpy())
        out[:, k] = np.where(np.isnan(value), out[:, k], value)
    return out


def _on_chain(chain: _SkillChain, values: np.ndarray) -> np.ndarray:
    """Per-row values laid out as the chain's observations (1 at pads)."""
    out = np.ones(chain.obs.shape)
    out[chain.where[:, 0], chain.where[:, 1]] = values
    return out


def _readiness(chain: _SkillChain, beliefs: np.ndarray, prerequisites: list[int]) -> np.ndarray:
    """Product of the prerequisites' beliefs at each observation of a chain (1 at pads)."""
    return _on_chain(chain, np.prod(beliefs[chain.rows[:, None], prerequisites], axis=1))


def _gated_loglik(chain: _SkillChain, fit: EMFit, ready: np.ndarray | None, students: int,
                  skill: str, tol: float = SCORE_TOL) -> float:  # fmt: skip
    """Log-likelihood of a chain's first ``students`` rows under the gated model.

    Args:
        chain: The skill's chain.
        fit: Its first-pass fit (the starting point).
        ready: Readiness at each observation (None: the ungated model).
        students: Rows of the chain scored.
        skill: Skill id for messages.
        tol: EM tolerance (:data:`SCORE_TOL` to compare models, looser to screen them).

    Returns:
        The log-likelihood; -inf when the fit fails.
    """
    try:
        gated = fit_bkt_em(
            chain.obs[:students], chain.tags[:students], len(chain.items),
            ready=None if ready is None else ready[:students], skill=skill, start=fit, tol=tol,
            max_iter=200 if tol < 1e-4 else 60,
        )  # fmt: skip
    except ModelFitError:
        return -np.inf
    return gated.log_likelihood


def _parents_loglik(chain: _SkillChain, fit: EMFit, beliefs: np.ndarray, students: int,
                    skill: str, parents: list[int], tol: float = SCORE_TOL) -> float:  # fmt: skip
    """:func:`_gated_loglik` with readiness from some prerequisites' beliefs."""
    return _gated_loglik(chain, fit, _readiness(chain, beliefs, parents), students, skill, tol)


def estimate_prerequisites(
    beliefs: np.ndarray,
    chains: dict[str, _SkillChain],
    fits: dict[str, EMFit],
    skill_ids: list[str],
) -> list[list[int]]:
    """Estimates which skills each skill requires (see the module docstring).

    Args:
        beliefs: Smoothed belief that each skill is known before each row of the sorted log
            (:func:`smoothed_beliefs`), matrix [rows, skills].
        chains: Per-skill observation chains.
        fits: First-pass EM fits (without readiness).
        skill_ids: Skill ids in index order.

    Returns:
        Prerequisite indices per skill.
    """
    candidates: list[tuple[float, int, int]] = []
    for b, skill in enumerate(skill_ids):
        chain, fit = chains[skill], fits[skill]
        students = min(len(chain.obs), STRUCTURE_STUDENTS)
        if not (chain.obs[:students] >= 0).any():
            continue
        score = functools.partial(_parents_loglik, chain, fit, beliefs, students, skill)
        base = _gated_loglik(chain, fit, None, students, skill)
        # Students who learn fast know more of every skill, so any skill's belief predicts
        # learning a little: prerequisites must also explain it better than the share of the
        # other skills the student knows does (the same gated model, that share as its
        # readiness), though their gain is counted from no prerequisite (in logs that follow
        # the course's order, that share carries the prerequisites' signal too).
        general = _on_chain(chain, np.delete(beliefs[chain.rows], b, axis=1).mean(axis=1))
        floor = _gated_loglik(chain, fit, general, students, skill)
        # The best of many candidates gains by chance: each added skill also pays the log of
        # the number of candidates it was chosen from.
        price = PREREQUISITE_PRICE + np.log(max(len(skill_ids) - 1, 1))
        chosen: list[int] = []
        while len(chosen) < MAX_PREREQUISITES:
            # Screen every candidate with a loose EM, then score the best few to convergence.
            rest = [a for a in range(len(skill_ids)) if a != b and a not in chosen]
            screened = sorted(((score([*chosen, a], SCREEN_TOL), a) for a in rest), reverse=True)
            top = [a for _, a in screened[:PAIR_CANDIDATES]]
            singles = [(score([*chosen, a]), a) for a in top]
            options = [(value - base - price, value, [a]) for value, a in singles]
            # Two at once: a skill whose prerequisites are all needed (a join) may gain little
            # from either alone.
            if len(chosen) + 2 <= MAX_PREREQUISITES:
                for a, c in itertools.combinations(top, 2):
                    pair = score([*chosen, a, c])
                    options.append((pair - base - 2 * price, pair, [a, c]))
            options = [o for o in options if o[1] > floor]
            if not options:
                break
            net, best, added = max(options, key=lambda o: o[0])
            if net <= 0:
                break
            candidates.extend((best - base, a, b) for a in added)
            chosen.extend(added)
            base = best
    edges: set[tuple[int, int]] = set()
    for _, a, b in sorted(candidates, reverse=True):
        if not _creates_cycle(edges, (a, b)):
            edges.add((a, b))
    for a, b in sorted(edges):
        others = edges - {(a, b)}
        if _creates_cycle(others, (b, a)):  # b still reaches a without the direct edge
            edges = others
    prerequisites: list[list[int]] = [[] for _ in skill_ids]
    for a, b in sorted(edges):
        prerequisites[b].append(a)
    return prerequisites


def ingredient_tags(chains: dict[str, _SkillChain], skill_ids: list[str],
                    prerequisites: list[list[int]]) -> dict[str, np.ndarray]:  # fmt: skip
    """Tags on a skill that another skill of the same item requires: the item's ingredients.

    An item tagged with a skill and with a skill that requires it (directly or through
    others, in the learnt graph) is a problem of the more advanced skill, which uses the
    other as an ingredient. Its answer is right only when both are known, so as the student
    learns the advanced skill, the answers to it rise on the ingredient's chain too, and a
    per-skill fit credits that rise to the item as teaching the ingredient (a mean rate of
    0.16 on such tags, on the logs of a course whose multi-skill items teach none). Such tags
    are fitted as not teaching; their answers stay evidence of the ingredient.

    Args:
        chains: Per-skill chains (their ``items`` are the tags).
        skill_ids: Skill ids in index order.
        prerequisites: Prerequisite indices per skill (the learnt graph).

    Returns:
        Skill id -> boolean mask over its chain's tags, for skills with at least one such tag.
    """
    edges = {(a, b) for b, pres in enumerate(prerequisites) for a in pres}
    ancestors = [_required(edges, b) for b in range(len(skill_ids))]
    skills_of: dict[str, set[int]] = {}
    for k, skill in enumerate(skill_ids):
        for item in chains[skill].items:
            if item != "*":  # a plain (skill-level) chain has no items
                skills_of.setdefault(item, set()).add(k)
    out: dict[str, np.ndarray] = {}
    for a, skill in enumerate(skill_ids):
        mask = np.array(
            [any(a in ancestors[b] for b in skills_of.get(item, ()) if b != a)
             for item in chains[skill].items],
            dtype=bool,
        )  # fmt: skip
        if mask.any():
            out[skill] = mask
    return out


def course_order(df: pd.DataFrame, skill_ids: list[str]) -> list[int]:
    """Skills in the order students meet them: mean relative position of the first attempt.

    Args:
        df: Canonical rows sorted by student, then time.
        skill_ids: Skill ids in index order.

    Returns:
        Skill indices, earliest first (ties: index order).
    """
    students = df["student_id"].astype(str)
    position = students.groupby(students, sort=False).cumcount()
    length = students.map(students.value_counts())
    relative = position / length.clip(lower=1)
    first = pd.DataFrame({"s": students, "k": df["skill_id"].astype(str), "r": relative})
    first = first.drop_duplicates(["s", "k"])
    mean = first.groupby("k")["r"].mean()
    return sorted(range(len(skill_ids)), key=lambda k: (float(mean.get(skill_ids[k], 1.0)), k))


def _without_untraceable(df: pd.DataFrame, failed: dict[str, str]) -> pd.DataFrame:
    """The rows of the skills that can be traced; the others named in a warning.

    Raises:
        ModelFitError: Every skill failed, or the failed ones hold more than
            :data:`MAX_UNTRACEABLE_SHARE` of the rows.
    """
    skills = df["skill_id"].astype(str)
    dropped = skills.isin(set(failed)).to_numpy()
    share = float(dropped.mean())
    if dropped.all() or share > MAX_UNTRACEABLE_SHARE:
        raise ModelFitError(
            f"knowledge tracing: {len(failed)} of {skills.nunique()} skills cannot be traced "
            f"and hold {share:.0%} of the rows (more than {MAX_UNTRACEABLE_SHARE:.0%}); the "
            f"first: {next(iter(failed.values()))}"
        )
    logger.warning(
        "knowledge tracing: %d skill(s) left out (%d rows, %.1f%% of the log): %s",
        len(failed), int(dropped.sum()), 100.0 * share,
        "; ".join(failed[s] for s in sorted(failed)),
    )  # fmt: skip
    return df.loc[~dropped].reset_index(drop=True)


def without_skills(df: pd.DataFrame, skills: list[str] | set[str]) -> pd.DataFrame:
    """The rows of a canonical log whose skill is not one of ``skills``.

    Args:
        df: Canonical rows.
        skills: Skill ids to leave out (for example :func:`untraceable_skills`).

    Returns:
        The other rows (``df`` itself when ``skills`` is empty).
    """
    if not skills:
        return df
    return df.loc[~df["skill_id"].astype(str).isin(set(skills)).to_numpy()]


def fit_on_shared_skills(
    fits: list[tuple[pd.DataFrame, dict[str, Any]]],
    untraceable: str = "drop",
    skills: set[str] | None = None,
) -> tuple[list[KnowledgeTracer], set[str]]:
    """Tracers fitted side by side that must describe the same skills.

    Each ``(rows, options)`` pair is fitted by :func:`fit_tracer` (``options``: its keyword
    arguments, such as ``learn_prerequisites``). A skill that any fit left out as untraceable,
    or whose rows one frame lacks, is left out of every fit: a fit that kept it is refitted on
    its rows without it (one that already lacks exactly those skills is kept as it is). Then
    simulators can be validated on the same answers, and a planner fitted on one frame asks
    only items another frame's world knows.

    Args:
        fits: Rows and fitting options, one pair per tracer.
        untraceable: ``fit_tracer``'s rule for the first fits (``raise``: no skill is left
            out, an untraceable one raises).
        skills: The skills every fit should describe (None: those of the frames' rows).

    Returns:
        The tracers, in the order of ``fits``, and the skills left out of all of them.

    Raises:
        ModelFitError: A fit fails, or no skill is traced in every fit.
    """
    tracers = [fit_tracer(rows, untraceable=untraceable, **options) for rows, options in fits]
    if skills is None:
        skills = set().union(*(set(rows["skill_id"].astype(str).unique()) for rows, _ in fits))
    left_out = set().union(*(skills - set(t.skill_ids) for t in tracers))
    if not left_out:
        return tracers, left_out
    if left_out == skills:
        raise ModelFitError("knowledge tracing: no skill is traced in every fit")
    kept = skills - left_out
    refitted = [
        tracer if set(tracer.skill_ids) == kept
        else fit_tracer(without_skills(rows, left_out), **options)
        for tracer, (rows, options) in zip(tracers, fits, strict=True)
    ]  # fmt: skip
    return refitted, left_out


def named_prerequisites(skill_ids: list[str], prerequisites: list[list[int]]) -> dict:
    """The prerequisite graph by skill id, for log lines (skills without any left out).

    Args:
        skill_ids: Skill ids in index order.
        prerequisites: Prerequisite indices per skill.

    Returns:
        ``{skill id: [prerequisite skill ids]}``.
    """
    return {skill_ids[b]: [skill_ids[a] for a in p] for b, p in enumerate(prerequisites) if p}


def untraceable_skills(df: pd.DataFrame, tracer: KnowledgeTracer) -> list[str]:
    """Skills of a log that a tracer fitted with ``untraceable="drop"`` left out.

    Args:
        df: The canonical rows the tracer was fitted on.
        tracer: The tracer.

    Returns:
        Skill ids, sorted.
    """
    return sorted(set(df["skill_id"].astype(str).unique()) - set(tracer.skill_ids))


def fit_tracer(df: pd.DataFrame, *, learn_prerequisites: bool = True, item_level: bool = True,
               untraceable: str = "raise") -> KnowledgeTracer:  # fmt: skip
    """Fits the knowledge tracer to a canonical log.

    Args:
        df: Canonical rows (any order); an item with several skills has one row per skill.
        learn_prerequisites: Estimate prerequisites and refit with readiness (else plain
            tag-level BKT per skill).
        item_level: Fit guess, slip and teaching per item (else one set per skill: plain BKT).
        untraceable: What a skill whose answers cannot be traced does (its fit is not finite,
            or not identifiable: answers that do not depend on knowing it, as a mis-tagged or
            tiny skill of a real export gives): ``raise`` stops the fit; ``drop`` leaves the
            skill out of the tracer (its rows are ignored; an item tagged with it keeps its
            other skills, an item of it alone is not in the tracer's bank and is listed in its
            ``left_out_items``), with a warning naming the skill (:func:`untraceable_skills`),
            unless the skills left out hold more than :data:`MAX_UNTRACEABLE_SHARE` of the rows.

    Returns:
        The fitted tracer.

    Raises:
        InputDataError: The log is empty.
        ModelFitError: A skill's fit is not finite or not identifiable (``raise``), or the
            skills that are not hold too many of the rows or all of them (``drop``).
    """
    if untraceable not in ("raise", "drop"):
        raise ValueError(f"untraceable must be 'raise' or 'drop', not {untraceable!r}")
    if df.empty:
        raise InputDataError("feature engineering: the interaction table is empty")
    df = sort_log(df)
    df = df.loc[~df.duplicated(subset=[*ANSWER_KEY, "skill_id"])]
    df = df.reset_index(drop=True)
    skill_ids = sorted(df["skill_id"].astype(str).unique().tolist())
    skill_index = {s: i for i, s in enumerate(skill_ids)}
    # Primary skill: the skill of the item's first row in time order; items in id order, so
    # that nothing depends on the order of (pseudonymous) student ids.
    first_skill = df.sort_values(["timestamp"], kind="stable").drop_duplicates("item_id")
    item_skill = {
        str(i): skill_index[str(s)]
        for i, s in sorted(
            zip(
                first_skill["item_id"].astype(str), first_skill["skill_id"].astype(str), strict=True
            )
        )
    }
    chains = _chains(df, skill_ids, item_level)
    fits: dict[str, EMFit] = {}
    failed: dict[str, str] = {}
    for s, c in chains.items():
        try:
            fits[s] = fit_bkt_em(c.obs, c.tags, len(c.items), skill=s)
        except ModelFitError as exc:
            if untraceable == "raise":
                raise
            failed[s] = str(exc)
    if failed:
        kept = _without_untraceable(df, failed)
        tracer = fit_tracer(kept, learn_prerequisites=learn_prerequisites, item_level=item_level)
        tracer.left_out_items = sorted(set(df["item_id"].astype(str)) - set(tracer.item_skill))
        return tracer
    tracer = _tracer_from(skill_ids, item_skill, chains, fits)
    if learn_prerequisites and len(skill_ids) > 1:
        beliefs = smoothed_beliefs(df, chains, fits, skill_ids, tracer.trace_log(df))
        prerequisites = estimate_prerequisites(beliefs, chains, fits, skill_ids)
        silent = ingredient_tags(chains, skill_ids, prerequisites)
        if silent:
            logger.info(
                "multi-skill items: %d tags on a skill that another of the item's skills "
                "requires are fitted as not teaching it (ingredients)",
                sum(int(m.sum()) for m in silent.values()),
            )
        for b, prereqs in enumerate(prerequisites):
            skill = skill_ids[b]
            if not prereqs and skill not in silent:
                continue
            chain = chains[skill]
            ready = _readiness(chain, beliefs, prereqs) if prereqs else None
            # To convergence on the search's students (the gate moves slowly), then on all.
            students = min(len(chain.obs), STRUCTURE_STUDENTS)
            fits[skill] = fit_bkt_em(
                chain.obs[:students], chain.tags[:students], len(chain.items),
                ready=None if ready is None else ready[:students], skill=skill,
                start=fits[skill], tol=SCORE_TOL, max_iter=200, silent=silent.get(skill),
            )  # fmt: skip
            if students < len(chain.obs):  # the search saw a subset: refit on every student
                fits[skill] = fit_bkt_em(
                    chain.obs, chain.tags, len(chain.items), ready=ready, skill=skill,
                    start=fits[skill], tol=SCORE_TOL, silent=silent.get(skill),
                )  # fmt: skip
        tracer = _tracer_from(skill_ids, item_skill, chains, fits, prerequisites)
        # Several tracers are fitted per run (the served one, the simulators' splits, the
        # search's crossed halves): the student count tells the lines apart.
        logger.info(
            "prerequisites learnt from the logs of %d students: %s",
            df["student_id"].nunique(),
            named_prerequisites(skill_ids, prerequisites),
        )
    tracer.skill_order = course_order(df, skill_ids)
    for k, p in enumerate(tracer.params):
        logger.info(
            "BKT skill %s: init %.2f learn %.3f guess %.2f slip %.2f gate %.2f (%d attempts)",
            skill_ids[k], p.p_init, p.p_learn, p.p_guess, p.p_slip, tracer.gate[k],
            p.opportunities,
        )  # fmt: skip
    return tracer
