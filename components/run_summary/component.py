"""KFP component: the exit handler's run summary (Markdown), for a succeeded or failed run."""

from kfp import dsl
from kfp.dsl import Markdown, Output, PipelineTaskFinalStatus

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def run_summary(status: PipelineTaskFinalStatus, summary: Output[Markdown]) -> str:
    """Writes the run summary: each stage's outputs, the gate decision, model and reports.

    Args:
        status: Final status of the pipeline's body (filled in by KFP in an exit handler).
        summary: Output: the Markdown summary.

    Returns:
        The run's final state (``SUCCEEDED``, ``FAILED`` or ``CANCELLED``).
    """
    from quizops.summary import run_summary_stage

    error = status.error_message or "" if status.state != "SUCCEEDED" else ""
    result = run_summary_stage(
        state=status.state,
        summary_path=summary.path,
        summary_uri=summary.uri,
        error=error,
    )
    return result.state
