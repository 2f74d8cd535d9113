"""Learning credit: how much each answer taught, judged from everything the student did after.

The credit of a row (one answer, one tagged skill) is the posterior probability that the
skill went from unknown to known at that answer, given *all* of the student's answers (earlier
and later), under a fitted tracer: forward-backward smoothing of the skill's chain with the
tracer's own parameters (tag-level guess, slip and teaching; teaching scaled by the readiness
of the skill's prerequisites before the answer, exactly as the tracer's update rule scales it).
Summed over a session it is the expected number of skills the session taught, so it is a
per-decision reward aligned with the objective "skills mastered", unlike the one-step answer
gain (which pays for asking items a student gets wrong and nothing for teaching a skill that
unlocks others).

A row gets no credit (NaN) when the student never answers on that skill again: nothing later
says whether the answer taught; so does a row whose item or skill the tracer does not know.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from quizops.features.bkt import _e_step, pack_sequences
from quizops.features.tracer import KnowledgeTracer, interaction_keys


def learning_credit(tracer: KnowledgeTracer, df: pd.DataFrame) -> np.ndarray:
    """Smoothed probability that each row's answer taught the row's skill.

    Args:
        tracer: A fitted tracer (its parameters are kept fixed: one E-step, no refit).
        df: Canonical rows (student_id, item_id, skill_id, correct, timestamp); any order.

    Returns:
        One value per row of ``df`` in its order, in [0, 1], NaN where there is no later
        answer on the skill or the tracer does not know the item's tag.
    """
    out = np.full(len(df), np.nan)
    if df.empty:
        return out
    frame = df.reset_index(drop=True)
    perm = frame.sort_values(["student_id", "timestamp"], kind="stable").index.to_numpy()
    frame = frame.loc[perm].reset_index(drop=True)
    states = tracer.trace_log(frame)  # belief before each row
    arrays = tracer.arrays
    skill = pd.Index(tracer.skill_ids).get_indexer(frame["skill_id"].astype(str).to_numpy())
    item_row = arrays.rows_of(frame["item_id"].astype(str).to_numpy())
    slot_match = (arrays.skill[np.maximum(item_row, 0)] == skill[:, None]) & (skill[:, None] >= 0)
    valid = (item_row >= 0) & slot_match.any(axis=1)
    slot = np.argmax(slot_match, axis=1)
    rows, slots = np.maximum(item_row, 0), slot
    guess = arrays.guess[rows, slots]
    slip = arrays.slip[rows, slots]
    teach = arrays.teach[rows, slots]
    required = arrays.requires[np.maximum(skill, 0)]  # [rows, skills]
    ready = np.prod(np.where(required, states, 1.0), axis=1)
    gate = arrays.gate[np.maximum(skill, 0)]
    teach_eff = np.clip(teach * (ready + gate * (1.0 - ready)), 0.0, 1.0)
    correct = frame["correct"].to_numpy().astype(np.int8)
    student = pd.factorize(frame["student_id"].astype(str))[0]
    credit = np.full(len(frame), np.nan)
    for k in np.unique(skill[valid]):
        mine = np.flatnonzero(valid & (skill == k))
        obs, where = pack_sequences(correct[mine], student[mine])
        present = obs >= 0
        index = np.zeros(obs.shape, dtype=np.int64)
        index[where[:, 0], where[:, 1]] = np.arange(len(mine))
        teach_m = np.zeros(obs.shape)
        teach_m[where[:, 0], where[:, 1]] = teach_eff[mine]
        _, learned, _ = _e_step(
            obs, index, present, tracer.params[k].p_init, guess[mine], slip[mine], teach_m
        )
        has_next = np.zeros_like(present)
        has_next[:, :-1] = present[:, 1:]
        at = (where[:, 0], where[:, 1])
        credit[mine] = np.where(has_next[at], learned[at], np.nan)
    out[perm] = credit
    return out


def answer_credit(tracer: KnowledgeTracer, df: pd.DataFrame) -> pd.Series:
    """:func:`learning_credit` summed over the rows (tagged skills) of each answer.

    Args:
        tracer: A fitted tracer.
        df: Canonical rows.

    Returns:
        Credit per answer key (:func:`~quizops.features.tracer.interaction_keys`): the
        expected number of skills the answer taught; NaN when no tag has a later answer.
    """
    credit = pd.Series(learning_credit(tracer, df), index=interaction_keys(df).to_numpy())
    return credit.groupby(level=0, sort=False).sum(min_count=1)
