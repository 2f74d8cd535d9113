"""KFP component: quarantined raw table -> de-identified canonical table + PII report."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def pii_scan(
    raw: Input[Dataset],
    clean: Output[Dataset],
    report: Output[Artifact],
    report_view: Output[Markdown],
    policy_json: str = "",
) -> None:
    """Pseudonymizes identifiers, redacts free text and fails closed on unhandled PII.

    The key comes from the environment (QUIZOPS_PII_KEY from a Kubernetes secret, or
    QUIZOPS_PII_KEY_FILE locally), never from a pipeline parameter.

    Args:
        raw: The ingest manifest (the table itself stays in the raw zone).
        clean: Output: the de-identified canonical table (Parquet).
        report: Output: the JSON report (counts per column and entity type, no raw values).
        report_view: Output: the report as Markdown for the Kubeflow UI.
        policy_json: The de-identification policy as a JSON object ("" = safe defaults).
    """
    from quizops.pii import run_pii_stage

    run_pii_stage(
        manifest_path=raw.path,
        clean_path=clean.path,
        report_path=report.path,
        view_path=report_view.path,
        policy_json=policy_json,
    )
