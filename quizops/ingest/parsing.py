"""Strict, value-free parsing of delimited text and Parquet bytes into frames.

Every reader in :mod:`quizops.ingest` goes through these helpers so that bad inputs (empty
files, truncated files, non-UTF-8 bytes, columns that do not hold numbers) fail the same way: an
:class:`~quizops.errors.InputDataError` that names the file, the column and the data row numbers,
and never a value (the raw logs hold e-mails, names and phone numbers).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import re
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from quizops.errors import InputDataError

logger = logging.getLogger(__name__)

#: How many offending data row numbers an error message lists.
MAX_ROWS_IN_MESSAGE = 5
#: The default source encoding: UTF-8, or a Western single-byte code page for a file with no
#: UTF-8 character at all (see :func:`decode_text`).
AUTO_ENCODING = "auto"
#: A UTF-8 multi-byte character (lead byte and its continuation bytes).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
#: Field delimiters recognised, in the order tried: the comma of the sources' own exports, then
#: the semicolon of spreadsheets saved in locales whose decimal mark is a comma, then tab and
#: the vertical bar of database dumps.
DELIMITERS = (",", ";", "\t", "|")


def detect_delimiter(header_line: str, required: Sequence[str]) -> str:
    """The delimiter whose split of the header line names every required column.

    A file exported by the source itself is comma-separated; the same file opened and saved
    by a spreadsheet in a locale that writes decimal commas is semicolon-separated, and a
    database dump may be tab- or bar-separated. The header decides, so a data row's contents
    never do.

    Args:
        header_line: The file's first line, without its line end.
        required: Columns the header must name.

    Returns:
        The first of :data:`DELIMITERS` under which the header names every required column;
        the comma when none does (the caller then reports the missing columns).
    """
    for delimiter in DELIMITERS:
        fields = next(csv.reader([header_line], delimiter=delimiter), [])
        names = {f.strip() for f in fields}
        if len(fields) > 1 and all(c in names for c in required):
            return delimiter
    return ","


def decompress(data: bytes, source: str) -> bytes:
    """Gunzips ``data`` when ``source`` ends in ``.gz``.

    Args:
        data: The file's bytes.
        source: The file's name or URI (the suffix decides).

    Returns:
        The (decompressed) bytes.

    Raises:
        InputDataError: The gzip stream is truncated or corrupt.
    """
    if not source.endswith(".gz"):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputDataError(
            f"{source}: truncated or corrupt gzip file ({type(exc).__name__})"
        ) from exc


def decode_text(data: bytes, source: str, encoding: str = AUTO_ENCODING) -> str:
    """Decodes bytes (a UTF-8 byte-order mark is dropped).

    A named encoding is strict. :data:`AUTO_ENCODING` reads UTF-16 when the bytes start with
    its byte-order mark (a spreadsheet's "Unicode text" export), else UTF-8, or, when they are not
    UTF-8 and hold no UTF-8 multi-byte character at all (a file written by a tool set to a
    Western single-byte code page, such as the ASSISTments 2009 export), Windows-1252 (Latin-1
    where a byte is undefined in it), with a warning that names the first byte that is not
    UTF-8. Bytes that are partly UTF-8 are a damaged file, not another encoding: refused.

    Args:
        data: The bytes.
        source: File name or URI, for messages.
        encoding: The text encoding the file is declared to use, or :data:`AUTO_ENCODING`.

    Returns:
        The text.

    Raises:
        InputDataError: The bytes are not valid in ``encoding`` (with ``auto``: not UTF-8 and
            partly UTF-8); the message gives the byte offset and line, not the bytes around it.
    """
    if encoding.strip().lower() == AUTO_ENCODING:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # Spreadsheets' "Unicode text" export: UTF-16 with its byte-order mark (and tabs).
            return decode_text(data, source, "utf-16")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            if _UTF8_MULTIBYTE.search(data):
                raise InputDataError(
                    f"{source}: not valid utf-8 text (undecodable byte at offset {exc.start}, "
                    f"line {line}), though other characters in it are UTF-8: a damaged file, or "
                    "name its encoding"
                ) from exc
            codec = "cp1252"
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                codec, text = "latin-1", data.decode("latin-1")
            logger.warning(
                "%s: not UTF-8 (first byte that is not at offset %d, line %d) and no UTF-8 "
                "character in it: read as %s; name the encoding to be sure",
                source, exc.start, line, codec,
            )  # fmt: skip
            return text
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputDataError(
            f"{source}: not valid {encoding} text (undecodable byte at offset {exc.start}, "
            f"line {line}); re-encode the file as UTF-8 or name its encoding"
        ) from exc
    except LookupError as exc:
        raise InputDataError(f"{source}: unknown text encoding '{encoding}'") from exc


def read_delimited(
    data: bytes,
    source: str,
    required: Sequence[str],
    encoding: str = AUTO_ENCODING,
    numeric: Sequence[str] = (),
    optional: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Parses CSV bytes into a frame of strings (empty fields become missing values).

    Fields may be separated by commas, semicolons (then numbers may have decimal commas), tabs
    or vertical bars: :func:`detect_delimiter` reads which from the header.

    Args:
        data: The file's bytes (gzip when ``source`` ends in ``.gz``).
        source: File name or URI, for messages.
        required: Columns the header must name.
        encoding: Text encoding of the file.
        numeric: Columns to parse as float64 in the C parser (fast path). When one of them holds
            text the file is parsed again as strings, so that :func:`numeric_column` can report
            the column and rows without the parser's message (which quotes the value).
        optional: With a list, only ``required`` and these columns are parsed (wide exports
            such as ASSISTments' 31 columns parse faster); None parses every column.

    Returns:
        A frame whose columns hold strings or ``NaN`` (floats for ``numeric`` columns); its
        ``attrs["decimal"]`` is ``","`` when the file separates fields by semicolons.

    Raises:
        InputDataError: The file is empty, has no data rows, is not valid text, is truncated
            (the last line stops mid-row), has malformed rows, or lacks a required column.
    """
    text = decode_text(decompress(data, source), source, encoding)
    if not text.strip():
        raise InputDataError(f"{source}: empty file (no header, no rows)")
    header_line = text.split("\n", 1)[0].rstrip("\r")
    delimiter = detect_delimiter(header_line, required)
    if delimiter != ",":
        logger.info("%s: fields separated by %r (read from the header)", source, delimiter)
    raw_header = next(csv.reader([header_line], delimiter=delimiter), [])
    header = [h.strip() for h in raw_header]
    missing = [c for c in required if c not in header]
    if missing:
        # The header is not listed: in a file without one, the first line holds a row's data.
        present = [c for c in required if c in header]
        raise InputDataError(
            f"{source}: missing required column(s) {missing}; the first line has "
            f"{len(header)} field(s) and names {len(present)} of the {len(required)} required "
            f"column(s){' ' + str(present) if present else ''} (a file without a header line, "
            "or another export format? fields may be separated by commas, semicolons, tabs "
            "or vertical bars)"
        )
    wanted = None if optional is None else {*required, *optional}
    try:
        df = _parse(text, raw_header, numeric, wanted, delimiter)
    except pd.errors.EmptyDataError as exc:
        raise InputDataError(f"{source}: empty file (no header, no rows)") from exc
    except pd.errors.ParserError as exc:
        raise InputDataError(
            f"{source}: malformed CSV (a truncated file or a stray delimiter/quote): "
            f"{_tokenizer_problem(exc)}"
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise InputDataError(f"{source}: header only, no data rows")
    _check_not_truncated(text, len(header), source, delimiter)
    if delimiter == ";":
        df.attrs["decimal"] = ","  # for numeric_column: columns that stay text until checked
    return df


_TOKENIZER_RE = re.compile(r"Expected \d+ fields in line \d+, saw \d+|EOF inside string[^.']*")


def _tokenizer_problem(exc: Exception) -> str:
    """The line and field counts of a tokenizer error, without any text it may quote."""
    m = _TOKENIZER_RE.search(str(exc))
    return m.group() if m else type(exc).__name__


def _parse(
    text: str,
    header: Sequence[str],
    numeric: Sequence[str],
    wanted: set[str] | None,
    delimiter: str = ",",
) -> pd.DataFrame:
    """Runs pandas' C parser: numeric columns as floats if they all parse, else all strings.

    Args:
        text: The decoded file.
        header: The header's column names as written.
        numeric: Columns to try as float64.
        wanted: Columns to parse (None: all).
        delimiter: Field delimiter (:func:`detect_delimiter`).

    Returns:
        The frame.
    """
    options: dict = {
        "keep_default_na": False,
        "na_values": [""],
        "low_memory": False,
        "sep": delimiter,
        # A spreadsheet that separates fields by semicolons writes decimal commas.
        "decimal": "," if delimiter == ";" else ".",
    }
    if wanted is not None:
        options["usecols"] = lambda c: str(c).strip() in wanted
    if numeric:
        floats = set(numeric)
        dtypes = {c: "float64" if c.strip() in floats else str for c in header}
        try:
            return pd.read_csv(io.StringIO(text), dtype=dtypes, **options)
        except (ValueError, TypeError):
            logger.debug("a numeric column holds text; parsing every column as text")
    return pd.read_csv(io.StringIO(text), dtype=str, **options)


def _check_not_truncated(text: str, n_columns: int, source: str, delimiter: str = ",") -> None:
    """Fails when the text does not end with a newline and its last row is short.

    Args:
        text: The whole decoded file.
        n_columns: Number of header columns.
        source: File name or URI, for messages.
        delimiter: Field delimiter.

    Raises:
        InputDataError: The last line stops before its last field.
    """
    if text.endswith(("\n", "\r")):
        return
    last_line = text.rsplit("\n", 1)[-1]
    fields = next(csv.reader([last_line], delimiter=delimiter), [])
    if len(fields) < n_columns:
        line = text.count("\n") + 1
        raise InputDataError(
            f"{source}: truncated file: the last line ({line}) has {len(fields)} of "
            f"{n_columns} fields and no line end"
        )


def read_parquet_bytes(data: bytes, source: str) -> pd.DataFrame:
    """Reads Parquet bytes.

    Args:
        data: The file's bytes.
        source: File name or URI, for messages.

    Returns:
        The frame.

    Raises:
        InputDataError: The bytes are empty or not a complete Parquet file.
    """
    if not data:
        raise InputDataError(f"{source}: empty file")
    try:
        df = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for the same fault
        raise InputDataError(
            f"{source}: not a complete Parquet file (truncated or another format): "
            f"{type(exc).__name__}"
        ) from exc
    if df.empty:
        raise InputDataError(f"{source}: Parquet file with no rows")
    return df


def _row_numbers(mask: pd.Series) -> str:
    """Formats the 1-based data row numbers of the true entries of a mask.

    Args:
        mask: Boolean series aligned with a frame read by :func:`read_delimited`.

    Returns:
        Text such as ``"data rows [3, 9] and 4 more"``.
    """
    positions = np.flatnonzero(mask.to_numpy()) + 1
    shown = positions[:MAX_ROWS_IN_MESSAGE].tolist()
    more = len(positions) - len(shown)
    return f"data row(s) {shown}" + (f" and {more} more" if more else "")


def numeric_column(
    df: pd.DataFrame, column: str, source: str, *, integer: bool, required: bool
) -> pd.Series:
    """Converts a column of strings (or numbers) to numbers, failing on anything else.

    In a frame read from a semicolon-separated file (``df.attrs["decimal"] == ","``) a decimal
    comma is read as the decimal point.

    Args:
        df: The frame.
        column: Column name.
        source: File name or URI, for messages.
        integer: The values must be whole numbers.
        required: Every row must hold a value.

    Returns:
        A float64 series (missing values as NaN); callers cast whole-number columns.

    Raises:
        InputDataError: Some values are not numbers, not whole numbers, or missing.
    """
    raw = df[column]
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("float64")
        bad = pd.Series(False, index=raw.index)
    else:
        text = raw
        if df.attrs.get("decimal") == ",":  # a semicolon-separated file: 0,25 is 0.25
            text = raw.astype("string").str.replace(",", ".", regex=False)
        values = pd.to_numeric(text, errors="coerce").astype("float64")
        bad = raw.notna() & values.isna()
    if bad.any():
        raise InputDataError(
            f"{source}: column '{column}' must hold numbers; {int(bad.sum())} value(s) do not "
            f"({_row_numbers(bad)})"
        )
    if integer:
        fractional = values.notna() & (values != np.floor(values))
        if fractional.any():
            raise InputDataError(
                f"{source}: column '{column}' must hold whole numbers; "
                f"{int(fractional.sum())} value(s) do not ({_row_numbers(fractional)})"
            )
    if required and values.isna().any():
        empty = values.isna()
        raise InputDataError(
            f"{source}: column '{column}' has {int(empty.sum())} empty value(s) "
            f"({_row_numbers(empty)})"
        )
    return values


def string_column(df: pd.DataFrame, column: str) -> pd.Series:
    """Returns a column as pandas' nullable string dtype, blanks as missing.

    Args:
        df: The frame.
        column: Column name.

    Returns:
        The string series.
    """
    return map_unique(df[column], _strip_blank)


def _strip_blank(values: pd.Series) -> pd.Series:
    stripped = values.astype("string").str.strip()
    return stripped.mask(stripped == "")


def map_unique(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Applies a string transformation once per distinct value (ids repeat a lot).

    Args:
        values: The column.
        func: Maps a series of distinct non-missing values to new values (same length).

    Returns:
        A nullable string series aligned with ``values``.
    """
    codes, uniques = pd.factorize(values)
    mapped = func(pd.Series(uniques, dtype="object")).astype("string").to_numpy()
    out = pd.array(np.append(mapped, pd.NA)[codes], dtype="string")  # code -1 -> missing
    return pd.Series(out, index=values.index)
