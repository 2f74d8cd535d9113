"""Former home of the simulator; everything now lives in :mod:`quizops.simulation`.

Kept so that ``from quizops.simulator import ...`` in modules not yet moved keeps working.
"""

from quizops.simulation import *  # noqa: F403
from quizops.simulation import __all__  # noqa: F401
