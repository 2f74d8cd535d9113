import subprocess
import sys
from pathlib import Path

import pytest

from quizops.errors import InputDataError
from quizops.validation import schema as schema_lib
from quizops.validation import statistics as stats_lib
from quizops.validation.store import StatisticsStore, open_store
from tests.validation.conftest import canonical_frame

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stats():
    return stats_lib.generate_statistics(canonical_frame(n_students=10, per_student=5))


def test_store_policy(tmp_path, stats):
    store = StatisticsStore(str(tmp_path / "store"))
    assert store.previous("2026-11-23") is None and store.previous("") is None
    for span in ("2026-11-20", "2026-11-22", "2026-11-25"):
        store.write(span, stats)
    assert store.previous("2026-11-23").span == "2026-11-22"
    assert store.previous("2026-11-22").span == "2026-11-20"  # never itself
    assert store.previous("2026-11-20") is None
    assert store.previous("2026-11-23", previous_span="2026-11-20").span == "2026-11-20"
    assert store.previous("").span == "2026-11-25"  # unspanned: the latest written
    store.write("", stats)
    assert store.latest() == "unspanned"
    assert store.previous("2026-11-30").span == "2026-11-25"  # unspanned never a span baseline


def test_store_must_be_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputDataError, match="must be a folder"):
        open_store(str(tmp_path / "file"))
    assert open_store("") is None


def test_corrupt_entry_is_a_clear_error(tmp_path):
    entry = tmp_path / "store" / "span=2026-11-20" / "statistics.pb"
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"\xff\xfenot a proto")
    with pytest.raises(InputDataError, match="not TFDV statistics"):
        StatisticsStore(str(tmp_path / "store")).previous("2026-11-21")


def test_beam_direct_runner_gives_the_same_counts(tmp_path):
    frame = canonical_frame(n_students=12, per_student=10)
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, index=False)
    schema = schema_lib.load_schema()
    in_process = stats_lib.generate_statistics(frame, schema=schema)
    on_beam = stats_lib.generate_statistics(
        frame, str(path), ["--runner=DirectRunner"], schema=schema
    )
    assert on_beam.datasets[0].num_examples == in_process.datasets[0].num_examples == len(frame)

    def means(s):
        return {
            f.path.step[0]: round(f.num_stats.mean, 6)
            for f in s.datasets[0].features
            if f.HasField("num_stats")
        }

    assert means(on_beam) == means(in_process)


def test_curated_schema_is_what_update_schema_produces(tmp_path):
    """The packaged schema is reproducible: `update-schema --check` finds no change."""
    path = tmp_path / "t.parquet"
    canonical_frame().to_parquet(path, index=False)
    command = [sys.executable, "-m", "quizops.cli", "update-schema", "--data", str(path)]
    check = subprocess.run([*command, "--check"], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "unchanged" in check.stdout
    out = tmp_path / "schema.pbtxt"
    subprocess.run([*command, "--schema", str(out)], cwd=REPO, check=True, capture_output=True)
    assert out.read_text() == schema_lib.CURATED_SCHEMA_PATH.read_text()


def test_schema_environments():
    schema = schema_lib.load_schema()
    serving = [f.name for f in schema.feature if "SERVING" not in f.not_in_environment]
    assert sorted(serving) == ["item_id", "propensity"]
    assert not schema.string_domain
