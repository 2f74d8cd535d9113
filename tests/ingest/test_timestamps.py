"""Canonical timestamps: ISO 8601 (naive = UTC) and epoch seconds or milliseconds by magnitude."""

from datetime import UTC, datetime

import pandas as pd
import pytest

from quizops.canonical import conform, parse_timestamps
from quizops.errors import InputDataError
from quizops.ingest import read_source

EMAIL = "jane.doe@example.org"


def expected_ms(text: str) -> int:
    """Epoch milliseconds computed with the standard library (an independent computation)."""
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return round(stamp.timestamp() * 1000)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T08:15:00Z",
        "2026-11-23T09:15:00+01:00",
        "2026-11-23T08:15:00.250",
        "2026-11-23 08:15:00",
        "2026-11-23",
        "2009-09-12T23:59:59-05:00",
    ],
)
def test_iso_8601_with_or_without_zone(text):
    out = parse_timestamps(pd.Series([text]), "t.csv")
    assert int(out.iloc[0]) == expected_ms(text)


def test_naive_is_utc():
    naive = parse_timestamps(pd.Series(["2026-11-23T08:15:00"]), "t.csv").iloc[0]
    utc = parse_timestamps(pd.Series(["2026-11-23T08:15:00+00:00"]), "t.csv").iloc[0]
    assert naive == utc


def test_epoch_seconds_and_milliseconds_by_magnitude():
    seconds = 1_763_885_700  # 2025-11-23T08:15:00Z
    out = parse_timestamps(pd.Series([str(seconds), str(seconds * 1000), f"{seconds}.5"]), "t")
    assert out.tolist() == [seconds * 1000, seconds * 1000, seconds * 1000 + 500]
    assert out.iloc[0] == expected_ms("2025-11-23T08:15:00Z")
    # numbers, not text, follow the same rule
    assert parse_timestamps(pd.Series([seconds]), "t").iloc[0] == seconds * 1000


def test_order_keys_stay_as_they_are():
    out = parse_timestamps(pd.Series(["1", "2", "35000"]), "t")
    assert out.tolist() == [1, 2, 35000]


def test_bad_timestamp_names_rows_not_values():
    with pytest.raises(InputDataError) as error:
        parse_timestamps(pd.Series(["2026-11-23", EMAIL, "yesterday"]), "t.csv")
    message = str(error.value)
    assert "'timestamp'" in message and "data row(s) [2, 3]" in message
    assert EMAIL not in message and "yesterday" not in message


def canonical_rows(stamps):
    return pd.DataFrame(
        {
            "student_id": ["s1", "s1", "s2"],
            "item_id": ["1", "2", "1"],
            "skill_id": ["7", "7", "7"],
            "correct": [1, 0, 1],
            "timestamp": stamps,
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_canonical_source_reads_iso_and_epoch(tmp_path, suffix):
    stamps = ["2026-11-23T08:15:00Z", "1763885700", "1763885700123"]
    path = tmp_path / f"t{suffix}"
    frame = canonical_rows(stamps)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    table = read_source(str(path), "canonical").frame
    assert table["timestamp"].dtype == "int64"
    assert sorted(table["timestamp"].tolist()) == sorted(
        [expected_ms(stamps[0]), 1_763_885_700_000, 1_763_885_700_123]
    )


def test_parquet_datetimes(tmp_path):
    path = tmp_path / "t.parquet"
    stamps = pd.to_datetime(["2026-11-23T08:15:00Z"] * 3, utc=True)
    canonical_rows(stamps).to_parquet(path, index=False)
    table = read_source(str(path), "canonical").frame
    assert set(table["timestamp"]) == {expected_ms("2026-11-23T08:15:00Z")}


def test_conform_casting_error_quotes_no_cell():
    from quizops.canonical import CANONICAL_COLUMNS

    frame = canonical_rows([1, 2, 3]).reindex(columns=CANONICAL_COLUMNS)
    frame["correct"] = frame["correct"].astype(object)
    frame.loc[1, "correct"] = EMAIL
    with pytest.raises(InputDataError) as error:
        conform(frame, "t.parquet")
    assert "'correct'" in str(error.value) and "data row(s) [2]" in str(error.value)
    assert EMAIL not in str(error.value) and "invalid literal" not in str(error.value)
