import os
import stat

import pandas as pd
import pytest

from quizops.canonical import CANONICAL_COLUMNS
from quizops.cli import main
from tests.pii.conftest import CANARIES, KEY


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("QUIZOPS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUIZOPS_PII_KEY", raising=False)
    monkeypatch.delenv("QUIZOPS_PII_KEY_FILE", raising=False)
    return tmp_path / "home"


def written_text(out) -> bytes:
    """Everything written, with Parquet decoded (its pages are compressed)."""
    parts = []
    for path in sorted(out.iterdir()):
        if path.suffix == ".parquet":
            parts.append(pd.read_parquet(path).astype(str).to_csv().encode())
        else:
            parts.append(path.read_bytes())
    return b"".join(parts)


def run(tmp_path, source, *extra):
    out = tmp_path / "out"
    code = main(
        ["pii-scan", str(source), "--report", str(out / "r.json"), "--output",
         str(out / "clean.parquet"), *extra]
    )  # fmt: skip
    return code, out


def test_csv_clean_exit_0_and_local_key_created(tmp_path, pii_frame, home):
    source = tmp_path / "in.csv"
    df = pii_frame.copy()
    df["teacher_email"] = "t.smith@school.example.org"
    df.to_csv(source, index=False)
    code, out = run(tmp_path, source, "--markdown", str(tmp_path / "out" / "r.md"))
    assert code == 0
    clean = pd.read_parquet(out / "clean.parquet")
    assert list(clean.columns) == CANONICAL_COLUMNS
    written = written_text(out)
    for value in [*CANARIES.values(), "t.smith@school.example.org"]:
        assert value.encode() not in written
    key_file = home / "keys" / "pii.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the same local key gives the same pseudonyms on the next run
    code, out2 = run(tmp_path, source)
    assert pd.read_parquet(out2 / "clean.parquet")["student_id"].equals(clean["student_id"])


def test_parquet_input_and_key_from_env(tmp_path, pii_frame, monkeypatch):
    monkeypatch.setenv("QUIZOPS_PII_KEY", KEY.hex())
    source = tmp_path / "in.parquet"
    pii_frame.to_parquet(source, index=False)
    code, out = run(tmp_path, source)
    assert code == 0 and (out / "r.json").exists()


def test_pii_left_exit_3_writes_nothing(tmp_path, pii_frame, capsys):
    df = pii_frame.copy()
    df.loc[1, "skill_name"] = "see maria@example.org"
    df.to_csv(tmp_path / "in.csv", index=False)
    code, out = run(tmp_path, tmp_path / "in.csv")
    assert code == 3 and not out.exists()
    assert "skill_name" in capsys.readouterr().err


def test_policy_file_option(tmp_path, pii_frame):
    pii_frame.to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "p.yaml").write_text("columns:\n  answer_text: drop\n")
    code, out = run(tmp_path, tmp_path / "in.csv", "--policy", str(tmp_path / "p.yaml"))
    assert code == 0 and pd.read_parquet(out / "clean.parquet")["answer_text"].isna().all()


def bad_inputs(tmp_path, pii_frame):
    good = pii_frame.to_csv(index=False).encode()
    return {
        "empty": b"",
        "header only": good.split(b"\n", 1)[0] + b"\n",
        "latin-1": good.replace(b"Equation", "Équation".encode("latin-1")),
        "missing column": pii_frame.drop(columns=["correct"]).to_csv(index=False).encode(),
        "bad value": good.replace(b",Equation Solving,0,", b",Equation Solving,maybe,"),
        "not parquet": b"PAR1 garbage",
    }


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("empty", "empty"),
        ("header only", "no rows"),
        ("latin-1", "not UTF-8"),
        ("missing column", "correct"),
        ("bad value", "correct"),
        ("not parquet", "Parquet"),
    ],
)
def test_bad_input_exit_2_writes_nothing(tmp_path, pii_frame, capsys, case, message):
    source = tmp_path / "in.csv"
    source.write_bytes(bad_inputs(tmp_path, pii_frame)[case])
    code, out = run(tmp_path, source, "--source-format", "canonical")
    assert code == 2 and not out.exists()
    assert message in capsys.readouterr().err


def test_missing_file_exit_2(tmp_path):
    code, out = run(tmp_path, tmp_path / "nope.csv")
    assert code == 2 and not out.exists()


def test_a_1_gib_line_exit_2_without_reading_it(tmp_path, pii_frame, capsys):
    source = tmp_path / "huge.csv"
    with source.open("wb") as handle:
        handle.write(",".join(CANONICAL_COLUMNS).encode() + b"\n")
        handle.truncate(1 << 30)  # a sparse 1 GiB line: no disk used, no newline
    code, out = run(tmp_path, source)
    assert code == 2 and not out.exists()
    assert "longer than" in capsys.readouterr().err


def test_long_line_limit_is_configurable(tmp_path, pii_frame):
    df = pii_frame.copy()
    df.loc[0, "answer_text"] = "a" * 5000
    df.to_csv(tmp_path / "in.csv", index=False)
    code, out = run(tmp_path, tmp_path / "in.csv", "--max-line-bytes", "1000")
    assert code == 2 and not out.exists()
    code, out = run(tmp_path, tmp_path / "in.csv")
    assert code == 0


def test_raw_assistments_export(tmp_path):
    from quizops.simulation import make_world, simulate_logs, write_assistments_csv

    frame = simulate_logs(make_world(7), 2000, seed=5)
    source = write_assistments_csv(frame, tmp_path / "export" / "skill_builder.csv")
    emails = set(frame.loc[frame["user_id"].astype(str).str.contains("@"), "user_id"])
    code, out = run(tmp_path, source, "--source-format", "assistments")
    assert code == 0
    clean = pd.read_parquet(out / "clean.parquet")
    assert len(clean) > 0 and clean["student_id"].str.startswith("p_").all()
    written = written_text(out)
    assert emails and not any(e.encode() in written for e in emails)


def test_encoding_option(tmp_path, capsys):
    frame = pd.DataFrame(
        {
            "user_id": ["1", "2", "3"] * 10,
            "answer_text": ["Réponse: x = 7", "José dit 12", "ok"] * 10,
        }
    )
    frame.to_csv(tmp_path / "latin.csv", index=False, encoding="latin-1")
    code, out = run(tmp_path, tmp_path / "latin.csv")
    assert code == 2 and "--encoding" in capsys.readouterr().err and not out.exists()
    code, out = run(tmp_path, tmp_path / "latin.csv", "--encoding", "latin-1")
    assert code == 0
    clean = pd.read_parquet(out / "clean.parquet")
    assert clean["answer_text"].iloc[0] == "Réponse: x = 7"
