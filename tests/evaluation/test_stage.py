"""The evaluation stage end to end: fitted simulators, OPE with estimated propensities (the log
has none), the gate, the reports and MLflow; the registry failing closed; no partial output."""

import json
from dataclasses import replace
from pathlib import Path

import mlflow
import pytest

from quizops.errors import ModelNotFoundError
from quizops.evaluation import GATE_CHAMPION_TAG, GateConfig, run_evaluation_stage
from quizops.features import engineer_features, save_features
from quizops.names import CHAMPION_ALIAS
from quizops.policy import TrainingConfig
from quizops.tracking import REGISTERED_MODEL
from quizops.training import run_training_stage
from tests.conftest import SMALL_SEARCH, free_port
from tests.evaluation.simlogs import to_canonical

CONFIG = GateConfig(students=120, steps=15, bootstrap_resamples=100, exclude_unfit_families=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, world):
    """Features of logs without propensities, and two registered policies (SQLite MLflow)."""
    from quizops.simulation import simulate_logs

    root = tmp_path_factory.mktemp("stage")
    table = to_canonical(simulate_logs(world, 15_000, seed=5)).drop(columns=["propensity"])
    save_features(engineer_features(table), root / "features")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    search = TrainingConfig(**SMALL_SEARCH)
    first = run_training_stage(
        features_dir=root / "features",
        model_dir=root / "m1",
        tracking_uri=uri,
        experiment="e",
        config=search,
    )
    second = run_training_stage(
        features_dir=root / "features",
        model_dir=root / "m2",
        tracking_uri=uri,
        experiment="e",
        config=search,
    )
    return root, uri, first, second


def test_stage_without_champion_records_everything(trained):
    root, uri, first, _ = trained
    result = run_evaluation_stage(
        model_dir=root / "m1",
        features_dir=root / "features",
        report_path=root / "out1" / "report.html",
        markdown_path=root / "out1" / "summary.md",
        tracking_uri=uri,
        run_id=first.run_id,
        config=CONFIG,
    )
    assert result.champion_version == "" and result.mlflow_logged
    names = [c.name for c in result.decision.checks]
    assert names[0] == "registry" and result.decision.checks[0].passed
    assert {"simulation:bkt", "simulation:pfa", "overlap", "item_share"} <= set(names)
    assert result.blessed == all(c.passed for c in result.decision.checks)
    # Every fitted family is gated; one that predicts held-out answers worse than plain BKT
    # carries a warning.
    checks = {c.name: c for c in result.decision.checks}
    for fam in result.families:
        fit = fam.validation
        worse = fit["heldout_loglik"] < fit["plain_bkt_loglik"]
        check = checks[f"simulation:{fam.family}"]
        assert check.gated
        assert ("worse than plain BKT" in check.warning) == worse
    # Off-policy evaluation ran on held-out students with estimated propensities.
    assert result.offpolicy is not None and result.offpolicy.propensity_source == "estimated"
    # Reference without a champion: the best non-oracle baseline of each family.
    for fam in result.families:
        assert fam.reference not in ("champion", "oracle", "challenger")
        best = max(
            (r.mastered.estimate, n)
            for n, r in fam.runs.items()
            if n not in ("challenger", "oracle")
        )
        assert fam.reference == best[1]
    page = (root / "out1" / "report.html").read_text()
    assert page.count("<svg") >= 9
    assert "src=" not in page and "href=" not in page  # nothing to fetch: renders offline
    summary = (root / "out1" / "summary.md").read_text()
    assert ("NOT BLESSED" in summary) != result.blessed
    # What the gated off-policy target is, in both reports.
    assert "- challenger: estimated as its held-out twin" in summary
    assert "<li>challenger: estimated as its held-out twin" in page
    assert "served challenger" in result.offpolicy.results
    client = mlflow.MlflowClient(uri)
    run = client.get_run(first.run_id)
    assert run.data.metrics["eval.blessed"] == float(result.blessed)
    assert run.data.params["eval.ope_estimator"] == "dr"
    logged = {a.path for a in client.list_artifacts(first.run_id, "evaluation")}
    assert {"evaluation/report.html", "evaluation/summary.md", "evaluation/plots"} <= logged
    plots = {a.path for a in client.list_artifacts(first.run_id, "evaluation/plots")}
    assert {"evaluation/plots/curves_bkt.svg", "evaluation/plots/ope_estimators.svg"} <= plots
    tags = client.get_model_version(REGISTERED_MODEL, first.model_version).tags
    assert tags["blessed"] == json.dumps(result.blessed)
    assert tags[GATE_CHAMPION_TAG] == ""


def test_a_champion_of_another_course_is_set_aside_for_the_best_baseline(trained, tmp_path):
    """`make run` on the demo data, then on one's own logs, in the same home: the champion
    holds none of the new log's items. It could not ask one question of this course, so the
    challenger is judged against the best baseline, as with no champion, and the decision
    says so (the champion's version is kept for compare-and-set at promotion)."""
    from quizops.evaluation.stage import evaluate
    from quizops.features import load_features
    from quizops.policy import QuizPolicy

    root, *_ = trained
    challenger = QuizPolicy.load(root / "m1")
    interactions = load_features(root / "features").interactions
    # The same policy with every item renamed: a policy of another course.
    meta = json.loads((root / "m1" / "policy.json").read_text())
    tracer = meta["tracer"]
    tracer["item_skill"] = {f"other-{k}": v for k, v in tracer["item_skill"].items()}
    tracer["item_tags"] = {f"other-{k}": v for k, v in tracer["item_tags"].items()}
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "policy.json").write_text(json.dumps(meta))
    items = challenger.items.assign(item_id="other-" + challenger.items["item_id"].astype(str))
    items.to_parquet(tmp_path / "other" / "items.parquet", index=False)
    other = QuizPolicy.load(tmp_path / "other")

    decision, families, offpolicy = evaluate(
        challenger, other, interactions, CONFIG, champion_version="7"
    )
    alone, alone_families, _ = evaluate(challenger, None, interactions, CONFIG)
    assert decision.champion_version == "7"
    assert "holds none of the log's" in decision.champion_set_aside
    registry = decision.checks[0]
    assert registry.name == "registry" and registry.passed and "set aside" in registry.detail
    # Everything else is the no-champion evaluation, number for number.
    assert [(c.name, c.passed, c.detail) for c in decision.checks[1:]] == [
        (c.name, c.passed, c.detail) for c in alone.checks[1:]
    ]
    assert decision.blessed == alone.blessed
    for fam, ref in zip(families, alone_families, strict=True):
        assert "champion" not in fam.runs and fam.reference == ref.reference
    assert offpolicy is None or offpolicy.reference != "champion"


def test_stage_compares_with_the_champion_and_records_its_version(trained):
    root, uri, first, second = trained
    client = mlflow.MlflowClient(uri)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, first.model_version)
    try:
        result = run_evaluation_stage(
            model_dir=root / "m2",
            features_dir=root / "features",
            report_path=root / "out2" / "report.html",
            tracking_uri=uri,
            run_id=second.run_id,
            config=CONFIG,
        )
    finally:
        client.delete_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    assert result.champion_version == first.model_version
    for fam in result.families:
        assert fam.reference == "champion" and "champion" in fam.runs
    assert result.offpolicy is not None and result.offpolicy.reference == "champion"
    assert result.metrics["champion_version"] == float(first.model_version)
    tags = client.get_model_version(REGISTERED_MODEL, second.model_version).tags
    assert tags[GATE_CHAMPION_TAG] == first.model_version
    # Retrained on the same data with the same settings, the challenger chooses like the
    # champion: no improvement in any family, so it is refused, and the report, the summary
    # and MLflow say why.
    assert not result.blessed
    checks = {c.name: c for c in result.decision.checks}
    for fam in result.families:
        assert fam.differences["champion"].estimate == 0.0
        check = checks[f"simulation:{fam.family}"]
        assert not check.passed and "vs champion +0.000" in check.detail
    summary = result.markdown
    assert "NOT BLESSED" in summary and "| simulation:bkt | **FAIL** |" in summary
    assert "simulation:bkt" in (root / "out2" / "report.html").read_text()
    assert tags["blessed"] == "false"
    run = client.get_run(second.run_id)
    assert run.data.metrics["eval.blessed"] == 0.0
    assert run.data.metrics["eval.check_simulation_bkt"] == 0.0


def test_too_little_overlap_refuses_off_policy_evaluation_and_the_challenger(trained):
    # The same challenger, with an effective-sample floor no held-out log can reach.
    root, uri, _, _ = trained
    client = mlflow.MlflowClient(uri)
    run = client.create_run(client.get_experiment_by_name("e").experiment_id)
    result = run_evaluation_stage(
        model_dir=root / "m1",
        features_dir=root / "features",
        report_path=root / "out4" / "report.html",
        markdown_path=root / "out4" / "summary.md",
        tracking_uri=uri,
        run_id=run.info.run_id,
        config=replace(CONFIG, min_effective_sample=1e9),
    )
    assert not result.blessed and result.mlflow_logged
    checks = {c.name: c for c in result.decision.checks}
    assert not checks["overlap"].passed and "need >= 1e+09" in checks["overlap"].detail
    assert not checks["ope"].passed and "too little overlap" in checks["ope"].detail
    ess = result.offpolicy.overlap["challenger"].effective_sample
    assert f"effective sample {ess:.1f} of" in checks["overlap"].detail
    summary = (root / "out4" / "summary.md").read_text()
    assert "| overlap | **FAIL** |" in summary and "| ope | **FAIL** |" in summary
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["eval.check_overlap"] == 0.0 and logged["eval.blessed"] == 0.0


def test_unreachable_registry_fails_the_gate_closed(trained, monkeypatch):
    root, _, _, _ = trained
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    result = run_evaluation_stage(
        model_dir=root / "m1",
        features_dir=root / "features",
        report_path=root / "out3" / "report.html",
        tracking_uri=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        run_id="0" * 32,
        config=CONFIG,
    )
    assert not result.blessed
    registry = result.decision.checks[0]
    assert registry.name == "registry" and not registry.passed
    assert "fails closed" in registry.detail
    assert not result.mlflow_logged
    assert "registry" in (root / "out3" / "report.html").read_text()


def test_a_folder_without_a_policy_fails_and_writes_nothing(trained, tmp_path):
    root, uri, _, _ = trained
    with pytest.raises(ModelNotFoundError):
        run_evaluation_stage(
            model_dir=tmp_path / "empty",
            features_dir=root / "features",
            report_path=tmp_path / "report.html",
            tracking_uri=uri,
            config=CONFIG,
        )
    assert not Path(tmp_path / "report.html").exists()


def test_off_policy_evaluation_gates_a_twin_that_never_saw_the_held_out_students(trained):
    """The challenger's off-policy value is its held-out twin's: the challenger's settings on a
    tracer fitted on the training students alone, which held-out answers cannot move."""
    from quizops.evaluation.decisions import build_decision_log, held_out_students
    from quizops.evaluation.offpolicy import evaluate_off_policy
    from quizops.evaluation.stage import (
        SERVED_CHALLENGER,
        _off_policy,
        held_out_twin,
        policy_distribution,
    )
    from quizops.features import load_features
    from quizops.features.fit import fit_tracer
    from quizops.policy import QuizPolicy

    root, _, _, _ = trained
    challenger = QuizPolicy.load(root / "m1")
    table = load_features(root / "features").interactions
    split = (CONFIG.holdout_fraction, CONFIG.split_seed)
    log = build_decision_log(table, holdout_fraction=split[0], split_seed=split[1])
    twin, note = held_out_twin(challenger, log)
    # Independently: the tracer of the rows of the students the split does not hold out.
    held = held_out_students(table["student_id"].to_numpy(), *split)
    assert 0 < held.mean() < 0.5
    assert twin.tracer.to_dict() == fit_tracer(table.loc[~held]).to_dict()
    assert twin.tracer.to_dict() != challenger.tracer.to_dict()
    assert (twin.model, twin.temperature, twin.epsilon, twin.max_choice) == (
        challenger.model,
        challenger.temperature,
        challenger.epsilon,
        challenger.max_choice,
    )
    assert set(twin.item_bank) <= set(challenger.item_bank)
    assert f"{int((~held[~table.duplicated('student_id')]).sum())} training students" in note
    # Every held-out answer flipped: the served kind of tracer moves, the twin's does not.
    flipped = table.copy()
    flipped.loc[held, "correct"] = 1 - flipped.loc[held, "correct"]
    log_flipped = build_decision_log(flipped, holdout_fraction=split[0], split_seed=split[1])
    assert held_out_twin(challenger, log_flipped)[0].tracer.to_dict() == (twin.tracer.to_dict())
    assert fit_tracer(flipped).to_dict() != fit_tracer(table).to_dict()
    # The gated target is the twin; the served challenger is shown beside it.
    report = _off_policy(challenger, None, table, CONFIG)
    assert set(report.results) == {"challenger", SERVED_CHALLENGER}
    alone = evaluate_off_policy(
        log,
        {"twin": policy_distribution(twin)},
        clip=CONFIG.clip_weight,
        resamples=CONFIG.bootstrap_resamples,
        seed=CONFIG.bootstrap_seed,
    )
    for estimator in ("dr", "snips"):
        gated = report.results["challenger"].intervals[estimator].estimate
        assert gated == pytest.approx(alone.results["twin"].intervals[estimator].estimate)
        served = report.results[SERVED_CHALLENGER].intervals[estimator].estimate
        assert served != pytest.approx(gated, abs=1e-9)
    assert report.notes and "held-out twin" in report.notes[0]
