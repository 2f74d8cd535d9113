"""The committed feature_store.yaml files: the local one is what the library writes, the
production one names its secret through an environment variable only."""

import os
from pathlib import Path

import yaml

from quizops.featurestore.config import ensure_local_repo
from quizops.names import FEAST_REDIS_ENV

REPO = Path(__file__).resolve().parents[2]


def test_local_yaml_expands_to_what_the_library_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZOPS_HOME", str(tmp_path))
    committed = yaml.safe_load(
        os.path.expandvars((REPO / "feature_repo/feature_store.yaml").read_text())
    )
    written_repo = ensure_local_repo(tmp_path / "feature_store")
    written = yaml.safe_load((written_repo / "feature_store.yaml").read_text())
    assert committed == written
    assert written["registry"]["path"].startswith(str(tmp_path.resolve()))


def test_local_yaml_is_a_valid_feast_config(tmp_path, monkeypatch):
    from feast.repo_config import load_repo_config

    monkeypatch.setenv("QUIZOPS_HOME", str(tmp_path))
    config = load_repo_config(REPO / "feature_repo", REPO / "feature_repo/feature_store.yaml")
    assert config.project == "quizops"
    assert config.online_store.type == "sqlite"
    assert config.online_store.path == f"{tmp_path}/feature_store/online.db"


def test_production_yaml_takes_the_redis_secret_from_the_environment():
    text = (REPO / "feature_repo/production/feature_store.yaml").read_text()
    config = yaml.safe_load(text)
    assert config["online_store"]["type"] == "redis"
    assert config["online_store"]["connection_string"] == "${" + FEAST_REDIS_ENV + "}"
    assert config["registry"]["path"].startswith("gs://")
    assert "password=" not in config["online_store"]["connection_string"]


def test_cli_definitions_are_the_library_objects(tmp_path, monkeypatch):
    import runpy

    monkeypatch.setenv("QUIZOPS_HOME", str(tmp_path))
    names = runpy.run_path(str(REPO / "feature_repo/definitions.py"))
    assert names["student_state"].name == "student_state"
    assert names["student"].join_key == "student_pseudonym"
    assert names["item_params"].entities == ["item", "tracer"]
    assert names["student_state"].entities == ["student", "tracer"]
    assert names["student_state_source"].path == str(
        tmp_path / "feature_store/data/student_state.parquet"
    )
