"""Ingest: raw interaction logs (ASSISTments 2009, EdNet KT1, canonical) -> canonical table.

The stage lives in :mod:`quizops.ingest.stage` (:func:`run_ingest_stage`, called by the ingest
component); the readers of each format in their own modules.
"""

from quizops.ingest.stage import (
    DEFAULT_RAW_ZONE_FOLDER,
    FORMATS,
    IngestResult,
    IngestStageResult,
    ingest,
    raw_table_uri,
    read_source,
    run_ingest_stage,
)

__all__ = [
    "DEFAULT_RAW_ZONE_FOLDER",
    "FORMATS",
    "IngestResult",
    "IngestStageResult",
    "ingest",
    "raw_table_uri",
    "read_source",
    "run_ingest_stage",
]
