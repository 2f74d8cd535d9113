"""KFP component: the identity of a data source, never cached (keys ingest's cache)."""

from kfp import dsl

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def fingerprint(source_uri: str, span: str) -> str:
    """Lists the source and returns its identity (content hashes, or GCS generations).

    Args:
        source_uri: File or folder, local path or gs:// URI.
        span: The span ingest will read ("" = the whole source).

    Returns:
        The identity (hex SHA-256), passed to ingest as ``source_identity``.
    """
    from quizops.fingerprint import run_fingerprint_stage

    return run_fingerprint_stage(source_uri=source_uri, span=span).identity
