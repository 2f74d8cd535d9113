"""No personal value in any error message, log line or exception (issue 10, item 4).

Canary values (an e-mail, a phone number, a name, an SSN) are pushed through every bad-input
path: ingest and canonical casting (in process: the full traceback, chained causes included, as
a KFP pod prints it, and every log record at DEBUG), ``quizops pii-scan`` and ``quizops
validate`` (as subprocesses: stderr and stdout), the de-identification's own failure, and the
predictor (a real server process: its log file). None of the canaries may appear anywhere.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pandas as pd
import pytest

from quizops.canonical import CANONICAL_COLUMNS, conform
from quizops.errors import InputDataError, PIILeftError, QuizopsError

REPO = Path(__file__).resolve().parents[1]
CORE_PYTHON = REPO / ".venvs" / "core" / "bin" / "python"
VALIDATION_PYTHON = REPO / ".venvs" / "validation" / "bin" / "python"

EMAIL = "ottavia.canarino@example.org"
PHONE = "+39 06 6982 7731"
NAME = "Ottavia Canarino"
SSN = "219-09-7731"
CANARIES = (EMAIL, PHONE, NAME, SSN, "canarino", "6982 7731", "7731")


def assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{where} holds a personal value: ...{canary}..."


def full_text(error: BaseException) -> str:
    """The exception as a pod log shows it: traceback with every chained cause and context."""
    return "".join(traceback.format_exception(error))


def assistments_rows(n: int = 6) -> pd.DataFrame:
    from tests.ingest.conftest import ASSISTMENTS_COLUMNS, assistments_row

    rows = [assistments_row(100 + i, f"u{i % 3}", 10 + i, 7) for i in range(n)]
    rows[0]["user_id"] = EMAIL
    rows[0]["answer_text"] = f"{NAME} {PHONE}"
    return pd.DataFrame(rows, columns=ASSISTMENTS_COLUMNS)


def canonical_rows(n: int = 6) -> pd.DataFrame:
    from tests.pii.conftest import canonical_row

    return pd.DataFrame([canonical_row(i, f"s{i % 3}") for i in range(n)])[CANONICAL_COLUMNS]


def ingest_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Bad sources, each holding canaries where the fault is."""
    cases: dict[str, tuple[Path, str]] = {}

    def csv(name: str, frame: pd.DataFrame, fmt: str, **options) -> None:
        path = tmp / name / "export.csv"
        path.parent.mkdir(parents=True)
        frame.to_csv(path, index=False, **options)
        cases[name] = (path, fmt)

    bad = assistments_rows().astype(object)
    bad.loc[2, "correct"] = EMAIL
    csv("assistments wrong type", bad, "assistments")
    bad = assistments_rows().astype(object)
    bad.loc[3, "order_id"] = PHONE
    csv("assistments id not a number", bad, "assistments")
    csv("assistments headerless", assistments_rows(), "assistments", header=False)
    text = assistments_rows().to_csv(index=False)
    path = tmp / "ragged" / "export.csv"
    path.parent.mkdir()
    path.write_text(text + ",".join([EMAIL, NAME, PHONE, SSN] * 10) + "\n")
    cases["assistments row with too many fields"] = (path, "assistments")
    path = tmp / "truncated" / "export.csv"
    path.parent.mkdir()
    path.write_text(text + f"1,2,{EMAIL},{NAME},{PHONE}")
    cases["assistments truncated"] = (path, "assistments")
    path = tmp / "latin" / "export.csv"
    path.parent.mkdir()
    # partly UTF-8 (ü), partly latin-1 (é): damaged, refused (a file with no UTF-8 character
    # at all would be read as a Western code page)
    data = text.replace("42", f"{NAME} é ü", 1).encode().replace("é".encode(), b"\xe9", 1)
    path.write_bytes(data)
    cases["assistments not utf-8"] = (path, "assistments")
    bad = canonical_rows().astype(object)
    bad.loc[1, "timestamp"] = EMAIL
    csv("canonical timestamp", bad, "canonical")
    bad = canonical_rows().astype(object)
    bad.loc[4, "correct"] = SSN
    csv("canonical correct", bad, "canonical")
    bad = canonical_rows().astype(object)
    bad.loc[0, "attempt_count"] = PHONE
    path = tmp / "parquet" / "t.parquet"
    path.parent.mkdir()
    bad.astype(str).to_parquet(path, index=False)
    cases["canonical parquet wrong type"] = (path, "canonical")
    path = tmp / "garbage" / "t.parquet"
    path.parent.mkdir()
    path.write_bytes(b"PAR1" + f"{EMAIL} {NAME}".encode() * 10)
    cases["canonical not parquet"] = (path, "canonical")
    from tests.ingest.test_ednet_canonical import write_ednet

    root = write_ednet(
        tmp / "ednet",
        users={"u7": [(EMAIL, 1, "q1", "b", 24000), (1565096221062, 2, "q2",
                                                                     PHONE, NAME)]},
    )  # fmt: skip
    cases["ednet wrong types"] = (root, "ednet")
    return cases


def test_ingest_errors_and_logs_hold_no_value(tmp_path, caplog):
    from quizops.ingest import ingest

    caplog.set_level(logging.DEBUG)
    for name, (source, fmt) in ingest_cases(tmp_path / "in").items():
        caplog.clear()
        with pytest.raises(InputDataError) as error:
            ingest(str(source), fmt, "", str(tmp_path / "raw" / name), tmp_path / name / "m.json")
        assert_clean(full_text(error.value), f"ingest error ({name})")
        assert_clean(caplog.text, f"ingest log ({name})")
        assert not (tmp_path / name / "m.json").exists()


def test_canonical_casting_errors_hold_no_value():
    for column, value in (("correct", EMAIL), ("timestamp", PHONE), ("hint_count", NAME),
                          ("response_time_ms", SSN), ("propensity", EMAIL)):  # fmt: skip
        frame = canonical_rows().astype(object)
        frame.loc[2, column] = value
        with pytest.raises(InputDataError) as error:
            conform(frame, "table.parquet")
        text = full_text(error.value)
        assert f"'{column}'" in text and "data row(s) [3]" in text
        assert_clean(text, f"casting error ({column})")


def test_deidentification_failure_embeds_no_exception_text(monkeypatch):
    from quizops.pii import deidentify_table
    from quizops.pii.scanner import TextScanner
    from tests.pii.conftest import KEY

    def broken(self, text):
        raise ValueError(f"cannot scan {text!r} near {EMAIL}")

    monkeypatch.setattr(TextScanner, "scan", broken)
    frame = conform(canonical_rows().assign(answer_text=f"{NAME} {PHONE}"), "fixture")
    with pytest.raises(PIILeftError) as error:
        deidentify_table(frame, KEY)
    assert "ValueError" in str(error.value)
    assert_clean(full_text(error.value), "de-identification failure")


def run_cli(python: Path, *args: str, home: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "QUIZOPS_HOME": str(home),
        "QUIZOPS_PII_KEY": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    }
    return subprocess.run(
        [str(python), "-m", "quizops.cli", "-v", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )


def pii_scan_cases(tmp: Path) -> dict[str, tuple[Path, list[str], int]]:
    cases: dict[str, tuple[Path, list[str], int]] = {}
    table = pd.DataFrame(
        {
            "user_id": [EMAIL, "u2", "u3"] * 5,
            "student_name": [NAME, "Anna Rossi", "Luca Bianchi"] * 5,
            "skill_name": ["Place Value", f"ask {EMAIL}", "Square Root"] * 5,
            "correct": ["1", "0", "1"] * 5,
        }
    )
    path = tmp / "kept.csv"
    table.to_csv(path, index=False)
    cases["kept column holds an e-mail"] = (path, [], 3)
    path = tmp / "headerless.csv"
    table.to_csv(path, index=False, header=False)
    cases["headerless"] = (path, [], 2)
    bad = canonical_rows().astype(object)
    bad.loc[1, "correct"] = EMAIL
    path = tmp / "canonical.csv"
    bad.to_csv(path, index=False)
    cases["canonical wrong type"] = (path, ["--source-format", "canonical"], 2)
    bad = assistments_rows().astype(object)
    bad.loc[2, "correct"] = PHONE
    path = tmp / "assistments.csv"
    bad.to_csv(path, index=False)
    cases["assistments wrong type"] = (path, ["--source-format", "assistments"], 2)
    path = tmp / "garbage.parquet"
    path.write_bytes(b"PAR1" + f"{EMAIL} {NAME}".encode() * 10)
    cases["not parquet"] = (path, [], 2)
    path = tmp / "latin.csv"
    path.write_bytes(f"user_id,answer\n{EMAIL},{NAME} é\n".encode("latin-1"))
    cases["not utf-8"] = (path, [], 2)
    return cases


def test_pii_scan_command_prints_no_value(tmp_path):
    for name, (source, extra, status) in pii_scan_cases(tmp_path).items():
        out = tmp_path / "out" / name.replace(" ", "_")
        proc = run_cli(
            CORE_PYTHON, "pii-scan", str(source), "--report", str(out / "r.json"),
            "--output", str(out / "c.parquet"), *extra, home=tmp_path / "home",
        )  # fmt: skip
        assert proc.returncode == status, (name, proc.stderr[-2000:])
        assert_clean(proc.stderr + proc.stdout, f"pii-scan output ({name})")
        assert not out.exists()


@pytest.mark.service
def test_validate_command_prints_no_value(tmp_path):
    if not VALIDATION_PYTHON.exists():
        pytest.skip("no validation environment")
    bad = canonical_rows().astype(object)
    bad.loc[1, "correct"] = EMAIL
    bad.loc[2, "timestamp"] = PHONE
    bad.astype(str).to_parquet(tmp_path / "bad.parquet", index=False)
    proc = run_cli(
        VALIDATION_PYTHON, "validate", "--data", str(tmp_path / "bad.parquet"), "--out",
        str(tmp_path / "out"), home=tmp_path / "home",
    )  # fmt: skip
    assert proc.returncode == 1 and "data validation failed" in proc.stderr, proc.stderr[-2000:]
    assert_clean(proc.stderr + proc.stdout, "quizops validate output")
    assert not (tmp_path / "out" / "summary.md").exists()


@pytest.mark.service
def test_predictor_log_holds_no_value(tmp_path):
    kserve_dir = str(REPO / "kserve")
    if kserve_dir not in sys.path:
        sys.path.insert(0, kserve_dir)
    from quizops.serving import PredictorProcess, http_json
    from quizops_predictor.demo import save_demo_policy

    policy = save_demo_policy(tmp_path / "policy", version="7")
    log = tmp_path / "server.log"
    process = PredictorProcess(
        model_dir=policy,
        decisions_dir=tmp_path / "decisions",
        env={"QUIZOPS_PII_KEY": "00112233445566778899aabbccddeeff", "QUIZOPS_HOME": str(tmp_path)},
        log_path=log,
    )
    v1 = "/v1/models/quiz-policy:predict"
    bodies = [
        {"instances": [{"student_id": EMAIL, "history": [{"item_id": PHONE, "correct": 1}]}]},
        {"instances": [{"student_id": NAME, "history": [], "candidates": [SSN]}]},
        {"instances": [{"student_id": "a", "history": [{"item_id": "p1", "correct": EMAIL}]}]},
        {"instances": [{"student_id": [NAME], "history": []}]},
    ]
    with process:
        for body in bodies:
            status, answer = http_json("POST", process.base_url + v1, body)
            assert 400 <= status < 500, (body, status)
            assert_clean(json.dumps(answer), "predictor answer")
    assert_clean(log.read_text(), "predictor log")
    assert_clean(
        "".join(p.read_text() for p in (tmp_path / "decisions").glob("*.jsonl")),
        "decision log",
    )


def test_canaries_would_be_caught():
    # the check itself can fail: a message quoting a value is found
    with pytest.raises(AssertionError):
        assert_clean(f"column 'correct': invalid literal {EMAIL!r}", "a leaky message")
    error = QuizopsError("outer")
    error.__cause__ = ValueError(f"could not convert {PHONE}")
    with pytest.raises(AssertionError):
        assert_clean(full_text(error), "a chained cause")
    assert json.dumps(list(CANARIES))
