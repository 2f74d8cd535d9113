"""Simulated student worlds: the hand-made course, its logs, rollouts and baselines.

One module per concern: :mod:`~quizops.simulation.base` (the world and chooser contracts),
:mod:`~quizops.simulation.world` (the hand-made course's dynamics),
:mod:`~quizops.simulation.logging_policy` (the exploring curriculum that logged the data),
:mod:`~quizops.simulation.export` (ASSISTments-layout logs with personal data),
:mod:`~quizops.simulation.rollouts` (choosers against students, common random numbers),
:mod:`~quizops.simulation.fitted` (simulators fitted to logs: ``bkt`` and ``pfa``),
:mod:`~quizops.simulation.baselines` (random, curriculum, mastery, ZPDES, max-information,
oracle) and :mod:`~quizops.simulation.cli` (``quizops simulate``).
"""

from quizops.simulation.base import Chooser, RolloutContext, StudentWorld
from quizops.simulation.baselines import (
    CurriculumChooser,
    MasteryChooser,
    MaxInfoChooser,
    OracleChooser,
    RandomChooser,
    ZPDESChooser,
    baseline_choosers,
    best_mastery_chooser,
    prerequisite_order,
)
from quizops.simulation.export import (
    ASSISTMENTS_COLUMNS,
    canonical_from_simulated,
    simulate_logs,
    write_assistments_csv,
)
from quizops.simulation.fitted import FittedBKTWorld, FittedPFAWorld, fit_simulators
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
    "CurriculumChooser",
    "FittedBKTWorld",
    "FittedPFAWorld",
    "HistoryChooser",
    "LoggingPolicy",
    "MasteryChooser",
    "MaxInfoChooser",
    "OracleChooser",
    "RandomChooser",
    "RolloutContext",
    "RolloutResult",
    "StudentWorld",
    "World",
    "ZPDESChooser",
    "baseline_choosers",
    "best_mastery_chooser",
    "canonical_from_simulated",
    "fit_simulators",
    "logging_chooser",
    "make_world",
    "new_cohort",
    "practise",
    "practise_with",
    "prerequisite_matrix",
    "prerequisite_order",
    "random_chooser",
    "rollout",
    "simulate",
    "simulate_logs",
    "write_assistments_csv",
]
