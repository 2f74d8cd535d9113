"""One kfp.local run of the whole training pipeline on small simulated data."""

import json
import re
import subprocess
import sys

import mlflow
import pytest

from quizops.policy import QuizPolicy
from quizops.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

pytestmark = pytest.mark.pipeline

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    # A fixed test key (a fresh home draws a random one): the pseudonyms decide which of the
    # 300 students are held out, and on a log this small some splits leave a skill
    # unidentifiable in the simulators' fit (a clear ModelFitError naming the skill, not what
    # this test is about), so the run is made reproducible.
    keys = home / "keys"
    keys.mkdir(mode=0o700)
    (keys / "pii.key").write_text("5f" * 32)
    (keys / "pii.key").chmod(0o600)
    process = subprocess.run(
        [sys.executable, "-m", "pipelines.local_run", "--interactions", "15000",
         "--eval-students", "150", "--span", "2026-11-20"],
        cwd=REPO,
        env={**__import__("os").environ, "QUIZOPS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    return home, process


def test_every_stage_succeeds_and_the_summary_says_so(local_run):
    home, process = local_run
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    summary = json.loads((home / "pipeline_root" / "last_run.json").read_text())
    assert summary["ok"]
    assert {s: v["status"] for s, v in summary["stages"].items()} == {
        "fingerprint": "SUCCESS", "ingest": "SUCCESS", "pii-scan": "SUCCESS",
        "data-validation": "SUCCESS", "feature-engineering": "SUCCESS",
        "materialize-features": "SUCCESS", "train-policy": "SUCCESS",
        "evaluate-policy": "SUCCESS", "deploy-kserve": "SUCCESS", "run-summary": "SUCCESS",
    }  # fmt: skip
    assert summary["metrics"]["evaluate-policy.sim_bkt_diff_random"] > 0  # beats random
    for stage in ("ingest", "pii-scan", "data-validation", "train-policy", "evaluate-policy"):
        assert "stage " in process.stdout and f"{stage}: SUCCESS" in process.stdout
    assert "make serve" in process.stdout
    run_summary = REPO / summary["run_summary"]  # an absolute path: REPO is ignored
    assert run_summary.read_text().startswith("# Run summary: SUCCEEDED")
    assert "gate: **blessed**" in run_summary.read_text()


def test_the_deployed_policy_is_the_champion_in_the_local_registry(local_run):
    home, _ = local_run
    client = mlflow.MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    champion = client.get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS)
    run_dir = json.loads((home / "pipeline_root" / "last_run.json").read_text())["run_dir"]
    policy = QuizPolicy.load(f"{run_dir}/train-policy/model")
    assert policy.version == str(champion.version)
    assert champion.tags.get("blessed") == "true"


def test_the_home_holds_everything_and_only_raw_holds_personal_data(local_run):
    home, process = local_run
    folders = {p.name for p in home.iterdir()}
    core = {"decisions", "keys", "mlflow", "pipeline_root", "raw"}
    assert core <= folders <= core | {"feature_store"}  # feature_store/ once a policy is blessed
    assert (home / "keys" / "pii.key").stat().st_mode & 0o777 == 0o600
    raw = (home / "raw" / "simulated" / "date=2026-11-20" / "interactions.csv").read_text()
    emails = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.]+", raw))
    assert emails, "the simulated raw data should carry e-mails for the PII stage to find"
    leaked = []
    for folder in ("pipeline_root", "mlflow", "decisions", "feature_store"):
        for path in (home / folder).rglob("*"):
            if path.is_file():
                text = path.read_bytes().decode("latin-1")
                leaked += [(str(path), e) for e in emails if e in text]
    assert not leaked
    assert not [e for e in emails if e in process.stdout + process.stderr]
