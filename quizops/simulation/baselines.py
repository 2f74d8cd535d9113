"""Baseline choosers, all in the same code path as the learned policy (the Chooser protocol).

Every baseline except the oracle uses only what the logs give: the knowledge tracer fitted to
them (items, skills, learned prerequisites, tag-level parameters) and each student's answers.

- :class:`RandomChooser`: uniform over the candidates.
- :class:`CurriculumChooser`: one fixed sequence for everyone: skills in learned prerequisite
  order, an equal share of the session each, items in a fixed order.
- :class:`MasteryChooser`: the Cognitive-Tutor rule: practise the first skill (prerequisite
  order) whose fitted-BKT belief is below the threshold, an item of it uniformly at random.
- :class:`ZPDESChooser`: a learning-progress bandit over skills (Clement et al. 2015, ZPDES):
  skills enter the zone once their prerequisites' recent success is high and leave it when their
  own is; a skill is picked in proportion to recent learning progress with some exploration.
- :class:`MaxInfoChooser`: computerized adaptive testing: the unseen item of most Fisher
  information (catsim's ``inf_hpc``) at the student's ability estimate (grid EAP, 1PL fitted as
  item easiness from the logs).
- :class:`OracleChooser`: knows each student's hidden state (``world.oracle_scores``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quizops.features.tracer import KnowledgeTracer
from quizops.simulation.base import RolloutContext, StudentWorld


def prerequisite_order(tracer: KnowledgeTracer) -> list[int]:
    """Skills in an order that puts every learned prerequisite first (ties: course order).

    Args:
        tracer: The fitted tracer.

    Returns:
        Skill indices.
    """
    rank = {k: r for r, k in enumerate(tracer.skill_order)}
    remaining = set(range(tracer.n_skills))
    order: list[int] = []
    while remaining:
        ready = [k for k in remaining if all(p in order for p in tracer.prerequisites[k])]
        if not ready:  # a cycle cannot come from the fit; be safe anyway
            ready = list(remaining)
        best = min(ready, key=lambda k: (rank.get(k, k), k))
        order.append(best)
        remaining.remove(best)
    return order


class _Base:
    """Shared bookkeeping: candidates the tracer knows, beliefs, rows."""

    name = "base"

    def __init__(self, tracer: KnowledgeTracer) -> None:
        self.tracer = tracer
        self.n = 0
        self.rng = np.random.default_rng(0)
        self.candidates = np.zeros(0, dtype=object)
        self.rows = np.zeros(0, dtype=np.int64)  # tracer rows of the candidates

    def start(self, context: RolloutContext) -> None:
        """Starts a cohort."""
        self.n = context.n_students
        self.rng = context.rng
        rows = self.tracer.arrays.rows_of(context.item_ids)
        keep = rows >= 0
        self.candidates = np.array(context.item_ids, dtype=object)[keep]
        self.rows = rows[keep]
        self.states = np.tile(self.tracer.initial_state(), (self.n, 1))

    def observe(self, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Updates beliefs with the answers."""
        rows = self.tracer.arrays.rows_of(item_ids)
        self.tracer.apply_batch(self.states, rows, np.asarray(correct))

    def _primary(self) -> np.ndarray:
        return self.tracer.arrays.skill[self.rows, 0]

    def _uniform_in_skill(self, skills: np.ndarray) -> tuple[list[str], np.ndarray]:
        """One item uniformly among the candidates whose primary skill is each student's."""
        primary = self._primary()
        members = [np.flatnonzero(primary == k) for k in range(self.tracer.n_skills)]
        counts = np.array([len(m) for m in members])
        picks = np.empty(self.n, dtype=np.int64)
        prop = np.empty(self.n)
        for k in np.unique(skills):
            who = np.flatnonzero(skills == k)
            pool = members[k] if counts[k] else np.arange(len(self.rows))
            picks[who] = pool[self.rng.integers(0, len(pool), len(who))]
            prop[who] = 1.0 / len(pool)
        return list(self.candidates[picks]), prop


class RandomChooser(_Base):
    """Uniformly random items."""

    name = "random"

    def choose(self) -> tuple[list[str], np.ndarray]:
        """Chooses uniformly."""
        picks = self.rng.integers(0, len(self.candidates), self.n)
        return list(self.candidates[picks]), np.full(self.n, 1.0 / len(self.candidates))


class CurriculumChooser(_Base):
    """A fixed curriculum: skills in prerequisite order, equal shares of the session."""

    name = "fixed curriculum"

    def __init__(self, tracer: KnowledgeTracer, horizon: int = 20) -> None:
        """Builds the sequence.

        Args:
            tracer: The fitted tracer.
            horizon: Session length the shares are cut for.
        """
        super().__init__(tracer)
        self.horizon = horizon
        self.step = 0

    def start(self, context: RolloutContext) -> None:
        """Starts a cohort at the first item of the sequence."""
        super().start(context)
        self.step = 0
        primary = self._primary()
        order = prerequisite_order(self.tracer)
        per_skill = max(1, -(-self.horizon // len(order)))
        sequence = []
        for k in order:
            pool = np.flatnonzero(primary == k)
            if len(pool) == 0:
                continue
            # Items of the skill, the ones that teach most (fitted) first.
            pool = pool[np.argsort(-self.tracer.arrays.teach[self.rows[pool], 0], kind="stable")]
            sequence += [int(pool[j % len(pool)]) for j in range(per_skill)]
        self.sequence = np.array(sequence or [0])

    def choose(self) -> tuple[list[str], np.ndarray]:
        """Everyone gets the next item of the sequence."""
        pick = self.sequence[self.step % len(self.sequence)]
        self.step += 1
        return [self.candidates[pick]] * self.n, np.ones(self.n)


class MasteryChooser(_Base):
    """Mastery learning on fitted BKT in learned prerequisite order."""

    def __init__(self, tracer: KnowledgeTracer, threshold: float = 0.95) -> None:
        """Sets the threshold.

        Args:
            tracer: The fitted tracer.
            threshold: Belief at which a skill counts as mastered.
        """
        super().__init__(tracer)
        self.threshold = threshold
        self.order = np.array(prerequisite_order(tracer))
        self.name = f"mastery {threshold:.2f}"

    def choose(self) -> tuple[list[str], np.ndarray]:
        """Practises the first unmastered skill."""
        below = self.states[:, self.order] < self.threshold
        first = np.where(below.any(axis=1), np.argmax(below, axis=1), len(self.order) - 1)
        return self._uniform_in_skill(self.order[first])


class ZPDESChooser(_Base):
    """ZPDES-style learning-progress bandit over skills."""

    name = "ZPDES"

    def __init__(self, tracer: KnowledgeTracer, window: int = 3, explore: float = 0.2,
                 unlock: float = 0.66) -> None:  # fmt: skip
        """Sets the bandit.

        Args:
            tracer: The fitted tracer (for skills and prerequisites only).
            window: Answers per half-window of learning progress.
            explore: Share of uniform choice among the zone.
            unlock: Recent success rate of every prerequisite that opens a skill, and of the
                skill itself that closes it.
        """
        super().__init__(tracer)
        self.window, self.explore, self.unlock = window, explore, unlock

    def start(self, context: RolloutContext) -> None:
        """Starts with empty answer windows."""
        super().start(context)
        s = self.tracer.n_skills
        self.recent = np.full((self.n, s, 2 * self.window), np.nan)
        self.requires = self.tracer.arrays.requires

    def observe(self, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Shifts each answered skill's window."""
        super().observe(item_ids, correct)
        rows = self.tracer.arrays.rows_of(item_ids)
        skills = self.tracer.arrays.skill[np.maximum(rows, 0), 0]
        who = np.flatnonzero(rows >= 0)
        k = skills[who]
        self.recent[who, k, :-1] = self.recent[who, k, 1:]
        self.recent[who, k, -1] = np.asarray(correct)[who]

    def choose(self) -> tuple[list[str], np.ndarray]:
        """Samples a skill by learning progress within the zone, then an item uniformly."""
        w = self.window
        newer = np.nanmean(np.where(np.isnan(self.recent[..., w:]), 0.0, self.recent[..., w:]),
                           axis=2)  # fmt: skip
        seen_new = (~np.isnan(self.recent[..., w:])).sum(axis=2)
        seen_old = (~np.isnan(self.recent[..., :w])).sum(axis=2)
        older = np.where(
            seen_old > 0,
            np.nansum(self.recent[..., :w], axis=2) / np.maximum(seen_old, 1),
            0.0,
        )
        success = np.where(seen_new > 0, newer * w / np.maximum(seen_new, 1), 0.0)
        progress = np.abs(success - older)
        solid = (seen_new >= w) & (success >= self.unlock)
        open_ = ~np.any(self.requires[None, :, :] & ~solid[:, None, :], axis=2)
        zone = open_ & ~solid
        zone[~zone.any(axis=1)] = True
        weight = np.where(zone, progress + 0.1, 0.0)
        weight /= weight.sum(axis=1, keepdims=True)
        zone_share = zone / zone.sum(axis=1, keepdims=True)
        p_skill = (1 - self.explore) * weight + self.explore * zone_share
        draws = self.rng.random((self.n, 1))
        skills = np.minimum((p_skill.cumsum(axis=1) < draws).sum(axis=1), p_skill.shape[1] - 1)
        items, p_item = self._uniform_in_skill(skills)
        return items, p_skill[np.arange(self.n), skills] * p_item


class MaxInfoChooser(_Base):
    """Maximum-information item selection (computerized adaptive testing)."""

    name = "max information"

    def start(self, context: RolloutContext) -> None:
        """Fits item difficulties (1PL) from the tracer and starts ability grids."""
        super().start(context)
        a = self.tracer.arrays
        # P(correct) of a median student: belief at the prior, through the item's tags.
        prior = np.tile(self.tracer.initial_state(), (len(self.rows), 1))
        p = np.clip(self.tracer.p_correct(prior, self.rows), 0.02, 0.98)
        self.difficulty = -np.log(p / (1 - p))
        self.bank = np.column_stack(
            [np.ones(len(self.rows)), self.difficulty, np.zeros(len(self.rows)),
             np.ones(len(self.rows))]
        )  # fmt: skip
        self.grid = np.linspace(-4, 4, 41)
        self.log_post = np.tile(-0.5 * self.grid**2, (self.n, 1))
        self.seen = np.zeros((self.n, len(self.rows)), dtype=bool)
        self._pos = {item: j for j, item in enumerate(self.candidates)}
        del a

    def choose(self) -> tuple[list[str], np.ndarray]:
        """The unseen item with the most information at each student's EAP ability."""
        from catsim.irt import inf_hpc

        post = np.exp(self.log_post - self.log_post.max(axis=1, keepdims=True))
        theta = (post * self.grid).sum(axis=1) / post.sum(axis=1)
        info = np.stack([inf_hpc(float(t), self.bank) for t in theta])
        info = np.where(self.seen, -np.inf, info)
        info[self.seen.all(axis=1)] = 0.0
        picks = np.argmax(info, axis=1)
        return list(self.candidates[picks]), np.ones(self.n)

    def observe(self, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Updates the ability posteriors."""
        super().observe(item_ids, correct)
        cols = np.array([self._pos.get(i, -1) for i in item_ids])
        who = np.flatnonzero(cols >= 0)
        b = self.difficulty[cols[who]]
        p = 1.0 / (1.0 + np.exp(-(self.grid[None, :] - b[:, None])))
        ok = np.asarray(correct)[who][:, None] == 1
        self.log_post[who] += np.log(np.where(ok, p, 1 - p))
        self.seen[who, cols[who]] = True


class OracleChooser:
    """Knows the hidden state: picks each student's highest ``world.oracle_scores`` item."""

    name = "oracle"

    def start(self, context: RolloutContext) -> None:
        """Keeps the world and its students (oracles only)."""
        self.world = context.world
        self.students = context.students
        self.rng = context.rng
        self.item_ids = np.array(context.item_ids, dtype=object)

    def choose(self) -> tuple[list[str], np.ndarray]:
        """The best item per student (ties broken at random)."""
        scores = self.world.oracle_scores(self.students)  # type: ignore[union-attr]
        scores = scores + self.rng.random(scores.shape) * 1e-9
        picks = np.argmax(scores, axis=1)
        return list(self.item_ids[picks]), np.ones(len(picks))

    def observe(self, item_ids: Sequence[str], correct: np.ndarray) -> None:
        """Nothing to learn: the oracle reads the state."""


def baseline_choosers(tracer: KnowledgeTracer, *, horizon: int = 20,
                      thresholds: Sequence[float] = (0.95,)) -> list:  # fmt: skip
    """Every baseline (not the oracle), built from a tracer fitted to the logs.

    Args:
        tracer: The fitted tracer.
        horizon: Session length (for the fixed curriculum).
        thresholds: Mastery thresholds (one mastery chooser each).

    Returns:
        The choosers.
    """
    return [
        RandomChooser(tracer),
        CurriculumChooser(tracer, horizon),
        *[MasteryChooser(tracer, t) for t in thresholds],
        ZPDESChooser(tracer),
        MaxInfoChooser(tracer),
    ]


def best_mastery_chooser(tracer: KnowledgeTracer, world: StudentWorld, *,
                         thresholds: Sequence[float] = (0.6, 0.7, 0.8, 0.9, 0.95),
                         students: int = 500, steps: int = 20, seed: int = 0,
                         ) -> MasteryChooser:  # fmt: skip
    """The mastery rule with the threshold that does best in a world (an optimistic baseline).

    Args:
        tracer: The fitted tracer.
        world: The world the threshold is chosen in (use other students than the report's:
            a different ``seed``).
        thresholds: Thresholds tried.
        students: Students per threshold.
        steps: Session length.
        seed: Seed of the simulated students.

    Returns:
        The best mastery chooser, named ``mastery best (<threshold>)``.
    """
    from quizops.simulation.rollouts import simulate

    scored = []
    for threshold in thresholds:
        result = simulate(MasteryChooser(tracer, threshold), world, students=students,
                          steps=steps, seed=seed)  # fmt: skip
        scored.append((float(result.final_mastered.mean()), threshold))
    best = max(scored)[1]
    chooser = MasteryChooser(tracer, best)
    chooser.name = f"mastery best ({best:.2f})"
    return chooser
