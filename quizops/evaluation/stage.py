"""The evaluate_policy stage: simulation and off-policy evaluation, the gate, the reports.

:func:`run_evaluation_stage` reads the challenger and the feature set (whose
``interactions.parquet`` holds the de-identified log), reads the champion from the registry
(failing closed), fits the simulators to the log, runs the challenger, the champion and the
baselines on the same simulated students in every family, evaluates them off-policy on
held-out students, applies the gate, logs everything to the challenger's MLflow run and writes
the HTML report and Markdown summary. Outputs are written only once everything they contain
is known, so a failed stage leaves none behind.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from quizops.errors import InputDataError, QuizopsError, RegistryError
from quizops.evaluation import report as reporting
from quizops.evaluation.decisions import build_decision_log
from quizops.evaluation.gate import (
    Check,
    FamilyEvidence,
    GateConfig,
    GateDecision,
    OPEEvidence,
    decide,
)
from quizops.evaluation.offpolicy import OffPolicyReport, TargetDistribution, evaluate_off_policy
from quizops.evaluation.ope import Interval
from quizops.evaluation.simulation_eval import (
    CHALLENGER,
    CHAMPION,
    FamilyResult,
    evaluate_family,
    item_shares,
)
from quizops.names import GATE_BLESSED_TAG, GATE_CHAMPION_TAG

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationResult:
    """What the stage hands back.

    Attributes:
        blessed: Whether the challenger passed the gate.
        decision: Every check and its numbers.
        metrics: Flat metrics (KFP and MLflow).
        champion_version: The champion compared with ("" = none), for compare-and-set.
        challenger_version: The challenger's registered version.
        markdown: The Markdown summary.
        families: Simulation results per fitted family.
        offpolicy: Off-policy results (None when refused).
        mlflow_logged: Whether the evaluation reached the challenger's MLflow run.
    """

    blessed: bool
    decision: GateDecision
    metrics: dict[str, float]
    champion_version: str
    challenger_version: str
    markdown: str
    families: list[FamilyResult] = field(default_factory=list)
    offpolicy: OffPolicyReport | None = None
    mlflow_logged: bool = False

    @property
    def reasons(self) -> list[str]:
        """One line per check."""
        return self.decision.reasons


def policy_distribution(policy: Any) -> TargetDistribution:
    """A policy's choice distribution over a log's items, for off-policy evaluation.

    Items the policy does not know get probability 0 (it can never choose them).

    Args:
        policy: A :class:`quizops.policy.QuizPolicy`.

    Returns:
        The distribution function.
    """

    def distribution(histories: list[list[tuple[str, int]]], items: list[str]) -> np.ndarray:
        bank = set(policy.item_bank)
        known = [j for j, item in enumerate(items) if item in bank]
        out = np.zeros((len(histories), len(items)))
        if not known:
            return out + 1.0 / len(items)
        rows = policy.item_rows([items[j] for j in known])
        states = np.array([policy.state(h) for h in histories])
        out[:, known] = policy.probabilities(states, rows, np.array([len(h) for h in histories]))
        return out

    return distribution


def _error_text(error: BaseException) -> str:
    # Library errors carry value-free messages; anything else is named by its type only.
    if isinstance(error, QuizopsError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


def _read_champion(tracking_uri: str, challenger_version: str, scratch: Path) -> tuple[str, Any]:
    """The champion's version and policy (("", None) when there is none)."""
    import mlflow

    from quizops.names import CHAMPION_ALIAS
    from quizops.policy import QuizPolicy
    from quizops.tracking import download_policy, resolve_tracking_uri, version_by_alias

    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)  # not a registry URI left over from earlier in the process
    found = version_by_alias(CHAMPION_ALIAS, uri)
    if found is None:
        return "", None
    version = str(found.version)
    if version == challenger_version:
        return version, None
    try:
        return version, QuizPolicy.load(download_policy(found, scratch))
    except Exception as exc:
        raise RegistryError(
            f"MLflow registry: could not load champion version {version} ({_error_text(exc)})"
        ) from exc


def _simulate(challenger: Any, champion: Any, interactions: Any,
              config: GateConfig) -> list[FamilyResult]:  # fmt: skip
    from quizops.simulation import (
        OracleChooser,
        baseline_choosers,
        best_mastery_chooser,
        fit_simulators,
        simulate,
    )

    worlds = fit_simulators(interactions, seed=config.split_seed)
    tracer = challenger.tracer
    results = []
    for family, world in worlds.items():
        choosers: dict[str, Any] = {CHALLENGER: lambda w: challenger.as_chooser(CHALLENGER)}
        if champion is not None:
            choosers[CHAMPION] = lambda w: champion.as_chooser(CHAMPION)
        for baseline in baseline_choosers(tracer, horizon=config.steps):
            choosers[baseline.name] = lambda w, b=baseline: b
        best = best_mastery_chooser(
            tracer, world, students=config.students, steps=config.steps, seed=config.seed + 1
        )
        choosers[best.name] = lambda w, b=best: b
        choosers["oracle"] = lambda w: OracleChooser()
        result = evaluate_family(
            family,
            world,
            choosers,
            simulate=simulate,
            students=config.students,
            steps=config.steps,
            seed=config.seed,
            resamples=config.bootstrap_resamples,
            bootstrap_seed=config.bootstrap_seed,
        )
        results.append(_exposure_again(result, challenger, world, simulate, config))
    return results


def _exposure_again(result: Any, challenger: Any, world: Any, simulate: Any,
                    config: GateConfig) -> Any:  # fmt: skip
    """The family's result with the challenger's item shares measured on more students.

    Only when the first figure lies within ``config.exposure_screen`` of the limit: the
    largest share of a few hundred simulated students wanders by about 0.01 between seeds, as
    much as a setting's room to the limit, and more students cost little on a small bank,
    the only kind where one item can come near a quarter of the decisions.
    """
    share = result.challenger_max_item_share
    students = config.exposure_students
    if students <= config.students or abs(share - config.max_item_share) > config.exposure_screen:
        return result
    run = simulate(
        challenger.as_chooser(CHALLENGER), world, students=students, steps=config.steps,
        seed=config.seed,
    )  # fmt: skip
    item_share = item_shares(run.chosen, len(result.item_ids))
    logger.info(
        "simulation %s: challenger's largest item share %.4f on %d students, %.4f on %d "
        "(near the limit %.2f: the second figure decides)",
        result.family, share, config.students, item_share.max(), students, config.max_item_share,
    )  # fmt: skip
    runs = dict(result.runs)
    runs[CHALLENGER] = replace(runs[CHALLENGER], item_share=item_share)
    return replace(result, runs=runs, exposure_students=students)


#: The served challenger in off-policy reports: its tracer is the feature stage's, fitted on
#: every student, the held-out ones included, so its estimates there are in sample (shown for
#: comparison with its held-out twin's, which the gate reads; see :func:`held_out_twin`).
SERVED_CHALLENGER = "served challenger"


def held_out_twin(policy: Any, log: Any) -> tuple[Any, str]:
    """The policy's twin that never saw the held-out students, for off-policy evaluation.

    The served challenger plans with the feature stage's tracer, fitted on every student. Its
    teaching rates decide which items the policy asks, and fitted partly on the held-out
    students' own learning they rate highest the items those students happened to learn from,
    so that off-policy estimates on those students would flatter it. The twin has the policy's
    planning settings (value shape, temperature, exploration, cap) on the tracer fitted on the
    training students alone (the decision log's, the same split) and the policy's items that
    tracer knows (:meth:`~quizops.policy.QuizPolicy.on_tracer`): its estimates on the
    held-out students are out of sample. The policy served stays the one fitted on every
    student, as a cross-validated search scores a setting on folds it was not fitted on and
    then refits it on all the data (scikit-learn's ``refit=True``): fitting the served tracer
    on the training students alone was measured to cost served skills (README, gate section).

    Args:
        policy: A :class:`quizops.policy.QuizPolicy`.
        log: The decision log, built with the learning reward
            (:func:`quizops.evaluation.decisions.build_decision_log`), whose
            ``training_tracer`` is the training students'.

    Returns:
        ``(twin, note)``: the twin and one sentence for the report. A policy that does not
        plan with the knowledge tracer (``pfa``, ``legacy``) is its own twin.

    Raises:
        InputDataError: The log has no training students' tracer, or it knows none of the
            policy's items.
    """
    if policy.family != "bkt":
        return policy, (
            f"challenger: a {policy.family} policy, estimated as served (it does not plan with "
            "the knowledge tracer)"
        )
    if log.training_tracer is None:
        raise InputDataError(
            "off-policy evaluation: the decision log has no training students' tracer (it is "
            "fitted for the learning reward)"
        )
    twin = policy.on_tracer(log.training_tracer)
    if twin.items.empty:
        raise InputDataError(
            "off-policy evaluation: the training students' tracer knows none of the "
            "challenger's items"
        )
    frame = log.frame
    students = frame.loc[~frame["held_out"].to_numpy(), "student"].nunique()
    note = (
        f"challenger: estimated as its held-out twin, its planning settings on the knowledge "
        f"tracer fitted on the {students} training students alone ({len(twin.items)} of its "
        f"{len(policy.items)} items); the {SERVED_CHALLENGER}'s tracer was fitted on every "
        "student, the held-out ones included, so its estimates are in sample: shown, not gated"
    )
    return twin, note


def _off_policy(challenger: Any, champion: Any, interactions: Any,
                config: GateConfig) -> OffPolicyReport:  # fmt: skip
    log = build_decision_log(
        interactions, holdout_fraction=config.holdout_fraction, split_seed=config.split_seed
    )
    twin, note = held_out_twin(challenger, log)
    targets = {CHALLENGER: policy_distribution(twin)}
    if twin is not challenger:
        targets[SERVED_CHALLENGER] = policy_distribution(challenger)
    notes = [note]
    if champion is not None:
        targets[CHAMPION] = policy_distribution(champion)
        notes.append(
            "champion: estimated as served (whatever students its tracer was fitted on; a "
            "champion fitted on some of these held-out students is flattered, which can only "
            "make the gate stricter)"
        )
    report = evaluate_off_policy(
        log,
        targets,
        clip=config.clip_weight,
        resamples=config.bootstrap_resamples,
        seed=config.bootstrap_seed,
        reference=CHAMPION if champion is not None else None,
    )
    return replace(report, notes=tuple(notes))


def _champion_set_aside(champion: Any, interactions: Any) -> str:
    """Why a champion cannot be compared with on this log ("" when it can).

    A champion whose item bank holds none of the log's items was trained on another course
    (for example the demo data of ``make run`` in the same home): it could not ask a single
    question of this course, so the comparison would say nothing about the challenger.
    A champion that knows some of the items is compared as usual (it chooses among those).
    """
    if champion is None:
        return ""
    items = set(interactions["item_id"].astype(str).unique())
    if items & {str(i) for i in champion.item_bank}:
        return ""
    return (
        f"its item bank of {len(champion.item_bank)} items holds none of the log's "
        f"{len(items)} items: a policy of another course"
    )


def evaluate(challenger: Any, champion: Any, interactions: Any, config: GateConfig, *,
             champion_version: str = "", registry_error: str = "",
             ) -> tuple[GateDecision, list[FamilyResult], OffPolicyReport | None]:  # fmt: skip
    """Simulation and off-policy evaluation and the gate, without MLflow or files.

    Args:
        challenger: The challenger policy.
        champion: The champion policy (None when there is none or it could not be read);
            set aside when its item bank holds none of the log's items
            (:class:`~quizops.evaluation.gate.GateDecision` ``champion_set_aside``).
        interactions: Canonical de-identified interactions.
        config: Gate settings.
        champion_version: The champion's version ("" = none).
        registry_error: Why the registry could not be read ("" = it could).

    Returns:
        The decision, the simulation results and the off-policy results.
    """
    from threadpoolctl import threadpool_limits

    set_aside = _champion_set_aside(champion, interactions)
    if set_aside:
        logger.warning("champion version %s set aside: %s", champion_version, set_aside)
        champion = None
    # Many small model calls: OpenMP threads cost more than they give on a shared machine.
    with threadpool_limits(1):
        families = _simulate(challenger, champion, interactions, config)
        ope_refusal = ""
        offpolicy: OffPolicyReport | None = None
        try:
            offpolicy = _off_policy(challenger, champion, interactions, config)
        except InputDataError as exc:
            ope_refusal = str(exc)
            logger.warning("off-policy evaluation refused: %s", exc)
    nan = Interval(float("nan"), float("nan"), float("nan"))
    evidence = [
        FamilyEvidence(
            family=f.family,
            # No reference (no champion, no baseline) leaves nothing to beat: the check fails.
            reference=f.reference or "(nothing to compare with)",
            improvement=f.differences[f.reference] if f.reference else nan,
            slices=f.slices,
            max_item_share=f.challenger_max_item_share,
            heldout_loglik=f.validation.get("heldout_loglik", float("nan")),
            plain_bkt_loglik=f.validation.get("plain_bkt_loglik", float("nan")),
            fit_gap_high=f.validation.get("fit_gap_high", float("nan")),
        )
        for f in families
    ]
    ope_evidence = None
    if offpolicy is not None:
        ope_evidence = OPEEvidence(
            reference=offpolicy.reference,
            difference=offpolicy.differences[CHALLENGER][config.ope_estimator],
            overlap=offpolicy.overlap[CHALLENGER],
        )
    decision = decide(
        config,
        champion_version=champion_version,
        registry_error=registry_error,
        families=evidence,
        ope=ope_evidence,
        ope_refusal=ope_refusal,
        champion_set_aside=set_aside,
    )
    return decision, families, offpolicy


def _log_to_mlflow(run_id: str, challenger_version: str, config: GateConfig,
                   numbers: dict[str, float], files: dict[str, str],
                   decision: GateDecision) -> None:  # fmt: skip
    import mlflow

    from quizops.tracking import REGISTERED_MODEL

    client = mlflow.MlflowClient()
    now = int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "evaluation"
        (folder / "plots").mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
        for key, value in asdict(config).items():
            client.log_param(run_id, f"eval.{key}", value)
        client.log_batch(
            run_id,
            metrics=[mlflow.entities.Metric(f"eval.{k}", v, now, 0) for k, v in numbers.items()],
        )
        client.log_artifacts(run_id, str(folder), "evaluation")
    if challenger_version:
        client.set_model_version_tag(
            REGISTERED_MODEL, challenger_version, GATE_BLESSED_TAG, json.dumps(decision.blessed)
        )
        client.set_model_version_tag(
            REGISTERED_MODEL, challenger_version, GATE_CHAMPION_TAG, decision.champion_version
        )


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def run_evaluation_stage(
    *,
    model_dir: str | os.PathLike[str],
    features_dir: str | os.PathLike[str],
    report_path: str | os.PathLike[str],
    markdown_path: str | os.PathLike[str] | None = None,
    tracking_uri: str = "",
    run_id: str = "",
    config: GateConfig | None = None,
) -> EvaluationResult:
    """Evaluates the challenger, applies the gate, logs to MLflow and writes the reports.

    Any MLflow error (reading the champion, or logging the evaluation) fails the gate with the
    reason in the report; the stage itself still completes so the report explains the verdict.

    Args:
        model_dir: The challenger's folder (train_policy's model).
        features_dir: Feature engineering output (with ``interactions.parquet``).
        report_path: Where the HTML report goes.
        markdown_path: Where the Markdown summary goes (None = not written).
        tracking_uri: MLflow tracking URI ("" = ``MLFLOW_TRACKING_URI``).
        run_id: The challenger's MLflow run ("" = nowhere to record the evaluation: not blessed).
        config: Gate settings.

    Returns:
        The result.

    Raises:
        InputDataError: The feature set lacks the interaction log, or the log is unusable.
        ModelNotFoundError: The model folder holds no policy.
    """
    from quizops.features import load_features
    from quizops.policy import QuizPolicy

    config = config or GateConfig()
    challenger = QuizPolicy.load(model_dir)
    features = load_features(features_dir)
    if features.interactions is None or features.interactions.empty:
        raise InputDataError(f"{features_dir}: feature set lacks interactions.parquet")
    interactions = features.interactions
    champion, champion_version, registry_error = None, "", ""
    with tempfile.TemporaryDirectory() as scratch:
        try:
            champion_version, champion = _read_champion(
                tracking_uri, challenger.version, Path(scratch)
            )
        except QuizopsError as exc:
            registry_error = _error_text(exc)
        except Exception as exc:  # any MLflow failure fails the gate closed
            registry_error = f"MLflow failed ({_error_text(exc)})"
        if registry_error:
            logger.error("registry: %s", registry_error)
        decision, families, offpolicy = evaluate(
            challenger,
            champion,
            interactions,
            config,
            champion_version=champion_version,
            registry_error=registry_error,
        )
    mlflow_logged = False
    if not run_id and not registry_error:
        decision = replace(
            decision,
            blessed=False,
            checks=[
                *decision.checks,
                Check(
                    "tracking", False, "no MLflow run of the challenger to record the evaluation"
                ),
            ],
        )
    for attempt in range(2):
        numbers = reporting.metrics(decision, families, offpolicy)
        charts = reporting.figures(families, offpolicy, config)
        summary = reporting.markdown(decision, families, offpolicy, challenger.version)
        page = reporting.render_html(
            decision, families, offpolicy, config, challenger.version, charts, numbers
        )
        if attempt == 1 or registry_error or not run_id:
            break
        files = {
            "report.html": page,
            "summary.md": summary,
            "evaluation.json": json.dumps(
                {
                    "reasons": decision.reasons,
                    "champion_version": decision.champion_version,
                    "metrics": numbers,
                },
                indent=1,
            ),
            **{f"plots/{stem}.svg": text for stem, text in charts.items()},
        }
        try:
            _log_to_mlflow(run_id, challenger.version, config, numbers, files, decision)
            mlflow_logged = True
            break
        except Exception as exc:  # the evaluation must be on record to bless
            reason = f"could not log the evaluation to MLflow ({_error_text(exc)})"
            logger.error("tracking: %s", reason)
            decision = replace(
                decision,
                blessed=False,
                checks=[*decision.checks, Check("tracking", False, reason)],
            )
    for line in decision.reasons:
        logger.info("gate %s", line)
    _write_atomic(Path(report_path), page)
    if markdown_path is not None:
        _write_atomic(Path(markdown_path), summary)
    return EvaluationResult(
        blessed=decision.blessed,
        decision=decision,
        metrics=numbers,
        champion_version=decision.champion_version,
        challenger_version=challenger.version,
        markdown=summary,
        families=families,
        offpolicy=offpolicy,
        mlflow_logged=mlflow_logged,
    )
