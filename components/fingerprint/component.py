"""KFP component: the identity of a data source, never cached (keys ingest's cache)."""

from typing import NamedTuple

from kfp import dsl

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def fingerprint(source_uri: str, span: str, scheduled_time: str = "") -> NamedTuple(
    "Fingerprint", identity=str, span=str
):
    """Lists the source and returns its identity (content hashes, or GCS generations).

    Args:
        source_uri: File or folder, local path or gs:// URI.
        span: The span ingest will read ("" = the whole source; "@scheduled" or "@scheduled-1"
            = the run's scheduled date, or the day before).
        scheduled_time: The run's scheduled time (the pipeline passes KFP's placeholder).

    Returns:
        identity: hex SHA-256, passed to ingest as ``source_identity``; span: the span resolved.
    """
    from collections import namedtuple

    from quizops.fingerprint import run_fingerprint_stage

    result = run_fingerprint_stage(source_uri=source_uri, span=span, scheduled_time=scheduled_time)
    return namedtuple("Fingerprint", ["identity", "span"])(result.identity, result.span)
