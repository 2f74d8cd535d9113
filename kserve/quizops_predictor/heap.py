"""Garbage-collector settings of the predictor process (the server entry point applies them).

CPython's cyclic collector costs the predictor CPU on every request in two ways, measured on the
demo policy under the benchmark's load (``bench.bench_predictor``):

* A full collection walks every tracked object. The served process holds about 215,000 at
  start (KServe, FastAPI, pandas, scikit-learn, MLflow, the policy), so each full collection
  took about 90 ms of CPU, with every request in flight waiting behind it; a dozen ran in a
  20-second load. Objects that live as long as the process are moved out of the collector's
  reach with :func:`gc.freeze` (the use the Python documentation gives for it): once when the
  policy is loaded (after one collection, so that no garbage is frozen) and once more after the
  first scoring pass, when the server app exists and the first request's lazy imports are done.
  A full collection then walks only what was created since: about 8 ms.
* A young-generation collection runs every 700 net allocations of tracked objects (the
  default), which each request's parsed body, records and coroutines reach every few requests;
  each walks everything in flight (about 10 us per request in all). Nearly all of those objects
  are freed by reference counting when their request ends, so a higher threshold
  (:data:`YOUNG_THRESHOLD`) makes these collections rare without holding more than a few
  thousand objects of cyclic garbage for longer.

Neither changes what the predictor answers or logs; both only change when unreachable cycles
are reclaimed.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

#: Young-generation threshold of the served process (CPython's default is 700).
YOUNG_THRESHOLD = 7000


def freeze_long_lived(collect: bool = False) -> int:
    """Moves every object alive now out of the collector's reach (``gc.freeze``).

    Args:
        collect: Run a full collection first, so that no garbage is frozen (at start-up only:
            it pauses the process for as long as a full collection takes).

    Returns:
        The number of frozen objects.
    """
    if collect:
        gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("garbage collector: %d long-lived objects frozen", frozen)
    return frozen


def set_young_threshold(threshold: int = YOUNG_THRESHOLD) -> None:
    """Sets the young-generation threshold, keeping the older generations' thresholds.

    Args:
        threshold: Net allocations of tracked objects between young collections (at least 1).

    Raises:
        ValueError: The threshold is below 1.
    """
    if threshold < 1:
        raise ValueError("gc young threshold: must be at least 1")
    _, middle, old = gc.get_threshold()
    gc.set_threshold(threshold, middle, old)
