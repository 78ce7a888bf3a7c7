"""The one reader of a user's CSV/TSV table, with a diagnosis of what is wrong.

Stage 2 (``shared.data.userfile``, whole), the out-of-core engine (``shared.data.chunks``,
in chunks), the batch command (``shared.serving.predict``) and its Dask path read a
user's file with the same parser options and refuse it with the same errors,
each naming the file and, where it applies, the line:

- a file that is not a text table (an image, a PDF, an Excel workbook, UTF-16
  text, binary data) is refused with what it seems to be;
- CSV/TSV must be UTF-8 (a byte-order mark is allowed and removed); another
  encoding is refused with the byte position and the line;
- the header is read as a record, so its width bounds every row: a row with
  more fields than the header (an unquoted delimiter) is an error naming its
  line, never a row whose values are silently shifted (pandas' default makes
  the extra first field an index); a quote never closed is named too;
- every value is a string ('' where a field is missing), blank lines are rows.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import os
import re
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pandas as pd

from shared.core.records import DataSourceError

# What a file that is not a text table starts with.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one); save the sheet as "
                    "'CSV UTF-8' instead"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls or other Office document; save the sheet as "
                          "'CSV UTF-8' instead"),
    (b"\x1f\x8b", "gzip-compressed; unpack it first"),
    (b"PAR1", "a Parquet file; give it the .parquet suffix"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text'); re-save it as 'CSV UTF-8'"),
    (b"\xfe\xff", "UTF-16 text; re-save it as UTF-8"),
)
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _refuse_non_text(path: Path, data: bytes) -> None:
    if not data:
        raise DataSourceError(
            f"{path}: the file is empty (0 bytes); it needs a header line such as "
            "'text,label' and one labelled text per line"
        )
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataSourceError(f"{path}: not a CSV/TSV text table: it is {what}")
    if b"\x00" in data[:65536]:
        position = data.index(b"\x00")
        raise DataSourceError(
            f"{path}: not a CSV/TSV text table: it holds NUL bytes (the first at byte "
            f"{position}), so it is a binary file; export the table as 'CSV UTF-8'"
        )


def _decode_utf8(path: Path, data: bytes) -> str:
    """The file's text; a byte-order mark is removed, other encodings are refused."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = error.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        byte = data[start]
        try:
            character = bytes([byte]).decode("cp1252")
            as_cp1252 = f", which in Windows-1252/Latin-1 would be {character!r}"
        except UnicodeDecodeError:
            as_cp1252 = ""
        raise DataSourceError(
            f"{path}: not valid UTF-8: byte 0x{byte:02X} at position {start} (line {line}, "
            f"column {column}){as_cp1252}. The file was probably saved as Latin-1/Windows-1252. "
            "Re-save it as UTF-8 (Excel: 'CSV UTF-8'; or `iconv -f cp1252 -t utf-8 IN > OUT`) "
            "and load it again; nothing is guessed, so that no character is read wrong."
        ) from None


def _read_csv(source: object, delimiter: str, chunk_rows: int | None = None) -> object:
    """pandas' reader with the one set of options every user's table is read with.

    The header is read as a record (``header=None``) so that its width bounds
    every row: with ``header=0`` pandas silently turns the first field of rows
    that have one field too many into an index, shifting their values. Every
    value is a string and blank lines are rows.
    """
    return pd.read_csv(source, sep=delimiter, header=None, dtype=object, keep_default_na=False,
                       skip_blank_lines=False, chunksize=chunk_rows)


def _header(path: Path, table: pd.DataFrame, header_line: str) -> list[str]:
    """The column names of the first record, refusing a name given twice."""
    header = [value if isinstance(value, str) else "" for value in table.iloc[0]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataSourceError(
            f"{path}: the header line names column(s) {repeated} more than once "
            f"({header_line[:80]!r}); give every column its own name"
        )
    return header


def _parse_csv(path: Path, text: str, delimiter: str, header_line: str) -> pd.DataFrame:
    """Every record of the text as strings; the first line names the columns."""
    try:
        table = _read_csv(io.StringIO(text), delimiter)
    except (ValueError, csv.Error) as error:  # pandas' parser errors are ValueErrors
        raise _table_error(path, delimiter, header_line, error) from None
    header = _header(path, table, header_line)
    raw = table.iloc[1:].reset_index(drop=True)
    raw.columns = header
    return raw


_NO_HEADER = ("{path}: no header line (the file holds only blank lines); it needs a header such "
              "as 'text,label' and one labelled text per line")


def delimiter_for(path: str | os.PathLike[str], sep: str | None = None) -> str:
    """The delimiter of a user's file: ``sep``, else tab for .tsv/.tab, else a comma."""
    return sep or ("\t" if Path(path).suffix.lower() in (".tsv", ".tab") else ",")


def iter_csv(
    path: str | os.PathLike[str], *, sep: str | None = None, chunk_rows: int = 50_000,
    required: tuple[str | None, ...] = (),
) -> Iterator[pd.DataFrame]:
    """The records of a user's CSV/TSV file, ``chunk_rows`` at a time, in little memory.

    Each chunk has the header's columns, every value a string ('' for a
    missing one, blank lines included as rows). The file is refused
    (DataSourceError naming the file, and the line where it applies) exactly
    as stage 2 refuses it: not a text table, not UTF-8, no header, a column
    named twice or missing from ``required``, a row with more fields than the
    header, a quote never closed. Rows are checked as they are read, so a
    refusal may come after earlier chunks were yielded.
    """
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(f"{path}: no such file; check the path")
    with open(path, "rb") as handle:
        head = handle.read(65536)
    _refuse_non_text(path, head)
    delimiter = delimiter_for(path, sep)
    header: list[str] | None = None
    header_line = ""
    try:
        with open(path, encoding="utf-8-sig", newline="") as text:
            header_line = text.readline().rstrip("\r\n")
            text.seek(0)
            for table in _read_csv(text, delimiter, chunk_rows):
                if header is None:
                    header = _header(path, table, header_line)
                    _check_columns(path, pd.DataFrame(columns=header), required, delimiter,
                                   header_line)
                    table = table.iloc[1:]
                table = table.reset_index(drop=True)
                table.columns = header
                yield table
    except UnicodeDecodeError:
        raise DataSourceError(_encoding_message(path)) from None
    except (ValueError, csv.Error) as error:  # pandas' parser errors are ValueErrors
        raise _table_error(path, delimiter, header_line, error) from None


def _table_error(path: Path, delimiter: str, header_line: str, error: Exception
                 ) -> DataSourceError:
    """The refusal of a file the parser could not read: no header, a row the parser stopped
    at (naming its line), or anything else it said."""
    if isinstance(error, pd.errors.EmptyDataError):
        return DataSourceError(_NO_HEADER.format(path=path))
    if isinstance(error, pd.errors.ParserError):
        return DataSourceError(_parser_message(path, delimiter, header_line, error))
    return DataSourceError(f"{path}: cannot be read as a table ({error})")


def _encoding_message(path: Path) -> str:
    """Where the first byte that is not UTF-8 is, found by decoding the file in blocks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                start = offset + error.start
                line = lines + block.count(b"\n", 0, error.start) + 1
                return (f"{path}: not valid UTF-8: byte 0x{block[error.start]:02X} at position "
                        f"{start} (line {line}). Re-save it as UTF-8 (Excel: 'CSV UTF-8'; or "
                        "`iconv -f cp1252 -t utf-8 IN > OUT`) and load it again; nothing is "
                        "guessed, so that no character is read wrong.")
            offset += len(block)
            lines += block.count(b"\n")
    return f"{path}: not valid UTF-8; re-save it as UTF-8"


def _records(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of every record of the file, read the way pandas reads
    them, one at a time (a diagnosis must not need the file in memory)."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            line = 0
            for fields in reader:
                yield line + 1, fields
                line = reader.line_num
    finally:
        csv.field_size_limit(old_limit)


def _line(path: Path, number: int) -> str:
    """Line ``number`` (1-based) of the file, without its end."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        found = next(islice(handle, number - 1, None), "")
    return found.rstrip("\r\n")


def _parser_message(path: Path, delimiter: str, header_line: str, error: Exception) -> str:
    """Say which line breaks the table, and why, from pandas' terse ParserError."""
    name = _DELIMITERS.get(delimiter, repr(delimiter))
    hint = _delimiter_hint(delimiter, header_line)
    message = str(error).strip()
    records = _records(path, delimiter) if len(delimiter) == 1 else iter(())
    unclosed = re.search(r"EOF inside string starting at row (\d+)", message)
    try:
        if unclosed:
            index = int(unclosed.group(1))
            found = next(islice(records, index, None), None)
            line = found[0] if found is not None else index + 1
            return (
                f"{path}: line {line} opens a double quote that is never closed, so the rest "
                f"of the file would be read as one text: {_line(path, line)[:120]!r}. Double "
                'every quote inside a text ("") or remove the stray one.' + hint
            )
        first = next(records, None)
        width = len(first[1]) if first is not None else 0
        bad: list[tuple[int, list[str]]] = []
        count = 0
        for line, fields in records:  # counts every wide line, keeps the first 11
            if len(fields) > width:
                count += 1
                if len(bad) < 11:
                    bad.append((line, fields))
    except csv.Error:
        bad = []
    if bad:
        line, fields = bad[0]
        more = ""
        if count > 1:
            others = ", ".join(str(b[0]) for b in bad[1:11])
            more = f" {count - 1} more line(s) have too many fields too: {others}."
        return (
            f"{path}: line {line} has {len(fields)} fields but the header has {width} "
            f"({header_line[:80]!r}): {_line(path, line)[:120]!r}.{more} A text that contains "
            f"the delimiter ({name} {delimiter!r}) must be wrapped in double quotes; fix or "
            "remove those lines." + hint
        )
    return f"{path}: cannot be read as a table ({message}).{hint}"


def _delimiter_hint(delimiter: str, header_line: str) -> str:
    """Advice when the header line seems split by another delimiter than ``delimiter``."""
    if not delimiter:
        return ""
    counts = {d: header_line.count(d) for d in _DELIMITERS if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0 or header_line.count(delimiter) >= counts[best]:
        return ""
    name = _DELIMITERS[best]
    fix = (
        "name the file .tsv"
        if best == "\t"
        else "re-save it comma-separated (Excel: 'CSV UTF-8 (Comma delimited)')"
    )
    return (
        f" The file seems to use {best!r} ({name}) as its delimiter, not {delimiter!r}: its "
        f"header line is {header_line[:80]!r}. To fix it, {fix}, or from Python pass "
        f"sep={best!r} to load_file."
    )


def _check_columns(
    path: Path,
    raw: pd.DataFrame,
    wanted: tuple[str | None, ...],
    delimiter: str,
    header_line: str,
) -> None:
    columns = [str(c) for c in raw.columns]
    missing = [c for c in wanted if c and c not in raw.columns]
    if not missing:
        return
    guesses = []
    for name in missing:
        close = [c for c in columns if c.strip().casefold() == name.strip().casefold()]
        close += [
            c for c in difflib.get_close_matches(name, columns, n=2, cutoff=0.75)
            if c not in close
        ]
        if close:
            guesses.append(f"{' or '.join(map(repr, close))} for {name!r}")
    guess = f" Did you mean {', '.join(guesses)}?" if guesses else ""
    raise DataSourceError(
        f"{path}: column(s) {missing} not found; the file has {columns}.{guess} "
        "Name the right ones with text_column= / label_column= (the notebook parameters; "
        "runner: -p text_column NAME)." + _delimiter_hint(delimiter, header_line)
    )
