"""`make monitor` and `make rollback` on one machine: kfp.local runs the compiled pipelines'
components in the images' environments, on a home prepared as a training run leaves it."""

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import mlflow
import pytest

from pipelines.local_ops import monitor_local, rollback_local
from quizops.errors import RunLockedError
from quizops.names import CHAMPION_ALIAS, MODEL_NAME, PREVIOUS_ALIAS
from quizops.runlock import home_lock
from quizops.tracking import promote

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
RUN = "quizops-training-2026-11-20-00-00-00-000000"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home holding what a training run leaves: a validated table and stored statistics."""
    root = tmp_path_factory.mktemp("home")
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from tests.validation.conftest import canonical_frame
        from quizops.validation import statistics as stats_lib
        from quizops.validation.store import open_store
        table = canonical_frame(n_students=60, per_student=60, seed=3, n_items=40)
        out = Path({str(root)!r}) / "pipeline_root" / {RUN!r} / "data-validation"
        out.mkdir(parents=True)
        table.to_parquet(out / "validated", index=False)
        store = open_store({str(root / "pipeline_root" / "statistics_store")!r})
        store.write("2026-11-20", stats_lib.generate_statistics(table))
        """
    )
    subprocess.run([str(REPO / ".venvs" / "validation" / "bin" / "python"), "-c", script],
                   check=True, timeout=300, cwd=REPO)  # fmt: skip
    return root


def test_a_clean_span_does_not_start_training(home):
    summary = monitor_local(str(home), span="2026-11-21", simulate="clean")
    assert summary["ok"] and summary["span"] == "2026-11-21"
    assert not summary["crossed"] and summary["retraining"] is None
    assert "within thresholds" in Path(summary["report"]).read_text()
    assert not list((home / "pipeline_root").glob("quizops-monitoring-*/start-retraining"))


def test_injected_drift_is_reported_without_training_when_retraining_is_off(home):
    summary = monitor_local(str(home), span="2026-11-22", simulate="drift", on_threshold="report")
    assert summary["crossed"] and summary["retraining"] is None
    assert any(r.startswith("drift of item_id") for r in summary["reasons"])
    assert any(r.startswith("skew of item_id") for r in summary["reasons"])


def test_injected_drift_starts_a_training_run_on_the_span(home):
    overrides = {"eval_students": 150}
    summary = monitor_local(str(home), span="2026-11-23", simulate="drift",
                            interactions=15000, training_overrides=overrides)  # fmt: skip
    assert summary["crossed"]
    training = summary["retraining"]
    assert training is not None, "no training run was started"
    assert training["stages"]["ingest"]["status"] == "SUCCESS"
    assert (home / "raw" / "simulated" / "date=2026-11-23" / "interactions.csv").exists()
    (request,) = (home / "pipeline_root").glob("quizops-monitoring-*/start-retraining/request")
    assert '"span": "2026-11-23"' in request.read_text()


def test_monitoring_waits_for_no_one_a_busy_home_is_refused(home):
    code = textwrap.dedent(
        f"""
        import sys
        from quizops.runlock import home_lock
        with home_lock({str(home)!r}, "make run"):
            print("locked", flush=True)
            sys.stdin.read()
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLockedError, match="make run"):
            monitor_local(str(home), span=dt.date(2026, 11, 21).isoformat())
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with home_lock(home):
        pass


def test_rollback_restores_the_previous_champion_in_the_local_registry(tmp_path):
    uri = f"sqlite:///{(tmp_path / 'mlflow' / 'mlflow.db').resolve()}"
    (tmp_path / "mlflow").mkdir()
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(MODEL_NAME)
    for _ in range(2):
        client.create_model_version(MODEL_NAME, source=str(tmp_path / "policy"))
    promote("1", "", uri)
    promote("2", "1", uri)
    summary = rollback_local(str(tmp_path))
    assert summary["ok"], summary["error"]
    assert summary["champion"] == "1"
    model = client.get_registered_model(MODEL_NAME)
    assert {k: str(v) for k, v in model.aliases.items()} == {CHAMPION_ALIAS: "1"}
    assert PREVIOUS_ALIAS not in model.aliases
    assert "champion now: version 1" in Path(summary["report"]).read_text()


def test_rollback_with_nothing_to_restore_is_refused_before_any_run(tmp_path):
    from quizops.errors import RegistryError

    uri = f"sqlite:///{(tmp_path / 'mlflow' / 'mlflow.db').resolve()}"
    (tmp_path / "mlflow").mkdir()
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(MODEL_NAME)
    client.create_model_version(MODEL_NAME, source=str(tmp_path / "policy"))
    promote("1", "", uri)
    with pytest.raises(RegistryError, match=r"nothing to roll back to.*champion: 1"):
        rollback_local(str(tmp_path))
    assert not list((tmp_path / "pipeline_root").glob("quizops-rollback-*"))
