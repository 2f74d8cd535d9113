"""Simulated student worlds: the hand-made course, its logs, rollouts and baselines.

One module per concern: :mod:`~quizops.simulation.base` (the world and chooser contracts),
:mod:`~quizops.simulation.world` (the hand-made course's dynamics),
:mod:`~quizops.simulation.logging_policy` (the exploring curriculum that logged the data),
:mod:`~quizops.simulation.export` (ASSISTments-layout logs with personal data),
:mod:`~quizops.simulation.rollouts` (choosers against students, common random numbers) and
:mod:`~quizops.simulation.cli` (``quizops simulate``).
"""

from quizops.simulation.base import Chooser, RolloutContext, StudentWorld
from quizops.simulation.export import (
    ASSISTMENTS_COLUMNS,
    simulate_logs,
    write_assistments_csv,
)
from quizops.simulation.logging_policy import LoggingPolicy
from quizops.simulation.rollouts import (
    HistoryChooser,
    RolloutResult,
    logging_chooser,
    random_chooser,
    rollout,
    simulate,
)
from quizops.simulation.world import (
    Cohort,
    World,
    make_world,
    new_cohort,
    practise,
    practise_with,
    prerequisite_matrix,
)

__all__ = [
    "ASSISTMENTS_COLUMNS",
    "Chooser",
    "Cohort",
    "HistoryChooser",
    "LoggingPolicy",
    "RolloutContext",
    "RolloutResult",
    "StudentWorld",
    "World",
    "logging_chooser",
    "make_world",
    "new_cohort",
    "practise",
    "practise_with",
    "prerequisite_matrix",
    "random_chooser",
    "rollout",
    "simulate",
    "simulate_logs",
    "write_assistments_csv",
]
