"""KFP component: evaluate the challenger in fitted simulators and off-policy; the gate."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components.images import CORE_IMAGE


@dsl.component(base_image=CORE_IMAGE, install_kfp_package=False)
def evaluate_policy(
    model: Input[Model],
    features: Input[Dataset],
    metrics: Output[Metrics],
    report: Output[HTML],
    summary: Output[Markdown],
    tracking_uri: str = "",
    holdout_fraction: float = 0.2,
    split_seed: int = 0,
    bootstrap_resamples: int = 200,
    bootstrap_seed: int = 0,
    clip_weight: float = 20.0,
    ope_estimator: str = "dr",
    ope_margin: float = 0.0,
    min_effective_sample: float = 30.0,
    min_support: float = 0.9,
    students: int = 300,
    steps: int = 20,
    seed: int = 1000,
    min_lift: float = 0.05,
    max_item_share: float = 0.25,
    slice_margin: float = 0.25,
    family_fit_margin: float = 0.0,
    exclude_unfit_families: bool = True,
) -> bool:
    """Compares the challenger with the champion and the baselines; returns whether blessed.

    Args:
        model: The challenger policy (metadata ``mlflow_run_id``, ``mlflow_model_version``).
        features: Feature engineering output (its ``interactions.parquet`` is the log).
        metrics: Every number of the evaluation.
        report: Self-contained HTML report (inline SVG charts); metadata ``champion_version``
            (the champion compared with, "" = none) and ``blessed``.
        summary: Markdown summary of the decision; the same metadata.
        tracking_uri: MLflow tracking URI ("" = MLFLOW_TRACKING_URI of the environment).
        holdout_fraction: Share of students held out for off-policy evaluation.
        split_seed: Seed of the student split.
        bootstrap_resamples: Bootstrap resamples (over students) of every interval.
        bootstrap_seed: Seed of the resamples.
        clip_weight: Weight cap of clipped IPS and switch-DR.
        ope_estimator: Off-policy estimator the gate reads (dm, ips, snips, clipped_ips, dr,
            switch_dr).
        ope_margin: How much worse than the reference the OPE interval may reach.
        min_effective_sample: Least effective sample of the importance weights.
        min_support: Least share of the challenger's choices the logging policy covers.
        students: Simulated students per policy and family.
        steps: Items per simulated student.
        seed: Seed of the simulated students (shared by every policy: paired).
        min_lift: Least lower bound of the paired improvement in skills mastered.
        max_item_share: Largest share of the challenger's decisions on one item.
        slice_margin: Largest loss of a slice of students against the reference.
        family_fit_margin: How much worse than plain BKT, or than the best fitted family
            (upper 95% bound of the paired held-out gap), in log-likelihood per answer, a fitted
            simulator family may predict students before it counts as unfit.
        exclude_unfit_families: Leave unfit families out of the gate (reported, not gated;
            the decision says so). Off: the challenger must win in every fitted family.

    Returns:
        Whether the challenger is blessed.
    """
    from quizops.evaluation import GateConfig, run_evaluation_stage

    result = run_evaluation_stage(
        model_dir=model.path,
        features_dir=features.path,
        report_path=report.path,
        markdown_path=summary.path,
        tracking_uri=tracking_uri,
        run_id=model.metadata.get("mlflow_run_id", ""),
        config=GateConfig(
            holdout_fraction=holdout_fraction,
            split_seed=split_seed,
            bootstrap_resamples=bootstrap_resamples,
            bootstrap_seed=bootstrap_seed,
            clip_weight=clip_weight,
            ope_estimator=ope_estimator,
            ope_margin=ope_margin,
            min_effective_sample=min_effective_sample,
            min_support=min_support,
            students=students,
            steps=steps,
            seed=seed,
            min_lift=min_lift,
            max_item_share=max_item_share,
            slice_margin=slice_margin,
            family_fit_margin=family_fit_margin,
            exclude_unfit_families=exclude_unfit_families,
        ),
    )
    # Strings stay off the Metrics artifact (its metadata is numeric scalars).
    for artifact in (report, summary):
        artifact.metadata["champion_version"] = result.champion_version
        artifact.metadata["blessed"] = result.blessed
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    return result.blessed
