"""The quiz policy: picks each student's next item from their history by planning on beliefs.

State: the knowledge tracer's belief (probability each skill is known; the same code online and
offline). Value of asking item i: the expected number of skills it teaches now, each weighted by
what learning that skill opens up for the rest of the session::

    value(b, i) = sum over i's tags (s, teach):
        teach * [(1 - b_s) * (ready_s + gate_s * (1 - ready_s)) * (1 + unlock * U_s)
                 + focus * b_s * zone_s]
    U_s = sum over skills c that require s: (1 - b_c) * teach_c * prod_{p in pre(c), p != s} b_p

where ``ready_s`` is the product of the beliefs of s's prerequisites and ``teach_c`` the best
teaching rate among c's items. The ``focus`` term (0 in policies saved before it existed) values
finishing a skill already under way: a skill in the zone (``zone_s``, below) is worth more the
further its belief has come, so the policy keeps practising the skill it is teaching until the
belief passes the mastery cap instead of switching to the next one as soon as another skill's
expected gain is a little higher. A zone-of-proximal-development mask keeps items with at least one
tag whose skill is not yet believed mastered (``b_s < mastery_cap``) and whose prerequisites are
believed known (``ready_s >= ready_floor``); when nothing passes the mask, every candidate does.
Selection is a softmax over value / (temperature * best value) mixed with an ``epsilon`` uniform
share over all candidates, so every candidate keeps a positive propensity and the propensity
returned is the exact probability of the choice. Exposure control (optional): no candidate gets
more than ``max_choice`` of a decision's probability, so no item can take more than that share
of all decisions while the choice stays sharp otherwise. The softmax is capped before the
uniform share is mixed in (``cap_rule`` ``softmax``): its excess goes to the other candidates
in proportion to their softmax probabilities, repeated until none is above the cap (water
filling), that is to the next-best items. Policies saved before this rule cap the mixture
(``cap_rule`` ``mixture``): at a low temperature the uniform share is then most of what the
others hold, and the excess goes mostly to items at random.
The ``endgame`` (0 in policies saved before it existed): the last questions of a session of
``horizon`` answers are planned without the focus term, a question's place being the number of
answers before it (:func:`endgame_rows`).
``unlock``, the mask, the focus, the temperature, epsilon, the cap and the endgame are chosen in
training by simulation in simulators fitted to the logs (planning by policy search; see
:mod:`quizops.training`).

A policy saved by the older contextual-bandit trainer (format v1, a gain regressor over
:meth:`QuizPolicy.design_matrix`) still loads and acts, so registered versions keep serving.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quizops.errors import InputDataError, ModelNotFoundError
from quizops.features import FeatureSet, KnowledgeTracer
from quizops.simulation.base import RolloutContext

logger = logging.getLogger(__name__)

#: Format of a saved planning policy.
POLICY_FORMAT = "quizops.policy/v2"
#: Format of a saved legacy gain-model policy (still loadable).
LEGACY_POLICY_FORMAT = "quizops.policy/v1"
#: How new policies apply their per-decision cap (:attr:`QuizPolicy.cap_rule`).
CAP_RULE = "softmax"
#: Every cap rule; ``mixture`` is the rule of policies saved before ``softmax``.
CAP_RULES = ("softmax", "mixture")


@dataclass
class PlanningModel:
    """Settings of the belief-planning value (see the module docstring).

    Attributes:
        unlock: Weight of the skills a skill opens up (0: myopic).
        mastery_cap: A skill believed known with at least this probability is not taught.
        ready_floor: A skill whose prerequisites are believed known with less than this
            probability is not taught.
        focus: Weight of finishing a skill under way (0: none; see the module docstring).
        endgame: The last questions of a session that are planned without the focus term
            (0: none): near the end there is no time left to reap what confirming a skill
            under way buys, and teaching where the expected gain is highest now is worth more.
            A question's place is the number of answers in the student's history (the
            predictor's ``history`` or its feature-store state), so a session is the first
            ``horizon`` answers; later answers are planned without an endgame.
        horizon: Questions per session the endgame counts back from (the search's horizon).
    """

    unlock: float = 1.0
    mastery_cap: float = 0.95
    ready_floor: float = 0.2
    focus: float = 0.0
    endgame: int = 0
    horizon: int = 20


@dataclass
class PFAPlanningModel:
    """Planning in a fitted Performance Factors Analysis learner (state: answer counts).

    PFA's state (each student's successes and failures per skill) is observable from the
    history, so planning in it is a one-step lookahead on exact state: the value of an item is
    its expected progress towards PFA mastery (``FittedPFAWorld.oracle_scores``).

    Attributes:
        item_ids: Items of the PFA fit.
        skill_ids: Skills.
        item_skills: Skill indices per item.
        beta: Easiness per item.
        gamma: Weight of successes per skill.
        rho: Weight of failures per skill.
    """

    item_ids: list[str]
    skill_ids: list[str]
    item_skills: list[list[int]]
    beta: list[float]
    gamma: list[float]
    rho: list[float]

    def world(self) -> Any:
        """The PFA learner as a fitted world (built once)."""
        cached = getattr(self, "_world", None)
        if cached is None:
            from quizops.simulation.fitted import FittedPFAWorld

            cached = FittedPFAWorld(
                item_ids=list(self.item_ids),
                skill_ids=list(self.skill_ids),
                item_skills=[list(s) for s in self.item_skills],
                beta=np.asarray(self.beta, dtype=float),
                gamma=np.asarray(self.gamma, dtype=float),
                rho=np.asarray(self.rho, dtype=float),
            )
            object.__setattr__(self, "_world", cached)
            object.__setattr__(self, "_index", {i: k for k, i in enumerate(self.item_ids)})
        return cached

    def rows_of(self, item_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Rows of item ids in the PFA fit, -1 for unknown ones."""
        self.world()
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        return np.array([index.get(str(i), -1) for i in item_ids], dtype=np.int64)

    def observe(self, counts: np.ndarray, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Adds answers to count states [n, 2 * skills] in place (unknown items: no change)."""
        world = self.world()
        rows = self.rows_of(item_ids)
        s = len(self.skill_ids)
        view = counts.reshape(len(counts), 2, s)
        for who in np.flatnonzero(rows >= 0):
            for skill in world.item_skills[rows[who]]:
                view[who, 1 - int(correct[who]), skill] += 1.0

    @classmethod
    def from_world(cls, world: Any) -> PFAPlanningModel:
        """The planning model of a fitted PFA world."""
        return cls(
            item_ids=list(world.item_ids),
            skill_ids=list(world.skill_ids),
            item_skills=[list(map(int, s)) for s in world.item_skills],
            beta=[float(v) for v in world.beta],
            gamma=[float(v) for v in world.gamma],
            rho=[float(v) for v in world.rho],
        )


@dataclass
class TrainingConfig:
    """Hyper-parameters of :func:`quizops.training.train_policy` and their search grids.

    A setting left at its "search" value is chosen by simulation in the fitted simulators from
    its grid; a setting given a value is kept as given.

    Attributes:
        temperature: Softmax temperature relative to the best value (lower is greedier);
            0 = chosen from ``temperatures``.
        epsilon: Uniform share mixed into the softmax (exploration floor); 0 = chosen from
            ``epsilons``.
        unlock: Weight of opened-up skills; None = chosen from ``unlocks``.
        mastery_cap: Mastery above which a skill is not taught; None = from ``mastery_caps``.
        focus: Weight of finishing a skill under way; None = chosen from ``focuses``.
        ready_floor: Readiness below which a skill is not taught.
        temperatures: Temperatures tried.
        epsilons: Exploration shares tried (all positive: every propensity stays positive).
        unlocks: Unlock weights tried.
        mastery_caps: Mastery caps tried. Low caps with a high focus finish one skill and
            move on (the focus-and-cap shapes the search keeps most often); 0.8 and 0.85
            replaced 0.999, which no course kept (README, "The policy").
        focuses: Focus weights tried.
        search_temperature: Temperature of the first search stage (the value's shape:
            unlock, cap and focus are chosen at it; the second stage chooses the temperature
            and exploration share of the ``refine`` best shapes).
        search_epsilon: Exploration share of the first stage.
        max_choices: Per-decision probability caps tried in the second stage
            (:func:`cap_probabilities`; 1 = none): exposure control that keeps the choice of
            skill sharp where the temperature would blur it.
        endgames: Endgames tried for the setting the two stages keep (its last questions of
            a session planned without the focus term; ``PlanningModel.endgame``): each is
            simulated and the search's rule runs once more over every setting (empty: none).
        min_lift: A setting wins in a family when the lower 95% bound of its paired
            improvement over the family's best baseline exceeds this (skills mastered; the
            gate's ``min_lift``).
        exclude_unfit_families: Whether a family that predicts held-out answers worse than
            plain BKT is left out of the families a setting must win in (the gate's switch of
            the same name and default; False: every fitted family counts).
        refine: Shapes carried into the second stage.
        validation_students: Simulated students per candidate setting and simulator.
        horizon: Questions per simulated session.
        seed: Seed of the search (simulated students, the fitted simulators' split).
        min_effective_share: Overlap with the logging policy: a setting whose importance
            weights on the logged decisions (logged propensities, or the evaluation's
            behaviour model's estimates) have an effective sample below this share of the
            decisions is chosen only if none reaches it (the evaluation gate needs enough
            overlap to evaluate the policy off-policy). 0 = derived from the gate's need:
            ``overlap_safety * min_effective_sample`` over the number of decisions the
            evaluation will hold out (the training decisions times ``holdout_fraction / (1 -
            holdout_fraction)``), so small logs get a stricter share and large ones a looser.
        min_effective_sample: The gate's least effective sample on the held-out decisions
            (``GateConfig.min_effective_sample``).
        overlap_safety: How many times the gate's minimum the derived share aims at (the
            held-out students' effective share has come out 0.6 to 1.3 times the training
            decisions' on the generated courses).
        min_support: The gate's least support (share of the policy's probability on items the
            logging policy gives at least a tenth of uniform; ``GateConfig.min_support``):
            on logs without propensities, a setting whose support on the training decisions
            (under the behaviour model) is below ``min_support + support_margin`` counts as
            not overlapping, like one short of the effective share.
        support_margin: Room between the training decisions' support and the gate's minimum,
            for the difference between training and held-out students and between the two
            behaviour models (training's is fitted on the training students alone).
        max_item_share: Exposure limit: a setting whose simulated decisions give any one item
            more than this share, in any gated family, is chosen only if no setting stays
            within it (the evaluation gate refuses a share above 0.25 in any gated family,
            measured again on 2,000 students near it; 0.24 leaves room for the difference between
            training's fitted worlds and the gate's). A setting's share is first read on the
            ``validation_students``; one within ``exposure_screen`` of the limit is measured
            again on ``exposure_students``, and that figure decides.
        exposure_students: Simulated students of the second, precise exposure figure (a
            figure of 400 students wanders by about 0.01, as much as the room to the limit).
        exposure_screen: How close to ``max_item_share`` (either side) a first figure must be
            to be measured again.
        holdout_fraction: Share of students held out for the evaluation's off-policy
            estimates (the same split as ``GateConfig.holdout_fraction``): training never sees
            them.
        split_seed: Seed of that student split (``GateConfig.split_seed``).
        cross_fit: Whether settings are also judged out of their own model
            (:func:`quizops.training.cross_fitted_pairs`): a planner whose tracer is fitted on
            half of the students teaches simulated students of a world fitted on the other
            half, and back; settings these crossed worlds show to be worse than their best
            (paired, :func:`quizops.training.not_worse_than_best`) come after the others at
            every step of the search's rule. A planner judged only in worlds fitted to the
            same answers as its tracer is rewarded for leaning on that tracer's estimation
            errors (an item's teaching rate a little too high, say), which the students do not
            share.
        search_budget_s: Wall-clock seconds the search may spend simulating settings. The
            cost of a setting grows with the item bank (every simulated decision weighs every
            item): on a real export's bank of ~15,000 items a setting takes seconds, not the
            tenths of the generated courses, and the whole grid would take hours. When the
            first setting's time says the grid will not fit, the shapes are tried in
            :data:`quizops.training.SHAPE_PREFERENCE` order and each stage stops when its
            share of the budget is spent (a warning, and ``search_budget_cut`` in the
            metrics); within the budget the search is the full grid, unchanged.
        family: Simulator family the served policy plans in. ``bkt`` by default: its planner
            knows which items teach and which skills unlock others; a PFA planner fits held-out
            answers almost as well but teaches far less in the generating worlds (0.9 vs 3.8
            skills on the hand-made course, 2.0 vs 4.9 on the second), because answer counts
            say nothing about what an item teaches.
    """

    temperature: float = 0.0
    epsilon: float = 0.0
    unlock: float | None = None
    mastery_cap: float | None = None
    focus: float | None = None
    ready_floor: float = 0.2
    temperatures: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
    epsilons: tuple[float, ...] = (0.02, 0.05, 0.1)
    unlocks: tuple[float, ...] = (0.0, 1.0, 3.0)
    mastery_caps: tuple[float, ...] = (0.8, 0.85, 0.9, 0.95, 0.99)
    focuses: tuple[float, ...] = (0.0, 0.3, 0.6, 1.0, 2.0)
    search_temperature: float = 0.05
    search_epsilon: float = 0.02
    refine: int = 3
    max_choices: tuple[float, ...] = (1.0, 0.8, 0.6, 0.35)
    endgames: tuple[int, ...] = (3, 5)
    min_lift: float = 0.05
    exclude_unfit_families: bool = True
    validation_students: int = 400
    horizon: int = 20
    seed: int = 0
    max_item_share: float = 0.24
    exposure_students: int = 2000
    exposure_screen: float = 0.03
    min_effective_share: float = 0.0
    min_effective_sample: float = 30.0
    overlap_safety: float = 2.0
    min_support: float = 0.9
    support_margin: float = 0.03
    holdout_fraction: float = 0.2
    split_seed: int = 0
    cross_fit: bool = True
    family: str = "bkt"
    search_budget_s: float = 900.0

    def __post_init__(self) -> None:
        from quizops.errors import ConfigurationError

        if self.horizon < 1:
            raise ConfigurationError(
                f"training: session_length (horizon) must be at least 1, got {self.horizon}"
            )


@dataclass
class QuizPolicy:
    """A trained policy with everything it needs to act on a raw history.

    Attributes:
        tracer: Knowledge tracer (same code as training features).
        items: Item bank (item_id, skill_index, ...).
        model: The planning settings (or, for a legacy policy, a gain regressor).
        temperature: Softmax temperature.
        epsilon: Uniform exploration share.
        version: Registered model version ("" before registration).
        metrics: Training metrics carried for reports.
        max_choice: Largest probability any one candidate gets in a decision (1: no cap;
            policies saved before the cap existed load with 1). A cap below one over the
            number of candidates is raised to it.
        cap_rule: How the cap is applied (see the module docstring): ``softmax`` (the excess
            goes to the next-best items) or ``mixture`` (policies saved before ``softmax``
            existed load with it and choose as they did).
    """

    tracer: KnowledgeTracer
    items: pd.DataFrame
    model: Any
    temperature: float
    epsilon: float
    version: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    max_choice: float = 1.0
    cap_rule: str = CAP_RULE

    def __post_init__(self) -> None:
        if self.cap_rule not in CAP_RULES:
            raise ValueError(f"cap_rule: one of {', '.join(CAP_RULES)}, not {self.cap_rule!r}")
        self.items = self.items.reset_index(drop=True)
        ids = self.items["item_id"].astype(str)
        self._index = {item: i for i, item in enumerate(ids)}
        self._bank = ids.to_numpy()
        arrays = self.tracer.arrays
        self._arow = arrays.rows_of(self._bank)
        # Per skill: best teaching rate among its items (for the value of opened-up skills).
        best = np.zeros(self.tracer.n_skills)
        skill, teach = arrays.skill, arrays.teach
        valid = skill >= 0
        np.maximum.at(best, skill[valid], teach[valid])
        self._best_teach = best

    @property
    def item_bank(self) -> list[str]:
        """Every item id the policy can choose."""
        return self._bank.tolist()

    @property
    def is_planning(self) -> bool:
        """Whether this is a planning policy (not a legacy gain model)."""
        return isinstance(self.model, (PlanningModel, PFAPlanningModel))

    @property
    def family(self) -> str:
        """The simulator family the policy plans in: ``bkt``, ``pfa`` or ``legacy``."""
        if isinstance(self.model, PFAPlanningModel):
            return "pfa"
        return "bkt" if isinstance(self.model, PlanningModel) else "legacy"

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

    def design_matrix(self, states: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        """Legacy gain-model inputs for (state, item) pairs (format v1 policies only).

        Args:
            states: Matrix [pairs, skills].
            item_rows: Row of each pair's item in :attr:`items`.

        Returns:
            Matrix [pairs, skills + 4].
        """
        skill = self.items["skill_index"].to_numpy()[item_rows]
        own = states[np.arange(len(states)), skill]
        gain = self.items["gain"] if "gain" in self.items else pd.Series(0.0, self.items.index)
        return np.column_stack(
            [
                states,
                own,
                skill,
                self.items["difficulty"].to_numpy()[item_rows],
                gain.to_numpy()[item_rows],
            ]
        )

    def values(
        self, states: np.ndarray, candidates: np.ndarray, positions: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Planning values and the ZPD mask of candidates for each state.

        Args:
            states: Matrix [students, skills] of beliefs.
            candidates: Bank rows of the candidate items.
            positions: Answers in each student's history (the question's place in the
                session, for :attr:`PlanningModel.endgame`); None: no endgame.

        Returns:
            ``(values, allowed)``, both [students, candidates].
        """
        if isinstance(self.model, PFAPlanningModel):
            world = self.model.world()
            counts = states.reshape(len(states), 2, len(self.model.skill_ids))
            scores = world.oracle_scores(counts)
            rows = self.model.rows_of(self._bank[candidates])
            values = np.where(rows[None, :] >= 0, scores[:, np.maximum(rows, 0)], 0.0)
            return values, values > 0
        model: PlanningModel = self.model
        a = self.tracer.arrays
        b = np.clip(states, 1e-6, 1.0 - 1e-6)
        log_b = np.log(b)
        req = a.requires.astype(float)  # [S, S]
        log_ready = log_b @ req.T  # [n, S]: sum of log beliefs of each skill's prerequisites
        ready = np.exp(log_ready)
        mult = ready + a.gate[None, :] * (1.0 - ready)
        direct = (1.0 - b) * mult
        # U_s = sum_c req[c, s] (1 - b_c) teach_c prod_{p in pre(c), p != s} b_p
        child = (1.0 - b) * self._best_teach[None, :] * ready  # [n, C] with all prereqs
        unlock = (child @ req) / b  # divide out b_s (the factor for p == s)
        allowed_s = (b < model.mastery_cap) & (ready >= model.ready_floor)
        value_s = direct * (1.0 + model.unlock * unlock)
        focus: Any = getattr(model, "focus", 0.0)
        if focus > 0:
            late = endgame_rows(model, positions, len(b))
            if late is not None:
                focus = np.where(late, 0.0, focus)[:, None]
            value_s = value_s + focus * b * allowed_s
        rows = self._arow[candidates]
        skill = a.skill[rows]  # [C, T]
        valid = skill >= 0
        safe = np.where(valid, skill, 0)
        teach = np.where(valid, a.teach[rows], 0.0)
        values = (value_s[:, safe] * teach[None, :, :]).sum(axis=2)
        allowed = (allowed_s[:, safe] & valid[None, :, :]).any(axis=2)
        return values, allowed

    def probabilities(
        self, states: np.ndarray, candidates: np.ndarray, positions: np.ndarray | None = None
    ) -> np.ndarray:
        """The policy's distribution over candidates for each state.

        Args:
            states: Matrix [students, skills].
            candidates: Bank rows of the candidate items (shared by all students).
            positions: Answers in each student's history (see :meth:`values`); None for a
                policy without an endgame, which does not depend on them.

        Returns:
            Matrix [students, candidates] whose rows sum to one.
        """
        n, c = len(states), len(candidates)
        if not self.is_planning:
            pairs_state = np.repeat(states, c, axis=0)
            pairs_item = np.tile(candidates, n)
            gains = self.model.predict(self.design_matrix(pairs_state, pairs_item)).reshape(n, c)
            logits = (gains - gains.max(axis=1, keepdims=True)) / self.temperature
            soft = np.exp(logits)
            soft /= soft.sum(axis=1, keepdims=True)
            return (1.0 - self.epsilon) * soft + self.epsilon / c
        values, allowed = self.values(states, candidates, positions)
        # Soft ZPD mask: an item outside the zone counts as worth minus the best value, so it
        # is all but excluded at a low temperature and the policy tends to uniform as the
        # temperature grows.
        best = np.max(np.where(allowed, values, -np.inf), axis=1, keepdims=True)
        best = np.where(np.isfinite(best), best, values.max(axis=1, keepdims=True))
        scale = np.maximum(np.abs(best), 1e-12)
        masked = np.where(allowed, values, -scale)
        logits = (masked - masked.max(axis=1, keepdims=True)) / (scale * self.temperature)
        soft = np.exp(logits)
        soft /= soft.sum(axis=1, keepdims=True)
        if self.cap_rule == "mixture":
            mixture = (1.0 - self.epsilon) * soft + self.epsilon / c
            return cap_probabilities(mixture, self.max_choice)
        # The softmax's cap such that its mixture with the uniform share stays within max_choice.
        inner = (self.max_choice - self.epsilon / c) / (1.0 - self.epsilon)
        return (1.0 - self.epsilon) * cap_probabilities(soft, inner) + self.epsilon / c

    def _sample(self, probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        cumulative = probs.cumsum(axis=1)
        draws = rng.random((len(probs), 1)) * cumulative[:, -1:]
        return np.minimum((cumulative < draws).sum(axis=1), probs.shape[1] - 1)

    def choose(
        self,
        history: Sequence[tuple[str, int]],
        candidates: Sequence[str] | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[str, float]:
        """Samples the next item for one student.

        Args:
            history: ``(item_id, correct)`` pairs in time order; items the policy does not
                know are skipped (they carry no fitted parameters).
            candidates: Items allowed (default: the whole bank).
            rng: Random generator (default: a fresh one).

        Returns:
            The chosen item id and the probability the policy gave it.

        Raises:
            InputDataError: A candidate is unknown, the candidate list is empty, or an answer
                is not 0/1.
        """
        items, propensities = self.choose_many([list(history)], candidates, rng)
        return items[0], propensities[0]

    def state(self, history: Sequence[tuple[str, int]]) -> np.ndarray:
        """The belief after a history (unknown items skipped).

        Args:
            history: ``(item_id, correct)`` pairs.

        Returns:
            Probability per skill.
        """
        if isinstance(self.model, PFAPlanningModel):
            world = self.model.world()
            index: dict[str, int] = self.model._index  # type: ignore[attr-defined]
            n_skills = len(self.model.skill_ids)
            counts = np.zeros(2 * n_skills)
            for position, (item, ok) in enumerate(history):
                if ok not in (0, 1):
                    raise InputDataError(f"history[{position}]: 'correct' must be 0 or 1")
                row = index.get(str(item))
                if row is None:
                    continue
                for skill in world.item_skills[row]:
                    counts[(1 - int(ok)) * n_skills + skill] += 1.0
            return counts
        return self.tracer.state_after(list(history), strict=not self.is_planning)

    def choose_many(
        self,
        histories: Sequence[Sequence[tuple[str, int]]],
        candidates: Sequence[str] | None = None,
        rng: np.random.Generator | None = None,
    ) -> tuple[list[str], list[float]]:
        """Samples the next item for several students at once.

        Args:
            histories: One history per student.
            candidates: Items allowed for all of them (default: the whole bank).
            rng: Random generator.

        Returns:
            Chosen item ids and their propensities.

        Raises:
            InputDataError: Unknown candidates, or an empty candidate list.
        """
        rng = rng or np.random.default_rng()
        if candidates is not None and len(candidates) == 0:
            raise InputDataError("candidates: empty list")
        rows = np.arange(len(self.items)) if candidates is None else self.item_rows(candidates)
        states = np.array([self.state(h) for h in histories])
        probs = self.probabilities(states, rows, np.array([len(h) for h in histories]))
        picks = self._sample(probs, rng)
        chosen = [str(self._bank[rows[p]]) for p in picks]
        return chosen, [float(probs[i, p]) for i, p in enumerate(picks)]

    def on_tracer(self, tracer: KnowledgeTracer) -> QuizPolicy:
        """The same policy (planning settings, temperature, exploration, cap) on another tracer.

        Its bank is this bank's items the tracer knows, with their skill index and teaching
        rate read from that tracer: a planner fitted on part of the students (training's
        crossed halves, the evaluation's held-out twin) plans with that part's estimates.

        Args:
            tracer: The other tracer.

        Returns:
            The policy (its bank may be empty when the tracer knows none of the items).
        """
        ids = self.items["item_id"].astype(str)
        bank = self.items.loc[ids.isin(set(tracer.item_skill)).to_numpy()].reset_index(drop=True)
        bank_ids = bank["item_id"].astype(str)
        if "skill_index" in bank.columns:
            bank["skill_index"] = bank_ids.map(tracer.item_skill).astype(np.int64)
        if "teach" in bank.columns:
            bank["teach"] = tracer.arrays.teach[tracer.arrays.rows_of(bank_ids.to_numpy()), 0]
        return QuizPolicy(
            tracer,
            bank,
            self.model,
            self.temperature,
            self.epsilon,
            version=self.version,
            max_choice=self.max_choice,
            cap_rule=self.cap_rule,
        )

    def as_chooser(self, name: str = "learned policy") -> PolicyChooser:
        """This policy as a simulation chooser (incremental beliefs, batched choices).

        Args:
            name: Name in reports.

        Returns:
            The chooser.
        """
        return PolicyChooser(self, name)

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Writes the policy to a folder (``policy.json``, ``items.parquet``).

        Args:
            directory: Destination folder (created).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.items.to_parquet(directory / "items.parquet", index=False)
        meta: dict[str, Any] = {
            "version": self.version,
            "temperature": self.temperature,
            "epsilon": self.epsilon,
            "max_choice": self.max_choice,
            "cap_rule": self.cap_rule,
            "tracer": self.tracer.to_dict(),
            "metrics": self.metrics,
        }
        if self.is_planning:
            meta["format"] = POLICY_FORMAT
            meta["planning"] = {"family": self.family, **asdict(self.model)}
        else:
            import joblib

            meta["format"] = LEGACY_POLICY_FORMAT
            joblib.dump(self.model, directory / "model.joblib")
        (directory / "policy.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> QuizPolicy:
        """Reads a policy written by :meth:`save` (either format).

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
        if meta.get("format") == POLICY_FORMAT:
            settings = dict(meta["planning"])
            family = settings.pop("family", "bkt")
            model: Any = (
                PFAPlanningModel(**settings) if family == "pfa" else PlanningModel(**settings)
            )
        elif meta.get("format") == LEGACY_POLICY_FORMAT:
            import joblib

            model = joblib.load(directory / "model.joblib")
        else:
            raise ModelNotFoundError(f"{meta_path}: format {meta.get('format')!r} unsupported")
        return cls(
            tracer=KnowledgeTracer.from_dict(meta["tracer"]),
            items=pd.read_parquet(directory / "items.parquet"),
            model=model,
            temperature=float(meta["temperature"]),
            epsilon=float(meta["epsilon"]),
            max_choice=float(meta.get("max_choice", 1.0)),
            cap_rule=str(meta.get("cap_rule", "mixture")),
            version=str(meta.get("version", "")),
            metrics=dict(meta.get("metrics", {})),
        )


def endgame_rows(model: Any, positions: np.ndarray | None, n: int) -> np.ndarray | None:
    """Which students are in their session's endgame (:attr:`PlanningModel.endgame`).

    Args:
        model: The planning settings.
        positions: Answers in each student's history, or None (unknown: no endgame).
        n: Students.

    Returns:
        A boolean vector, or None when no student can be (no endgame, or no positions).
    """
    endgame = int(getattr(model, "endgame", 0))
    if endgame <= 0 or positions is None:
        return None
    place = np.broadcast_to(np.asarray(positions), (n,))
    horizon = int(getattr(model, "horizon", 20))
    return (place >= horizon - endgame) & (place < horizon)


def cap_probabilities(probs: np.ndarray, cap: float) -> np.ndarray:
    """The distribution closest to each row that gives no entry more than ``cap``.

    Entries above the cap are set to it and the excess is shared by the others in proportion to
    their probabilities, repeated until none is above it (water filling); the result keeps the
    order of the input and sums to one. A cap below ``1 / columns`` is raised to it.

    Args:
        probs: Matrix [rows, columns], each row a distribution.
        cap: Largest probability of an entry.

    Returns:
        The capped matrix (a new array).
    """
    n, c = probs.shape
    cap = max(float(cap), 1.0 / max(c, 1))
    out = probs.copy()
    if cap >= 1.0 or n == 0:
        return out
    over = np.flatnonzero(probs.max(axis=1) > cap)
    if len(over) == 0:
        return out
    # At most floor(1 / cap) entries of a row can be capped, and they are its largest: only
    # those need sorting (equal entries are capped alike, so ties cannot split them).
    m = min(c, int(np.floor(1.0 / cap + 1e-12)) + 1)
    rows = probs[over]
    top = (
        np.argpartition(-rows, m - 1, axis=1)[:, :m]
        if m < c
        else np.tile(np.arange(c), (len(over), 1))
    )
    order = np.take_along_axis(
        top, np.argsort(-np.take_along_axis(rows, top, axis=1), axis=1, kind="stable"), axis=1
    )
    ranked = np.take_along_axis(rows, order, axis=1)  # the m largest, descending
    others = np.ones(rows.shape, dtype=bool)
    np.put_along_axis(others, top, False, axis=1)
    tail = np.where(others, rows, 0.0).sum(axis=1, keepdims=True)  # mass beyond the m largest
    # rest[:, k]: mass of the entries from the k-th largest on (suffix sums, as exact as the
    # entries themselves, so that the capping rule's equalities hold)
    rest = tail + ranked[:, ::-1].cumsum(axis=1)[:, ::-1]
    k = np.arange(m)[None, :]
    room = 1.0 - k * cap  # mass left for entries k.. when the first k are capped
    fits = ranked * room <= cap * np.maximum(rest, 1e-300)
    first = np.argmax(fits, axis=1)  # the entries before it are capped
    scale = room[0, first] / np.maximum(rest[np.arange(len(over)), first], 1e-300)
    scaled = rows * scale[:, None]
    capped_cols = np.where(k < first[:, None], order, -1)
    r, j = np.nonzero(capped_cols >= 0)
    scaled[r, capped_cols[r, j]] = cap
    out[over] = scaled
    return out


def train_policy(features: FeatureSet, config: TrainingConfig | None = None) -> QuizPolicy:
    """Trains the planning policy (see :func:`quizops.training.train_policy`).

    Args:
        features: Output of feature engineering.
        config: Hyper-parameters.

    Returns:
        The policy.
    """
    from quizops.training import train_policy as _train

    return _train(features, config)


class PolicyChooser:
    """A :class:`QuizPolicy` as a :class:`~quizops.simulation.base.Chooser`.

    Beliefs are updated incrementally with the tracer's batched rule (the offline path, equal
    to the online one by the property test); candidates are the world's items the policy knows.
    """

    def __init__(self, policy: QuizPolicy, name: str = "learned policy") -> None:
        """Wraps a policy.

        Args:
            policy: The policy.
            name: Name in reports.
        """
        self.policy = policy
        self.name = name
        self._states = np.zeros((0, policy.tracer.n_skills))
        self._rows = np.zeros(0, dtype=np.int64)
        self._rng = np.random.default_rng(0)
        self._asked = 0  # questions asked so far in the cohort's session

    def start(self, context: RolloutContext) -> None:
        """Starts a cohort (see :class:`~quizops.simulation.base.Chooser`)."""
        known = [i for i in context.item_ids if i in self.policy._index]
        if not known:
            raise InputDataError(f"{self.name}: no item of the world is in the policy's bank")
        self._rows = self.policy.item_rows(known)
        self._states = np.tile(self.policy.state([]), (context.n_students, 1))
        self._rng = context.rng
        self._asked = 0

    def choose(self) -> tuple[list[str], np.ndarray]:
        """Chooses one item per student (see :class:`~quizops.simulation.base.Chooser`)."""
        positions = np.full(len(self._states), self._asked)
        probs = self.policy.probabilities(self._states, self._rows, positions)
        picks = self.policy._sample(probs, self._rng)
        items = self.policy._bank[self._rows[picks]]
        return list(items), probs[np.arange(len(picks)), picks]

    def observe(self, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Updates beliefs (see :class:`~quizops.simulation.base.Chooser`)."""
        self._asked += 1
        if isinstance(self.policy.model, PFAPlanningModel):
            self.policy.model.observe(self._states, item_ids, np.asarray(correct))
            return
        rows = self.policy.tracer.arrays.rows_of(item_ids)
        self.policy.tracer.apply_batch(self._states, rows, np.asarray(correct))
