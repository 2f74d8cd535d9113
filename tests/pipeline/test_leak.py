"""Leak test: canary personal data seeded into raw logs must not appear anywhere a run writes.

The whole training pipeline runs with kfp.local on small simulated ASSISTments logs into which
canary e-mails (as user ids and in answers), person names, phone numbers and student ids are
seeded. Then every file the run wrote outside the raw zone and the key folder (pipeline root,
MLflow store, decision logs, and the working directory the run started in), the run's own log
output, and the compiled YAML are searched for each canary. Parquet files are decoded first
(their pages are compressed); SQLite and protobuf files are searched as bytes, where text is
stored as is.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]

CANARY_IDS = [f"canary.student{n:02d}.q7x@example.org" for n in range(12)]
CANARY_NAMES = ["Quentin Canarywood", "Mireille Kanarienvogel", "Josefina Canariola"]
CANARY_PHONES = ["+44 20 7946 0321", "+49 30 90182077", "(415) 555-0142"]
CANARY_TEXT_EMAILS = ["quentin.canary.q7x@example.net"]
CANARY_STUDENT_NUMBERS = ["S7654321"]
CANARY_ANSWERS = [
    f"my name is {CANARY_NAMES[0]}, call me at {CANARY_PHONES[0]}",
    f"{CANARY_NAMES[1]} - ruf mich an unter {CANARY_PHONES[1]}",
    f"ask my mum {CANARY_NAMES[2]} {CANARY_PHONES[2]}",
    f"i dont know, email me {CANARY_TEXT_EMAILS[0]}",
    f"my student id is {CANARY_STUDENT_NUMBERS[0]}",
]
#: Every string that must not leave the raw zone (name parts too: a half-redacted name leaks).
CANARIES = [
    *CANARY_IDS,
    *CANARY_NAMES,
    *(part for name in CANARY_NAMES for part in name.split()[1:]),
    *CANARY_PHONES,
    *CANARY_TEXT_EMAILS,
    *CANARY_STUDENT_NUMBERS,
]


def seeded_logs(path: Path, interactions: int = 6000) -> Path:
    from quizops.simulation import make_world, simulate_logs, write_assistments_csv

    frame = simulate_logs(make_world(7), interactions, seed=4711)
    students = sorted(frame["user_id"].astype(str).unique())[: len(CANARY_IDS)]
    frame["user_id"] = (
        frame["user_id"].astype(str).replace(dict(zip(students, CANARY_IDS, strict=True)))
    )
    rows = frame.index[: len(CANARY_ANSWERS) * 4]
    for n, row in enumerate(rows):
        frame.loc[row, "answer_text"] = CANARY_ANSWERS[n % len(CANARY_ANSWERS)]
    return write_assistments_csv(frame, path)


def searchable(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:4] == b"PAR1":
        return pd.read_parquet(io.BytesIO(data)).astype(str).to_csv().encode()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except OSError:
            return data
    return data


def find_canaries(blob: bytes) -> list[str]:
    lowered = blob.lower()
    found = []
    for canary in CANARIES:
        for encoding in ("utf-8", "utf-16-le"):
            if canary.lower().encode(encoding) in lowered:
                found.append(canary)
                break
    return found


@pytest.mark.pipeline
def test_no_canary_leaves_the_raw_zone(tmp_path, capfd, monkeypatch):
    runner = pytest.importorskip("pipelines.local_run")
    home = tmp_path / "home"
    source = seeded_logs(tmp_path / "source" / "interactions.csv")
    assert find_canaries(source.read_bytes()), "the canaries must be in the raw input"

    # Run from an empty working directory: anything a stage writes outside the home (a stray
    # default MLflow store, a log file) lands there and is searched too.
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    summary = runner.run_local(data=str(source.parent), home_root=str(home))
    out, err = capfd.readouterr()
    assert summary["stages"]["pii-scan"]["status"] == "SUCCESS", summary
    assert summary["ok"], summary

    leaks: dict[str, list[str]] = {}
    searched = 0
    folders = [home / "pipeline_root", home / "mlflow", home / "decisions", workdir]
    folders.append(home / "feature_store")  # student states: pseudonyms only (issue 13)
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                searched += 1
                found = find_canaries(searchable(path))
                if found:
                    leaks[str(path.relative_to(tmp_path))] = found
    assert searched > 10
    for name, text in (("stdout", out), ("stderr", err)):
        found = find_canaries(text.encode())
        if found:
            leaks[name] = found
    for path in sorted((REPO / "compiled").glob("*.yaml")):
        found = find_canaries(path.read_bytes())
        if found:
            leaks[str(path)] = found
    assert not leaks, f"canaries outside the raw zone: {leaks}"

    # and the raw zone did hold them: the test would notice a run that never read them
    raw = b"".join(searchable(p) for p in (home / "raw").rglob("*") if p.is_file())
    assert set(CANARY_IDS) <= set(find_canaries(raw + source.read_bytes()))


def test_the_search_sees_through_parquet_and_gzip(tmp_path):
    frame = pd.DataFrame({"answer_text": [f"hi {CANARY_NAMES[0]}"] * 50})
    frame.to_parquet(tmp_path / "t.parquet", compression="snappy")
    (tmp_path / "t.gz").write_bytes(gzip.compress(CANARY_PHONES[1].encode()))
    (tmp_path / "t.bin").write_bytes(CANARY_IDS[0].encode("utf-16-le"))
    assert CANARY_NAMES[0] in find_canaries(searchable(tmp_path / "t.parquet"))
    assert find_canaries(searchable(tmp_path / "t.gz")) == [CANARY_PHONES[1]]
    assert find_canaries(searchable(tmp_path / "t.bin")) == [CANARY_IDS[0]]
    assert find_canaries(b"nothing personal") == []
