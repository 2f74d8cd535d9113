"""KFP component: raw logs (ASSISTments, EdNet KT1, canonical) -> raw-zone table + manifest."""

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def ingest(
    source_uri: str,
    source_format: str,
    span: str,
    raw_zone_uri: str,
    manifest: Output[Dataset],
    metrics: Output[Metrics],
    encoding: str = "auto",
    source_identity: str = "",
) -> None:
    """Reads one span of a source into the canonical table, kept in the raw zone.

    Args:
        source_uri: File or folder, local path or gs:// URI.
        source_format: "assistments", "ednet" or "canonical".
        span: Span value (e.g. "2026-11-23") or "" for the whole source.
        raw_zone_uri: Where the table with personal data goes ("" = beside the source).
        manifest: Output: the manifest (table URI, SHA-256, rows, format, span, previous span).
        metrics: Output: rows read, kept and dropped per reason; students, items, skills.
        encoding: Text encoding of CSV sources ("auto": UTF-8, or a Western code page for a
            file with no UTF-8 character in it).
        source_identity: The source's identity from the fingerprint task (content hashes or
            GCS generations): the task's cache key changes exactly when the data does.
    """
    import json

    from quizops.ingest import run_ingest_stage

    result = run_ingest_stage(
        source_uri=source_uri,
        source_format=source_format,
        span=span,
        raw_zone_uri=raw_zone_uri,
        manifest_path=manifest.path,
        encoding=encoding,
        source_identity=source_identity,
    )
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    # The same numbers as a file: an artifact without one counts as missing in kfp.local's cache.
    with open(metrics.path, "w") as handle:
        json.dump(result.metrics, handle, sort_keys=True)
