"""The serving loop through the whole training pipeline (kfp.local, `make run`'s runner): a REAL
predictor process serves simulated students under the local home's pseudonymization key; their
answers (raw ids, clock times) are the canonical source of a run with ``--decisions``; after the
PII stage, validation and feature engineering, the feature set carries on every followed answer
the propensity the predictor answered with, and the evaluation uses those exact propensities."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quizops.features import load_features
from quizops.home import ensure_key_file, load_pii_key, local_home
from quizops.names import PII_KEY_ENV, PII_KEY_FILE_ENV
from quizops.pii.deidentify import pseudonymize_values
from quizops.policy import QuizPolicy
from quizops.serving import PredictorProcess

REPO = Path(__file__).resolve().parents[2]
KSERVE_DIR = REPO / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops_predictor.demo import build_planning_demo_policy  # noqa: E402
from tests.features.served_loop import N_SKILLS, PER_SKILL, background, now_ms, serve  # noqa: E402

pytestmark = [pytest.mark.pipeline, pytest.mark.service]


def test_served_decisions_become_exact_propensities_through_the_training_pipeline(
    tmp_path, monkeypatch
):
    rng = np.random.default_rng(21)
    home = local_home(str(tmp_path / "home"))
    home.create()
    key_file = ensure_key_file(home.pii_key_file)  # the key make run's PII stage will use
    policy_dir = tmp_path / "policy"
    build_planning_demo_policy(N_SKILLS, PER_SKILL, version="11").save(policy_dir)
    policy = QuizPolicy.load(policy_dir)
    bank = list(policy.item_bank)
    decisions = tmp_path / "decisions"
    env = {PII_KEY_ENV: "", PII_KEY_FILE_ENV: str(key_file)}
    started = now_ms()
    with PredictorProcess(model_dir=policy_dir, decisions_dir=decisions, env=env) as predictor:
        answers, served = serve(predictor, policy, rng, bank, n_students=60, rounds=10)
    rows = background(rng, bank, started - 7_200_000, n_students=240) + answers
    columns = ["interaction_id", "student_id", "item_id", "skill_id", "correct", "timestamp"]
    source = tmp_path / "source" / "table.parquet"
    source.parent.mkdir()
    pd.DataFrame(rows)[columns].to_parquet(source, index=False)  # raw ids, clock times

    process = subprocess.run(
        [sys.executable, "-m", "pipelines.local_run", "--data", str(source),
         "--format", "canonical", "--decisions", str(decisions), "--eval-students", "50"],
        cwd=REPO,
        env={**__import__("os").environ, "QUIZOPS_HOME": str(home.root)},
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    summary = json.loads((home.pipeline_root / "last_run.json").read_text())
    for stage in ("pii-scan", "data-validation", "feature-engineering", "evaluate-policy"):
        assert summary["stages"][stage]["status"] == "SUCCESS", stage

    followed = [d for d in served if d["action"] == "followed"]
    answered = [d for d in served if d["action"] != "none"]
    run_dir = Path(summary["run_dir"])
    features = run_dir / "feature-engineering" / "features"
    counts = json.loads((features / "served_decisions.json").read_text())["counts"]
    assert (counts["decisions"], counts["joined"], counts["followed"]) == (
        len(served),
        len(answered),
        len(followed),
    )
    assert (
        f"served decisions: {len(served)} read, {len(answered)} joined with an answer "
        f"({len(followed)} followed: exact propensities)"
    ) in process.stdout

    interactions = load_features(features).interactions
    monkeypatch.setenv(PII_KEY_ENV, "")
    monkeypatch.setenv(PII_KEY_FILE_ENV, str(key_file))
    pseudonyms = pseudonymize_values(pd.Series([d["student"] for d in followed]), load_pii_key())
    client = pd.DataFrame(
        {
            "student_id": pseudonyms.to_numpy(),
            "timestamp": [d["timestamp"] for d in followed],
            "item_id": [d["item_id"] for d in followed],
            "sent": [d["propensity"] for d in followed],
        }
    )
    joined = client.merge(
        interactions.astype({"student_id": str}), on=["student_id", "timestamp", "item_id"]
    )
    assert len(joined) == len(followed)
    np.testing.assert_allclose(joined["propensity"], joined["sent"], rtol=1e-9)
    assert int(interactions["propensity"].notna().sum()) == len(followed)
    assert set(interactions["served_policy_version"].dropna()) == {"11"}

    evaluation = (run_dir / "evaluate-policy" / "summary").read_text()
    assert "mixed propensities" in evaluation
