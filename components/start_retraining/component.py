"""KFP component: start a training run on the monitored span (a side effect: never cached)."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def start_retraining(
    verdict: Input[Artifact],
    request: Output[Artifact],
    kfp_host: str = "",
    experiment: str = "quizops",
    training_arguments: dict = {},  # noqa: B006 - KFP needs a literal default
) -> str:
    """Starts a run of the training pipeline's newest version on the span (or, locally,
    records the request for ``make monitor``).

    Args:
        verdict: The monitoring verdict (span checked, reasons); the training run reads the
            same span.
        request: Output: JSON record of what was started.
        kfp_host: KFP API ("" = the in-cluster service; "local" = leave it to make monitor).
        experiment: Experiment of the training run.
        training_arguments: The training pipeline's arguments (span is set here).

    Returns:
        The run id ("" when only requested locally).
    """
    import json

    from quizops.monitoring.retrain import run_retraining_stage

    with open(verdict.path) as handle:
        found = json.load(handle)
    result = run_retraining_stage(
        span=str(found["span"]),
        reasons=[str(r) for r in found["reasons"]],
        kfp_host=kfp_host,
        experiment=experiment,
        training_arguments=dict(training_arguments),
        request_path=request.path,
    )
    return result.run_id
