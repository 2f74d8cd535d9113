"""The local target's canary: champion and challenger predictor processes on 127.0.0.1 answer
the same bounded replay of logged interactions; the judgement is the KServe target's."""

import os

import numpy as np
import pandas as pd
import pytest

from quizops.deploy import DeploymentError, deploy_local
from quizops.deploy.local import ReplayRequest, replay_figures, replay_requests, rollback_local
from quizops_predictor.demo import save_demo_policy


@pytest.fixture(scope="module")
def replay_table(tmp_path_factory):
    """Logged answers of 30 pseudonymous students on the demo bank (items p100..p123)."""
    rng = np.random.default_rng(3)
    rows = []
    for s in range(30):
        for t in range(12):
            rows.append(
                {
                    "student_id": f"pseudo-{s:02d}",
                    "item_id": f"p{100 + int(rng.integers(0, 24))}",
                    "correct": int(rng.random() < 0.6),
                    "timestamp": 1_700_000_000 + 60 * t,
                }
            )
    path = tmp_path_factory.mktemp("replay") / "validated.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_replay_is_bounded_round_robin_and_keeps_order(replay_table):
    requests = replay_requests(replay_table, max_requests=45, max_history=5)
    assert len(requests) == 45
    # Round robin: the first 30 requests are the first request of each of the 30 students.
    assert len({r.instance["student_id"] for r in requests[:30]}) == 30
    frame = pd.read_parquet(replay_table).sort_values(["student_id", "timestamp"])
    first = frame[frame.student_id == "pseudo-00"]
    r0 = requests[0]
    assert r0.instance["history"] == [
        {"item_id": first.item_id.iloc[0], "correct": int(first.correct.iloc[0])}
    ]
    assert r0.logged_item == first.item_id.iloc[1]
    later = [r for r in requests if r.instance["student_id"] == "pseudo-00"][1]
    assert len(later.instance["history"]) == 2 and later.logged_item == first.item_id.iloc[2]


def test_replay_figures_count_errors_latency_and_matched_outcomes():
    requests = [ReplayRequest({"student_id": "x", "history": []}, item, c)
                for item, c in [("a", 1), ("b", 0), ("c", 1), ("d", 1)]]  # fmt: skip
    answers = [(200, 0.01, "a"), (200, 0.02, "b"), (500, 0.5, None), (200, 0.03, "z")]
    figures = replay_figures(answers, requests)
    assert figures.requests == 4 and figures.errors == 1
    assert figures.outcome_trials == 2 and figures.outcome_successes == 1  # a (1) and b (0)
    assert figures.p99_seconds == pytest.approx(np.quantile([0.01, 0.02, 0.03], 0.99))


@pytest.fixture
def local_registry(tmp_path):
    """Versions 1 (champion), 2 (the same policy) and 3 (a policy of a smaller bank)."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("quiz-policy")
    folders = {}
    for version, kwargs in (("1", {}), ("2", {}), ("3", {"n_skills": 2})):
        root = tmp_path / f"v{version}"
        # The layout training registers: <model>/artifacts/policy/
        folders[version] = save_demo_policy(
            root / "artifacts" / "policy", version=version, **kwargs
        )
        client.create_model_version("quiz-policy", source=root.resolve().as_uri())
    client.set_registered_model_alias("quiz-policy", "champion", "1")
    return uri, client, folders


@pytest.mark.service
def test_local_canary_promotes_a_challenger_as_good_as_the_champion(local_registry, replay_table):
    uri, client, folders = local_registry
    record = deploy_local(
        folders["2"], "2", uri, replay_table=replay_table, max_replay_requests=150
    )
    assert record.status == "promoted"
    assert record.checks["local_canary"] is True
    variants = record.analysis["variants"]
    assert variants["champion"]["requests"] == variants["canary"]["requests"] == 150
    assert variants["canary"]["errors"] == 0
    assert str(client.get_model_version_by_alias("quiz-policy", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("quiz-policy", "previous").version) == "1"
    assert rollback_local(uri, expected_champion="2") == "1"
    assert str(client.get_model_version_by_alias("quiz-policy", "champion").version) == "1"


@pytest.mark.service
def test_local_canary_keeps_the_champion_when_the_challenger_fails(local_registry, replay_table):
    uri, client, folders = local_registry
    # Version 3 knows half the bank: logged histories name items it rejects (4xx).
    with pytest.raises(DeploymentError, match=r"local canary of version 3 failed.*error rate"):
        deploy_local(folders["3"], "3", uri, replay_table=replay_table, max_replay_requests=150)
    assert str(client.get_model_version_by_alias("quiz-policy", "champion").version) == "1"


def test_a_policy_downloads_without_a_progress_bar_and_the_setting_is_restored(
    local_registry, tmp_path, monkeypatch, capfd
):
    """MLflow's bar prints a line per file (about a hundred for a policy) into a task's log."""
    import mlflow

    from quizops.tracking import PROGRESS_BAR_ENV, download_policy

    uri, client, folders = local_registry
    monkeypatch.setenv(PROGRESS_BAR_ENV, "true")
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        capfd.readouterr()
        folder = download_policy(client.get_model_version("quiz-policy", "1"), tmp_path / "dl")
        err = capfd.readouterr().err
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
    assert (folder / "policy.json").read_bytes() == (folders["1"] / "policy.json").read_bytes()
    assert "Downloading artifacts" not in err
    assert os.environ[PROGRESS_BAR_ENV] == "true"  # the caller's setting is back
