"""The serving loop closed end to end at small scale: a REAL predictor process on 127.0.0.1
serves simulated students (clock timestamps); its decision log and the students' answers go
through the feature stage with a decisions URI; the feature set's interactions carry, on every
answer a served decision produced, the propensity the predictor answered with, which is also
recomputed independently from the saved policy's probabilities."""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quizops.canonical import CANONICAL_COLUMNS, conform, write_table
from quizops.errors import InputDataError
from quizops.evaluation.decisions import build_decision_log
from quizops.features import load_features, run_features_stage
from quizops.names import PII_KEY_ENV, PII_KEY_FILE_ENV
from quizops.pii.deidentify import pseudonymize_values
from quizops.policy import QuizPolicy
from quizops.serving import PredictorProcess

KSERVE_DIR = Path(__file__).resolve().parents[2] / "kserve"
if str(KSERVE_DIR) not in sys.path:
    sys.path.insert(0, str(KSERVE_DIR))

from quizops_predictor.demo import build_planning_demo_policy  # noqa: E402
from tests.features.served_loop import N_SKILLS, PER_SKILL, background, now_ms, serve  # noqa: E402

KEY_HEX = "00112233445566778899aabbccddeeff"
VERSION = "11"


@pytest.mark.service
def test_served_decisions_reach_the_feature_set_with_their_exact_propensities(
    tmp_path, monkeypatch
):
    rng = np.random.default_rng(12)
    policy_dir = tmp_path / "policy"
    build_planning_demo_policy(N_SKILLS, PER_SKILL, version=VERSION).save(policy_dir)
    policy = QuizPolicy.load(policy_dir)
    bank = list(policy.item_bank)
    decisions_dir = tmp_path / "decisions"
    started_ms = now_ms()
    env = {PII_KEY_ENV: KEY_HEX, PII_KEY_FILE_ENV: ""}
    with PredictorProcess(model_dir=policy_dir, decisions_dir=decisions_dir, env=env) as predictor:
        answers, served = serve(predictor, policy, rng, bank)
    # The client's view and an independent recomputation through the policy agree.
    for decision in served:
        assert decision["policy_version"] == VERSION
        assert decision["propensity"] == pytest.approx(decision["recomputed"], rel=1e-6)

    rows = background(rng, bank, started_ms - 7_200_000) + answers
    raw = pd.DataFrame(rows, columns=CANONICAL_COLUMNS)
    # De-identified as the PII stage does it (the predictor logged the same HMAC).
    raw["student_id"] = pseudonymize_values(raw["student_id"], bytes.fromhex(KEY_HEX))
    table_path = tmp_path / "validated.parquet"
    write_table(conform(raw, "test table"), table_path)
    days = {datetime.fromtimestamp(d["timestamp"] / 1000, UTC).date() for d in served}
    span = days.pop().isoformat() if len(days) == 1 else ""  # one UTC day unless at midnight

    result = run_features_stage(
        data_path=table_path,
        features_dir=tmp_path / "features",
        decisions_uri=str(decisions_dir),
        span=span,
    )

    followed = [d for d in served if d["action"] == "followed"]
    other = [d for d in served if d["action"] == "other"]
    assert len(followed) > 60 and other and any(d["action"] == "none" for d in served)
    assert result.served["skipped"] == ""
    counts = result.served["counts"]
    assert counts["decisions"] == len(served)
    assert counts["followed"] == len(followed)
    assert counts["joined"] == len(followed) + len(other)
    assert counts["no_answer"] == len(served) - len(followed) - len(other)
    assert counts["answers_with_exact_propensity"] == len(followed)
    assert result.metrics["served_followed"] == len(followed)
    assert result.metrics["served_join_skipped"] == 0.0
    written = json.loads((tmp_path / "features" / "served_decisions.json").read_text())
    assert written == json.loads(json.dumps(result.served))

    interactions = load_features(tmp_path / "features").interactions
    key = interactions.set_index(["student_id", "timestamp"])
    ids = pseudonymize_values(
        pd.Series([d["student"] for d in served]), bytes.fromhex(KEY_HEX)
    ).tolist()
    for decision, sid in zip(served, ids, strict=True):
        if decision["action"] == "none":
            continue
        row = key.loc[(sid, decision["timestamp"])]
        if decision["action"] == "followed":
            assert row["item_id"] == decision["item_id"]
            assert row["propensity"] == pytest.approx(decision["propensity"], rel=1e-6)
            assert row["propensity"] == pytest.approx(decision["recomputed"], rel=1e-6)
            assert row["served_policy_version"] == VERSION
            assert row["served_variant"] == "champion"
        else:  # answered another item: not the served policy's choice
            assert np.isnan(row["propensity"]) and row["served_policy_version"] is None
    exact = interactions["propensity"].notna()
    assert int(exact.sum()) == len(followed)  # nothing else got a propensity
    assert set(interactions.loc[exact, "student_id"]) <= set(ids)  # served students only
    assert "served-" not in " ".join(interactions["student_id"].astype(str))  # pseudonyms only
    # The evaluation's decision log reads them: exact where served and followed, NaN elsewhere
    # (where its behaviour model estimates them).
    log = build_decision_log(interactions, holdout_fraction=0.2, split_seed=0)
    logged = log.frame["propensity"].to_numpy(dtype=float)
    assert int(np.isfinite(logged).sum()) == len(followed)
    np.testing.assert_allclose(
        np.sort(logged[np.isfinite(logged)]), np.sort([d["propensity"] for d in followed])
    )


def _background_table(tmp_path, timestamps):
    rng = np.random.default_rng(3)
    bank = [f"p{100 + i}" for i in range(N_SKILLS * PER_SKILL)]
    raw = pd.DataFrame(background(rng, bank, 0), columns=CANONICAL_COLUMNS)
    raw["timestamp"] = timestamps(len(raw))
    table_path = tmp_path / "validated.parquet"
    write_table(conform(raw, "test table"), table_path)
    return table_path


def test_order_id_tables_skip_the_join_and_still_build_features(tmp_path):
    from kfp.dsl import Dataset, Metrics

    from components.feature_engineering.component import feature_engineering

    table_path = _background_table(tmp_path, lambda n: np.arange(1, n + 1))  # order ids
    decisions = tmp_path / "decisions"
    decisions.mkdir()
    (decisions / "decisions-2026-11-24.jsonl").write_text("{}\n")
    features = Dataset(name="features", uri=str(tmp_path / "features"))
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"))
    feature_engineering.python_func(
        data=Dataset(name="data", uri=str(table_path)),
        features=features,
        metrics=metrics,
        decisions_uri=str(decisions),
        span="2026-11-24",
    )
    assert "not clock times" in features.metadata["served_join"]
    assert metrics.metadata["served_join_skipped"] == 1.0
    assert metrics.metadata["served_decisions"] == 0.0
    written = json.loads((tmp_path / "features" / "served_decisions.json").read_text())
    assert "order ids" in written["skipped"]
    interactions = load_features(tmp_path / "features").interactions
    assert "propensity" in interactions.columns and interactions["propensity"].isna().all()
    assert "served_variant" not in interactions.columns


def test_an_unreadable_decision_log_fails_the_stage_and_writes_no_features(tmp_path):
    start = 1_795_000_000_000  # clock times (2026)
    table_path = _background_table(tmp_path, lambda n: start + 1000 * np.arange(n))
    decisions = tmp_path / "decisions"
    decisions.mkdir()
    (decisions / "decisions-2026-11-24.jsonl").write_text('{"time": "2026-11-24T08:00:00Z"}\n[]\n')
    with pytest.raises(InputDataError, match=r"decisions-2026-11-24\.jsonl: line 2"):
        run_features_stage(
            data_path=table_path,
            features_dir=tmp_path / "features",
            decisions_uri=str(decisions),
            span="2026-11-24",
        )
    assert not (tmp_path / "features").exists()
