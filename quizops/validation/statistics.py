"""TFDV statistics of the canonical table, in process or on a Beam runner.

Without Beam options the statistics are computed in this process with
``tfdv.generate_statistics_from_dataframe`` (the fastest path on one machine). With Beam
options (``--runner=DataflowRunner ...``, ``--runner=FlinkRunner ...``, or
``--direct_num_workers=4 --direct_running_mode=multi_processing``) the same generators run as a
Beam pipeline over the Parquet file (``tfdv.GenerateStatistics``).

The example count always equals the row count (checked). Top values and rank histograms of
identifying or free-text columns (:data:`IDENTIFYING_FEATURES`) are removed from the statistics
before anything stores them: pseudonymized ids are still per-student values, and redacted text
may hold what the PII scan missed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx_bsl.arrow import table_util

from quizops import storage
from quizops.errors import InputDataError, QuizopsError

logger = logging.getLogger(__name__)

#: Columns whose individual values must not appear in statistics.
IDENTIFYING_FEATURES: tuple[str, ...] = ("interaction_id", "student_id", "answer_text")
#: Histogram resolution (TFDV's defaults are 10 buckets). The quantile histogram feeds the
#: numeric drift of quizops.validation.drift: 50 equal-mass buckets (100 cost 10% more time).
NUM_HISTOGRAM_BUCKETS = 20
NUM_QUANTILES_HISTOGRAM_BUCKETS = 50


def stats_options(schema: schema_pb2.Schema | None = None) -> tfdv.StatsOptions:
    """Returns the statistics options every run uses.

    Args:
        schema: The schema; with it, integer columns marked categorical (``correct``) get
            categorical statistics (value counts), which L-infinity drift needs: without it
            TFDV computes numeric statistics for them and reports an L-infinity of 0 whatever
            the shift.

    Returns:
        The options.
    """
    return tfdv.StatsOptions(
        schema=schema,
        num_histogram_buckets=NUM_HISTOGRAM_BUCKETS,
        num_quantiles_histogram_buckets=NUM_QUANTILES_HISTOGRAM_BUCKETS,
    )


def _strip_identifying(statistics: statistics_pb2.DatasetFeatureStatisticsList) -> None:
    """Removes per-value entries of identifying features in place.

    Args:
        statistics: The statistics.
    """
    for dataset in statistics.datasets:
        for feature in dataset.features:
            name = feature.path.step[-1] if feature.path.step else feature.name
            if name in IDENTIFYING_FEATURES and feature.HasField("string_stats"):
                del feature.string_stats.top_values[:]
                feature.string_stats.ClearField("rank_histogram")


def _from_beam(
    parquet_uri: str, beam_pipeline_args: Sequence[str], options: tfdv.StatsOptions
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Computes statistics with a Beam pipeline over a Parquet file.

    Args:
        parquet_uri: The Parquet file (local or gs://; remote runners need gs://).
        beam_pipeline_args: Beam pipeline options.
        options: Statistics options.

    Returns:
        The statistics.
    """
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    def to_batches(table: object) -> list[object]:
        return [table_util.CanonicalizeRecordBatch(b) for b in table.to_batches()]  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stats.pb")
        with beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args))) as pipeline:
            _ = (
                pipeline
                | "ReadParquet" >> beam.io.ReadFromParquetBatched(parquet_uri)
                | "ToRecordBatches" >> beam.FlatMap(to_batches)
                | "GenerateStatistics" >> tfdv.GenerateStatistics(options)
                | "Write" >> tfdv.WriteStatisticsToBinaryFile(out)
            )
        return tfdv.load_stats_binary(out)


def read_table(uri: str) -> pa.Table:
    """Reads a Parquet table as Arrow (no pandas conversion: TFDV consumes Arrow).

    Args:
        uri: Local path or gs:// URI.

    Returns:
        The table, without pandas index columns.

    Raises:
        InputDataError: Missing, empty, truncated or non-Parquet file, or no rows.
    """
    data = storage.read_bytes(uri)
    if not data:
        raise InputDataError(f"{uri}: empty file")
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for the same fault
        raise InputDataError(
            f"{uri}: not a complete Parquet file (truncated or another format): "
            f"{type(exc).__name__}"
        ) from exc
    hidden = [n for n in table.column_names if n.startswith("__index_level_")]
    if hidden:
        table = table.drop(hidden)
    if table.num_rows == 0:
        raise InputDataError(f"{uri}: Parquet file with no rows")
    return table


def _from_arrow(
    table: pa.Table, options: tfdv.StatsOptions
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Computes statistics of an Arrow table in process.

    Args:
        table: The table.
        options: Statistics options.

    Returns:
        The statistics.
    """
    batch = table.combine_chunks().to_batches()[0]
    return stats_impl.generate_statistics_in_memory(
        table_util.CanonicalizeRecordBatch(batch), options
    )


def generate_statistics(
    table: pa.Table | pd.DataFrame,
    parquet_uri: str | None = None,
    beam_pipeline_args: Sequence[str] = (),
    schema: schema_pb2.Schema | None = None,
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Computes the statistics of a canonical table.

    Args:
        table: The table in memory (Arrow, as read by :func:`read_table`, or pandas).
        parquet_uri: The same table as a Parquet file (used with Beam options).
        beam_pipeline_args: Beam options; empty means in process.
        schema: The schema (see :func:`stats_options`).

    Returns:
        The statistics, identifying top values removed.

    Raises:
        QuizopsError: The example count differs from the row count.
        InputDataError: Beam options given without a Parquet file.
    """
    rows = len(table)
    if beam_pipeline_args:
        if not parquet_uri:
            raise InputDataError("Beam pipeline options need the table as a Parquet file")
        logger.info("statistics on Beam with options %s", list(beam_pipeline_args))
        statistics = _from_beam(parquet_uri, beam_pipeline_args, stats_options(schema))
    elif isinstance(table, pa.Table):
        statistics = _from_arrow(table, stats_options(schema))
    else:
        statistics = tfdv.generate_statistics_from_dataframe(table, stats_options(schema))
    count = statistics.datasets[0].num_examples if statistics.datasets else 0
    if count != rows:
        raise QuizopsError(f"statistics count {count} examples but the table has {rows} rows")
    _strip_identifying(statistics)
    return statistics


def to_bytes(statistics: statistics_pb2.DatasetFeatureStatisticsList) -> bytes:
    """Serializes statistics (binary protobuf, as TFX's StatisticsGen writes them).

    Args:
        statistics: The statistics.

    Returns:
        The bytes.
    """
    return statistics.SerializeToString()


def from_bytes(data: bytes, source: str) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Parses binary statistics.

    Args:
        data: The bytes.
        source: Where they came from, for messages.

    Returns:
        The statistics.

    Raises:
        InputDataError: The bytes are not statistics.
    """
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    try:
        statistics.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError
        raise InputDataError(f"{source}: not TFDV statistics: {exc}") from exc
    if not statistics.datasets:
        raise InputDataError(f"{source}: statistics without a dataset")
    return statistics


def write_statistics(
    statistics: statistics_pb2.DatasetFeatureStatisticsList, path: str | os.PathLike[str]
) -> None:
    """Writes binary statistics to a local file.

    Args:
        statistics: The statistics.
        path: Destination.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(to_bytes(statistics))
