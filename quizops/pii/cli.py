"""``quizops pii-scan``: de-identify any CSV or Parquet table and write a report.

Any table is accepted, with any column names (``--source-format auto``, the default): each
column is classified by its name and content (identifier, person name, contact, national id,
date of birth, address, network id, free text, non-personal) and handled by its class unless
the policy names it: identifiers pseudonymized (HMAC-SHA256), free text redacted, non-personal
columns kept after a scan, every other kind of personal data dropped. A table that holds every
canonical column is read as the canonical table (``--source-format canonical`` insists on it).

Exit status 0 when the output is clean after the policy's actions, 3 when personal data is left
unhandled (nothing written), 2 on bad input: empty file, not UTF-8, a line longer than
``--max-line-bytes`` (checked while streaming, before anything is parsed), a first line that
holds data rather than column names, malformed canonical columns (nothing written).
``--source-format assistments|ednet`` reads a raw export with the ingest readers.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import functools
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from quizops import storage
from quizops.canonical import CANONICAL_COLUMNS, conform
from quizops.errors import InputDataError
from quizops.home import PII_KEY_ENV, PII_KEY_FILE_ENV, ensure_key_file, load_pii_key, local_home
from quizops.pii.deidentify import deidentify_frame, deidentify_table
from quizops.pii.entities import EMAIL, IP_ADDRESS, PHONE, URL, US_SSN
from quizops.pii.policy import load_policy
from quizops.pii.report import render_html, render_markdown, report_json
from quizops.pii.scanner import TextScanner

logger = logging.getLogger(__name__)

#: Longest CSV line accepted (bytes); a longer one is bad input, found without loading it.
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the ``pii-scan`` subcommand.

    Args:
        subparsers: The dispatcher's subparsers.
    """
    parser = subparsers.add_parser(
        "pii-scan",
        help="de-identify an interaction table (CSV or Parquet, local or gs://)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="CSV or Parquet file (local path or gs:// URI)")
    parser.add_argument("--report", required=True, help="where to write the JSON report")
    parser.add_argument("--output", required=True, help="where to write the clean Parquet table")
    parser.add_argument("--policy", default=None, help="policy file (JSON or YAML)")
    parser.add_argument("--markdown", default=None, help="also write the report as Markdown")
    parser.add_argument("--html", default=None, help="also write the report as HTML")
    parser.add_argument(
        "--format", choices=("auto", "csv", "parquet"), default="auto", help="input format"
    )
    parser.add_argument(
        "--source-format",
        choices=("auto", "any", "canonical", "assistments", "ednet"),
        default="auto",
        help="layout of the input: auto (default: the canonical table when every canonical "
        "column is there, else any table), any (any table), canonical, or a raw export read "
        "with the ingest readers first",
    )
    parser.add_argument(
        "--encoding",
        default="utf-8",
        help="text encoding of a CSV input (default utf-8; e.g. latin-1, cp1252, shift_jis)",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=int,
        default=DEFAULT_MAX_LINE_BYTES,
        help="longest CSV line accepted (default 16 MiB)",
    )
    parser.set_defaults(handler=run_pii_scan)


def cli_key() -> bytes:
    """The key for the command line: the environment, else the local home's key file.

    Returns:
        The key bytes.
    """
    if os.environ.get(PII_KEY_ENV) or os.environ.get(PII_KEY_FILE_ENV):
        return load_pii_key()
    home = local_home()
    home.keys.mkdir(parents=True, exist_ok=True)
    os.chmod(home.keys, 0o700)
    path = ensure_key_file(home.pii_key_file)
    value = path.read_text().strip()
    try:
        return bytes.fromhex(value)
    except ValueError:
        return value.encode()


@contextlib.contextmanager
def local_copy(uri: str) -> Iterator[Path]:
    """Yields a local path for a local file or a gs:// object (streamed to a temporary file).

    Args:
        uri: Local path or gs:// URI.

    Yields:
        The local path.

    Raises:
        InputDataError: The file or object does not exist.
    """
    if not storage.is_gcs(uri):
        path = Path(uri)
        if not path.is_file():
            raise InputDataError(f"{uri}: no such file")
        yield path
        return
    from google.api_core.exceptions import NotFound

    bucket, name = storage.split_gcs(uri)
    with tempfile.TemporaryDirectory(prefix="quizops-pii-") as tmp:
        target = Path(tmp, Path(name).name or "input")
        try:
            storage.gcs_client().bucket(bucket).blob(name).download_to_filename(str(target))
        except NotFound as exc:
            raise InputDataError(f"{uri}: no such object") from exc
        yield target


def check_text_file(path: Path, source: str, max_line_bytes: int, encoding: str = "utf-8") -> None:
    """Streams a text file once: it must be non-empty text in its encoding, no over-long line.

    Args:
        path: The local file.
        source: Name for messages.
        max_line_bytes: Longest line accepted.
        encoding: The text encoding the file is declared to use.

    Raises:
        InputDataError: Empty, not valid in ``encoding`` (UTF-8 by default), or a line is too
            long.
    """
    if path.stat().st_size == 0:
        raise InputDataError(f"{source}: the file is empty")
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise InputDataError(f"{source}: unknown text encoding '{encoding}'") from None
    label = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
    line_length = 0
    line_number = 1
    offset = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            last_newline = chunk.rfind(b"\n")
            if last_newline < 0:
                line_length += len(chunk)
            else:
                first = chunk.find(b"\n")
                longest = max(
                    line_length + first,
                    max((len(x) for x in chunk[first + 1 : last_newline].split(b"\n")), default=0),
                )
                if longest > max_line_bytes:
                    raise InputDataError(
                        f"{source}: a line near line {line_number} is longer than "
                        f"{max_line_bytes} bytes; split the record or raise --max-line-bytes"
                    )
                line_number += chunk.count(b"\n")
                line_length = len(chunk) - last_newline - 1
            if line_length > max_line_bytes:
                raise InputDataError(
                    f"{source}: line {line_number} is longer than {max_line_bytes} bytes "
                    "(stopped reading there); split the record or raise --max-line-bytes"
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise InputDataError(
                    f"{source}: not {label} text (bad byte at offset {offset + exc.start}); "
                    "re-export the file as UTF-8 or name its encoding with --encoding"
                ) from exc
            offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise InputDataError(
            f"{source}: not {label} text (truncated character at the end)"
        ) from exc


def read_frame(
    uri: str,
    fmt: str = "auto",
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Reads a CSV (every cell as text) or Parquet table as it is, checking it before parsing.

    Args:
        uri: Local path or gs:// URI.
        fmt: ``csv``, ``parquet`` or ``auto`` (by extension, then by the Parquet magic bytes).
        max_line_bytes: Longest CSV line accepted.
        encoding: Text encoding of a CSV file (a UTF-8 byte-order mark is dropped).

    Returns:
        The frame.

    Raises:
        InputDataError: The input is empty, unreadable, not UTF-8, has no rows, or its first
            line holds data rather than column names.
    """
    with local_copy(uri) as path:
        if path.stat().st_size == 0:
            raise InputDataError(f"{uri}: the file is empty")
        if fmt == "auto":
            with path.open("rb") as handle:
                magic = handle.read(4)
            fmt = "parquet" if magic == b"PAR1" or path.suffix in (".parquet", ".pq") else "csv"
        if fmt == "parquet":
            try:
                df = pd.read_parquet(path)
            except Exception as exc:  # pyarrow raises several unrelated types
                raise InputDataError(
                    f"{uri}: not a readable Parquet file ({type(exc).__name__})"
                ) from None
        else:
            check_text_file(path, uri, max_line_bytes, encoding)
            codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
            try:
                df = pd.read_csv(
                    path, dtype=str, keep_default_na=False, na_values=[""], encoding=codec
                )
            except pd.errors.EmptyDataError as exc:
                raise InputDataError(f"{uri}: no header or data") from exc
            except pd.errors.ParserError as exc:
                # the tokenizer's messages name line numbers and field counts, never values
                raise InputDataError(f"{uri}: not a readable CSV file: {exc}") from exc
            except ValueError:
                raise InputDataError(f"{uri}: not a readable CSV file") from None
            check_header(list(df.columns), uri)
    if df.empty:
        raise InputDataError(f"{uri}: the table has no rows")
    df.columns = [str(c).strip() for c in df.columns]
    return df


_HEADER_NAME_RE = re.compile(r"^[^\W\d][\w .()/#%-]{0,63}$")


def check_header(header: list[str], source: str) -> None:
    """Fails when a CSV's first line holds data (a headerless export), naming positions only.

    A column name starts with a letter or underscore, is at most 64 characters, and holds no
    e-mail, phone number or other entity; pandas names a blank header cell ``Unnamed: N``.

    Args:
        header: The first line's cells.
        source: Name for messages.

    Raises:
        InputDataError: Some cells are not column names (their positions are listed, never
            their text).
    """
    scanner = _header_scanner()
    bad = [
        i + 1
        for i, name in enumerate(header)
        if not str(name).startswith("Unnamed: ")
        and (not _HEADER_NAME_RE.match(str(name).strip()) or scanner.scan(str(name)))
    ]
    if bad:
        raise InputDataError(
            f"{source}: the first line does not look like a header: {len(bad)} of {len(header)} "
            f"cell(s) (position(s) {bad[:10]}) are not column names (a number, an e-mail, a "
            "phone number, ...); add a header line naming the columns"
        )


@functools.lru_cache(maxsize=1)
def _header_scanner() -> TextScanner:
    """A scanner for the values that never make a column name (names and places may)."""
    return TextScanner(entity_types=(EMAIL, PHONE, URL, IP_ADDRESS, US_SSN))


def read_input(
    uri: str, fmt: str = "auto", max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> pd.DataFrame:
    """Reads a canonical CSV or Parquet interaction table, checking it before parsing.

    Args:
        uri: Local path or gs:// URI.
        fmt: ``csv``, ``parquet`` or ``auto`` (by extension, then by the Parquet magic bytes).
        max_line_bytes: Longest CSV line accepted.

    Returns:
        The canonical columns (checked and cast) followed by any further columns (as text).

    Raises:
        InputDataError: The input is empty, unreadable, not UTF-8, or lacks canonical columns.
    """
    return canonical_frame(read_frame(uri, fmt, max_line_bytes), uri)


def canonical_frame(df: pd.DataFrame, uri: str) -> pd.DataFrame:
    """Casts the canonical columns of a table and keeps its further columns as text.

    Args:
        df: The table.
        uri: Name for messages.

    Returns:
        The canonical columns followed by any further columns.
    """
    canonical = conform(df, uri)
    extra = df[[c for c in df.columns if c not in CANONICAL_COLUMNS]].reset_index(drop=True)
    return pd.concat([canonical, extra.astype("string")], axis=1)


def typed_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Gives text columns whose every value is a number a numeric dtype (for the output).

    Identifier-like text (leading zeros, ``+``) stays text.

    Args:
        df: A frame read from CSV.

    Returns:
        A new frame.
    """
    out = df.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) or values.isna().all():
            continue
        present = values.dropna().astype(str)
        if present.str.match(r"^-?(?:0|[1-9]\d{0,17})(?:\.\d+)?$").all():
            numbers = pd.to_numeric(values, errors="coerce")
            whole = (numbers.dropna() == numbers.dropna().round()).all()
            dots = present.str.contains(".", regex=False).any()
            out[column] = numbers.astype("Int64") if whole and not dots else numbers
    return out


def read_export(uri: str, source_format: str, max_line_bytes: int) -> pd.DataFrame:
    """Reads a raw ASSISTments or EdNet export with the ingest readers.

    Args:
        uri: File or folder, local path or gs:// URI.
        source_format: ``assistments`` or ``ednet``.
        max_line_bytes: Longest line accepted in a local CSV file.

    Returns:
        The canonical frame.

    Raises:
        InputDataError: The export is bad (see :func:`quizops.ingest.read_source`).
    """
    from quizops.ingest import read_source

    path = Path(uri)
    if not storage.is_gcs(uri) and path.is_file():
        check_text_file(path, uri, max_line_bytes)
    frame = read_source(uri, source_format).frame
    if frame.empty:
        raise InputDataError(f"{uri}: the table has no rows")
    return frame


def _write_all(outputs: list[tuple[str, bytes]]) -> None:
    """Writes every output, removing those already written if one fails."""
    written: list[str] = []
    try:
        for uri, data in outputs:
            storage.write_bytes(uri, data)
            written.append(uri)
    except BaseException:
        for uri in written:
            if not storage.is_gcs(uri):
                Path(uri).unlink(missing_ok=True)
        raise


def run_pii_scan(args: argparse.Namespace) -> int:
    """Runs ``quizops pii-scan``.

    Args:
        args: Parsed arguments.

    Returns:
        0 when the output is clean (errors are raised and mapped by the dispatcher).
    """
    policy = load_policy(args.policy)
    if args.source_format in ("auto", "any", "canonical"):
        df = read_frame(args.input, args.format, args.max_line_bytes, args.encoding)
        canonical = args.source_format == "canonical" or (
            args.source_format == "auto" and all(c in df.columns for c in CANONICAL_COLUMNS)
        )
        if canonical:
            clean, report = deidentify_table(
                canonical_frame(df, args.input), cli_key(), policy, source=args.input
            )
        else:
            clean, report = deidentify_frame(df, cli_key(), policy, source=args.input, auto=True)
            clean = typed_columns(clean)
    else:
        df = read_export(args.input, args.source_format, args.max_line_bytes)
        clean, report = deidentify_table(df, cli_key(), policy, source=args.input)
    buffer = io.BytesIO()
    clean.to_parquet(buffer, index=False)
    outputs = [(args.output, buffer.getvalue()), (args.report, report_json(report).encode())]
    if args.markdown:
        outputs.append((args.markdown, render_markdown(report).encode()))
    if args.html:
        outputs.append((args.html, render_html(report).encode()))
    _write_all(outputs)
    logger.info(
        "pii-scan: %d rows clean (%s), report %s, table %s",
        report["rows"],
        report["mode"],
        args.report,
        args.output,
    )
    return 0
