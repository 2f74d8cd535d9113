"""The training pipeline: fingerprint -> ingest -> pii_scan -> data_validation ->
feature_engineering -> train_policy -> evaluate_policy -> dsl.If(blessed) deploy_kserve, inside
an exit handler that writes the run summary.

Compiles to compiled/training.yaml. Nothing here reads the environment: the YAML is the same on
every machine. Secrets (the pseudonymization key, MLflow credentials) come from Kubernetes
secrets through kfp-kubernetes and never travel as pipeline parameters. Caching, retries,
resources and timeouts follow :mod:`pipelines.task_policies`.
"""

from kfp import dsl, kubernetes

from components.data_validation.component import data_validation
from components.deploy_kserve.component import deploy_kserve
from components.evaluate_policy.component import evaluate_policy
from components.feature_engineering.component import feature_engineering
from components.fingerprint.component import fingerprint
from components.ingest.component import ingest
from components.materialize_features.component import materialize_features
from components.pii_scan.component import pii_scan
from components.run_summary.component import run_summary
from components.train_policy.component import train_policy
from pipelines.task_policies import apply_policy
from quizops.names import (
    FEAST_REDIS_ENV,
    FEAST_REDIS_SECRET,
    MLFLOW_PASSWORD_ENV,
    MLFLOW_SECRET,
    MLFLOW_USERNAME_ENV,
    PII_KEY_ENV,
    PII_KEY_SECRET,
    PII_KEY_SECRET_KEY,
    PREDICTOR_IMAGE,
    SERVICE_NAME,
)

#: Name of the pipeline in Kubeflow (and of its local run folders).
PIPELINE_NAME = "quizops-training"


def use_mlflow_credentials(task: dsl.PipelineTask) -> None:
    """Mounts the optional MLflow credentials secret as MLflow's environment variables.

    Args:
        task: A task that talks to the MLflow tracking server.
    """
    kubernetes.use_secret_as_env(
        task,
        secret_name=MLFLOW_SECRET,
        secret_key_to_env={
            "username": MLFLOW_USERNAME_ENV,
            "password": MLFLOW_PASSWORD_ENV,
        },
        optional=True,
    )


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Trains, checks and (when blessed) deploys the adaptive-quiz selection policy.",
)
def training_pipeline(
    source_uri: str,
    source_format: str = "assistments",
    source_encoding: str = "auto",
    span: str = "",
    raw_zone_uri: str = "",
    mlflow_tracking_uri: str = "http://mlflow.mlflow.svc.cluster.local:5000",
    experiment: str = "quizops",
    statistics_store_uri: str = "",
    decisions_uri: str = "",
    served_decisions_uri: str = "",
    drift_js_threshold: float = 0.1,
    drift_linf_threshold: float = 0.1,
    skew_linf_threshold: float = 0.1,
    skew_js_threshold: float = 0.1,
    beam_pipeline_args: list = [],  # noqa: B006 - KFP needs a literal default
    pii_policy_json: str = "",
    temperature: float = 0.0,
    epsilon: float = 0.0,
    search_budget_s: float = 900.0,
    seed: int = 0,
    eval_students: int = 300,
    eval_steps: int = 20,
    holdout_fraction: float = 0.2,
    bootstrap_resamples: int = 200,
    clip_weight: float = 20.0,
    ope_estimator: str = "dr",
    ope_margin: float = 0.0,
    min_effective_sample: float = 30.0,
    min_support: float = 0.9,
    min_lift: float = 0.05,
    max_item_share: float = 0.25,
    slice_margin: float = 0.25,
    family_fit_margin: float = 0.0,
    exclude_unfit_families: bool = True,
    deploy_target: str = "kserve",
    namespace: str = "quizops",
    service_name: str = SERVICE_NAME,
    canary_traffic_percent: int = 10,
    prometheus_url: str = "",
    canary_analysis: str = "required",
    canary_window_seconds: float = 600.0,
    predictor_image: str = PREDICTOR_IMAGE,
    feature_store: str = "",
    feature_offline_uri: str = "",
) -> None:
    """Trains, checks and (when blessed) deploys the adaptive-quiz selection policy.

    Args:
        source_uri: Raw interaction logs: a file or folder, local path or gs:// URI.
        source_format: Layout of the logs: assistments, ednet or canonical.
        source_encoding: Text encoding of CSV sources (e.g. utf-8, latin-1; "auto": UTF-8, or
            a Western code page for a file with no UTF-8 character in it).
        span: The span to read, e.g. 2026-11-23 for the folder date=2026-11-23; empty reads
            the whole source; @scheduled reads the run's scheduled date (UTC) and @scheduled-1
            the day before it (recurring runs).
        raw_zone_uri: Where ingest keeps the canonical table that still holds personal data;
            empty means a hidden _quizops_raw folder beside the source.
        mlflow_tracking_uri: MLflow tracking server (experiments and the model registry).
        experiment: MLflow experiment of the training runs.
        statistics_store_uri: Statistics of earlier spans (drift baseline); empty disables
            drift and stores nothing.
        decisions_uri: The predictor's decision logs (training-serving skew); empty disables
            skew.
        served_decisions_uri: The predictor's decision logs as off-policy data: feature
            engineering writes the exact propensity of each of the span's served decisions onto
            the answer it produced (clock-time tables only; skipped, with the reason logged, on
            ASSISTments order ids), and the deployed predictor logs there (a gs:// prefix on
            KServe). Usually the same prefix as decisions_uri; kept apart because a retraining
            run started by monitoring clears decisions_uri (skew) but must still join and log.
            Empty disables both.
        drift_js_threshold: Jensen-Shannon divergence above which a numeric feature drifted.
        drift_linf_threshold: L-infinity distance above which a categorical feature drifted.
        skew_linf_threshold: L-infinity distance above which serving item ids are skewed.
        skew_js_threshold: Jensen-Shannon divergence above which serving propensities are
            skewed.
        beam_pipeline_args: Beam options for the TFDV statistics (e.g. --runner=DataflowRunner
            ...); empty computes them in the task.
        pii_policy_json: De-identification policy as a JSON object; empty uses the safe
            defaults.
        temperature: Softmax temperature of the policy; 0 chooses it by validation in
            simulators fitted to the logs.
        epsilon: Uniform exploration share of the policy (keeps every propensity positive); 0
            chooses it by validation.
        search_budget_s: Wall-clock seconds the policy search may spend; on a large item bank
            (a real export's thousands of items) its grid is tried in order of preference
            until they are spent.
        seed: Seed of the simulators' held-out split and the policy search.
        eval_students: Simulated students per policy and fitted simulator in the evaluation.
        eval_steps: Questions per quiz session: items per simulated student in the
            evaluation, and the session the policy search plans for (train_policy's
            ``session_length``: the search's simulated sessions and the policy's endgame).
        holdout_fraction: Share of students held out for off-policy evaluation.
        bootstrap_resamples: Bootstrap resamples (over students) of every interval.
        clip_weight: Importance-weight cap of clipped IPS and switch-DR.
        ope_estimator: Off-policy estimator the gate reads (dm, ips, snips, clipped_ips, dr,
            switch_dr).
        ope_margin: How far below the reference the off-policy interval's upper bound may be.
        min_effective_sample: Least effective sample of the importance weights; below it
            off-policy evaluation is refused and the gate fails.
        min_support: Least share of the challenger's choices the logging policy covers.
        min_lift: Least lower 95% bound of the challenger's paired improvement in skills
            mastered over the champion (the best baseline when there is none), in every
            fitted simulator.
        max_item_share: Largest share of the challenger's simulated decisions on one item.
        slice_margin: Largest loss in skills mastered of a slice of students (prior mastery)
            against the champion (the best baseline).
        family_fit_margin: How much worse than a plain per-skill BKT, or than the best fitted
            family (upper 95% bound of the paired held-out gap), in log-likelihood per answer, a
            fitted simulator family may predict students before it counts as unfit.
        exclude_unfit_families: Leave unfit families out of the gate (reported, not gated).
            Off: the challenger must win in every fitted simulator family.
        deploy_target: kserve (InferenceService canary) or local (predictor smoke test).
        namespace: Kubernetes namespace of the InferenceService.
        service_name: Name of the InferenceService.
        canary_traffic_percent: Share of traffic the canary gets before promotion.
        prometheus_url: Prometheus base URL for the canary's observation window (error rate,
            p99 latency, outcome test against the champion).
        canary_analysis: required (a canary is promoted only after the Prometheus window
            passed; without prometheus_url the deploy refuses before any change) or skip
            (explicit opt-out: readiness and the smoke test decide).
        canary_window_seconds: Length of the canary's observation window.
        predictor_image: Container image of the predictor the InferenceService runs.
        feature_store: Feast repository folder the student states are materialized into
            (holds feature_store.yaml; production: the mounted feature_repo/production);
            empty means $QUIZOPS_FEATURE_STORE, else the local home's feature_store/.
        feature_offline_uri: Where the offline feature files go (production: a gs://
            prefix); empty means the repository's data/ folder.
    """
    summary_task = apply_policy(run_summary(), "run-summary", "Write the run summary")

    with dsl.ExitHandler(summary_task, name="Train, check and deploy"):
        fingerprint_task = apply_policy(
            fingerprint(
                source_uri=source_uri,
                span=span,
                scheduled_time=dsl.PIPELINE_JOB_SCHEDULE_TIME_UTC_PLACEHOLDER,
            ),
            "fingerprint",
            "Fingerprint the source",
        )
        resolved_span = fingerprint_task.outputs["span"]
        ingest_task = apply_policy(
            ingest(
                source_uri=source_uri,
                source_format=source_format,
                span=resolved_span,
                raw_zone_uri=raw_zone_uri,
                encoding=source_encoding,
                source_identity=fingerprint_task.outputs["identity"],
            ),
            "ingest",
            "Ingest the logs",
        )

        pii_task = apply_policy(
            pii_scan(raw=ingest_task.outputs["manifest"], policy_json=pii_policy_json),
            "pii-scan",
            "Remove personal data",
        )
        kubernetes.use_secret_as_env(
            pii_task,
            secret_name=PII_KEY_SECRET,
            secret_key_to_env={PII_KEY_SECRET_KEY: PII_KEY_ENV},
        )

        validation_task = apply_policy(
            data_validation(
                data=pii_task.outputs["clean"],
                statistics_store_uri=statistics_store_uri,
                drift_js_threshold=drift_js_threshold,
                drift_linf_threshold=drift_linf_threshold,
                skew_linf_threshold=skew_linf_threshold,
                skew_js_threshold=skew_js_threshold,
                decisions_uri=decisions_uri,
                beam_pipeline_args=beam_pipeline_args,
                span=resolved_span,
                source_uri=source_uri,
            ),
            "data-validation",
            "Validate the data",
        )

        features_task = apply_policy(
            feature_engineering(
                data=validation_task.outputs["validated"],
                decisions_uri=served_decisions_uri,
                span=resolved_span,
            ),
            "feature-engineering",
            "Compute the features",
        )

        train_task = apply_policy(
            train_policy(
                features=features_task.outputs["features"],
                tracking_uri=mlflow_tracking_uri,
                experiment=experiment,
                temperature=temperature,
                epsilon=epsilon,
                seed=seed,
                holdout_fraction=holdout_fraction,
                min_effective_sample=min_effective_sample,
                search_budget_s=search_budget_s,
                session_length=eval_steps,
                span=resolved_span,
                kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            ),
            "train-policy",
            "Train the policy",
        )

        eval_task = apply_policy(
            evaluate_policy(
                model=train_task.outputs["model"],
                features=features_task.outputs["features"],
                tracking_uri=mlflow_tracking_uri,
                students=eval_students,
                steps=eval_steps,
                holdout_fraction=holdout_fraction,
                bootstrap_resamples=bootstrap_resamples,
                clip_weight=clip_weight,
                ope_estimator=ope_estimator,
                ope_margin=ope_margin,
                min_effective_sample=min_effective_sample,
                min_support=min_support,
                min_lift=min_lift,
                max_item_share=max_item_share,
                slice_margin=slice_margin,
                family_fit_margin=family_fit_margin,
                exclude_unfit_families=exclude_unfit_families,
            ),
            "evaluate-policy",
            "Evaluate the policy",
        )

        for task in (train_task, eval_task):
            use_mlflow_credentials(task)

        with dsl.If(eval_task.outputs["Output"] == True, name="If blessed"):  # noqa: E712
            # Only a blessed policy's states go online: the store holds the states of the
            # tracer that serves (a state of another tracer is not continued).
            materialize_task = apply_policy(
                materialize_features(
                    data=validation_task.outputs["validated"],
                    features=features_task.outputs["features"],
                    feature_store=feature_store,
                    offline_uri=feature_offline_uri,
                ),
                "materialize-features",
                "Materialize the student states",
            )
            kubernetes.use_secret_as_env(
                materialize_task,
                secret_name=FEAST_REDIS_SECRET,
                secret_key_to_env={"connection_string": FEAST_REDIS_ENV},
                optional=True,
            )

            deploy_task = apply_policy(
                deploy_kserve(
                    model=train_task.outputs["model"],
                    target=deploy_target,
                    namespace=namespace,
                    service_name=service_name,
                    canary_traffic_percent=canary_traffic_percent,
                    tracking_uri=mlflow_tracking_uri,
                    predictor_image=predictor_image,
                    prometheus_url=prometheus_url,
                    canary_analysis=canary_analysis,
                    canary_window_seconds=canary_window_seconds,
                    decisions_uri=served_decisions_uri,
                ),
                "deploy-kserve",
                "Deploy the policy",
            )
            use_mlflow_credentials(deploy_task)
            # The new policy's tracer finds the states its own run materialized.
            deploy_task.after(materialize_task)
