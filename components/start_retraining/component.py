"""KFP component: start a training run on the monitored span (a side effect: never cached)."""

from kfp import dsl
from kfp.dsl import Artifact, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def start_retraining(
    span: str,
    reasons: list,
    request: Output[Artifact],
    kfp_host: str = "",
    experiment: str = "quizops",
    training_arguments: dict = {},  # noqa: B006 - KFP needs a literal default
) -> str:
    """Starts a run of the training pipeline's newest version on the span (or, locally,
    records the request for ``make monitor``).

    Args:
        span: The monitored decision span; the training run reads the same span.
        reasons: The crossed thresholds.
        request: Output: JSON record of what was started.
        kfp_host: KFP API ("" = the in-cluster service; "local" = leave it to make monitor).
        experiment: Experiment of the training run.
        training_arguments: The training pipeline's arguments (span is set here).

    Returns:
        The run id ("" when only requested locally).
    """
    from quizops.monitoring.retrain import run_retraining_stage

    result = run_retraining_stage(
        span=span,
        reasons=[str(r) for r in reasons],
        kfp_host=kfp_host,
        experiment=experiment,
        training_arguments=dict(training_arguments),
        request_path=request.path,
    )
    return result.run_id
