"""Reading a user's own CSV, TSV or Parquet file, with a diagnosis of what is wrong.

Decisions (each is tested):

- CSV/TSV must be UTF-8 (a byte-order mark is allowed and removed). Another
  encoding is refused with the byte position, the line and the advice to
  re-save as UTF-8: guessing Windows-1252 would silently turn the text of a
  file in any other encoding into wrong characters.
- Every value is read as a string; nothing is turned into NaN by the parser.
  Blank lines are kept as rows (and then quarantined as empty texts), so that
  every line of the file is accounted for.
- A file that is not a text table (an image, a PDF, an Excel workbook, UTF-16
  text, binary data) is refused with what it seems to be.
- A row with more fields than the header is an error naming its line; when
  the header looks split by another delimiter, the error says which one.
- Which texts and labels are kept is decided later, by stage 2's validation.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import sys
from pathlib import Path

import pandas as pd

from shared.label_mapping import check_usable_labels, map_labels
from shared.records import DataSourceError, LoadedData
from shared.tasks import get_task


def load_file(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_column: str = "label",
    source_column: str | None = None,
    *,
    task: str | None = None,
    positive_label: str | None = None,
    sep: str | None = None,
    date_column: str | None = None,
) -> LoadedData:
    """A user's own CSV, TSV or Parquet file.

    Dates: the column ``date_column`` (else a column named ``date``, when the
    file has one) is carried as ``date``; validation quarantines a value that
    is not an ISO 8601 date.

    The format follows the suffix: ``.parquet`` is Parquet, ``.tsv``/``.tab``
    tab-separated, anything else comma-separated (``sep`` overrides the
    delimiter). See the module docstring for what is refused and what is
    quarantined.

    Labels: without ``positive_label`` the label column must already hold the
    task's label names (e.g. ``negative``/``positive``); other values are
    quarantined as "unknown label". With ``positive_label`` (which needs
    ``task``), labels are compared as stripped strings (a Parquet integer 1 is
    ``"1"``) and mapped:

    - the value equal to ``positive_label`` becomes the task's positive label;
    - if exactly one other distinct non-empty value occurs, it becomes the
      task's negative label;
    - with three or more distinct values, every value other than
      ``positive_label`` is left as it is, so validation quarantines it as
      "unknown label" (unless it already is one of the task's label names).

    The mapping used is recorded in ``details["label_mapping"]``. An empty
    ``positive_label`` counts as not given.

    Raises DataSourceError, naming the file, when the file cannot be read as a
    table, a column is missing, it has no data rows, ``positive_label`` does
    not occur, or no row at all carries a label the task can use.
    """
    path = Path(path)
    if positive_label is not None and not str(positive_label).strip():
        positive_label = None
    spec = get_task(task).spec if task is not None else None
    if positive_label is not None and spec is None:
        raise DataSourceError(
            f"{path.name}: positive_label={positive_label!r} needs the task, to know which "
            "labels to map to; pass task='sentiment' or task='spam'"
        )
    frame, details = _read_file(path, text_column, label_column, source_column, sep, date_column)
    if frame.empty:
        raise DataSourceError(
            f"{path}: the file has a header ({', '.join(map(str, details['columns']))}) but no "
            "data rows; add the labelled texts below the header line"
        )
    if spec is not None:
        if positive_label is not None:
            labels, mapping = map_labels(frame["label"], positive_label, spec, path, label_column)
            frame["label"] = labels
            details["label_mapping"] = mapping
        check_usable_labels(frame, spec, path, label_column, positive_label)
    return LoadedData(name=path.name, frame=frame, origin=path.name, details=details)




def read_table(
    path: str | os.PathLike[str],
    text_column: str,
    label_column: str,
    source_column: str | None = None,
    *,
    sep: str | None = None,
    date_column: str | None = None,
) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into the fixed schema, keeping every record.

    Values are read as they are (no NaN guessing on text), so that validation,
    not the parser, decides what is wrong with a row. A ``date`` column (or
    ``date_column``) is carried as ``date``.
    """
    frame, _ = _read_file(Path(path), text_column, label_column, source_column, sep, date_column)
    return frame


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


def _read_file(
    path: Path,
    text_column: str,
    label_column: str,
    source_column: str | None,
    sep: str | None,
    date_column: str | None = None,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The fixed-schema frame of a user's file, and details on how it was read."""
    if not path.is_file() and not path.is_dir():
        raise DataSourceError(f"{path}: no such file; check the path or the --dataset value")
    suffix = ".parquet" if path.is_dir() else path.suffix.lower()  # a folder of Parquet parts
    details: dict[str, object] = {"file": path.name}
    header_line = ""
    delimiter = ""
    if suffix == ".parquet":
        details["format"] = "parquet"
        try:
            raw = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many kinds; all mean "not readable"
            raise DataSourceError(
                f"{path}: cannot be read as Parquet ({type(error).__name__}: {error}); "
                "check that it is a Parquet file, or save the table as CSV UTF-8"
            ) from None
    else:
        data = path.read_bytes()
        _refuse_non_text(path, data)
        text = _decode_utf8(path, data)
        details["encoding"] = "utf-8 with byte-order mark" if data[:3] == b"\xef\xbb\xbf" \
            else "utf-8"
        delimiter = sep or ("\t" if suffix in (".tsv", ".tab") else ",")
        details["format"] = "tsv" if delimiter == "\t" else "csv"
        details["delimiter"] = delimiter
        header_line = text.split("\n", 1)[0].rstrip("\r")
        raw = _parse_csv(path, text, delimiter, header_line)
    details["columns"] = [str(c) for c in raw.columns]
    _check_columns(path, raw, (text_column, label_column, source_column, date_column), delimiter,
                   header_line)
    frame = pd.DataFrame(
        {
            "row": range(1, len(raw) + 1),
            "text": raw[text_column].to_numpy(dtype=object),
            "label": raw[label_column].to_numpy(dtype=object),
            "source": raw[source_column].to_numpy(dtype=object) if source_column else path.stem,
        }
    )
    dates = date_column or ("date" if "date" in raw.columns else None)
    if dates:
        frame["date"] = raw[dates].to_numpy(dtype=object)
        details["date_column"] = dates
    return frame, details


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


def _parse_csv(path: Path, text: str, delimiter: str, header_line: str) -> pd.DataFrame:
    """Every record of the text as strings; the first line names the columns.

    The header is read as a record (``header=None``) so that its width bounds
    every row: with ``header=0`` pandas silently turns the first field of rows
    that have one field too many into an index, shifting their values.
    """
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, dtype=object,
            keep_default_na=False, skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise DataSourceError(
            f"{path}: no header line (the file holds only blank lines); it needs a header such "
            "as 'text,label' and one labelled text per line"
        ) from None
    except pd.errors.ParserError as error:
        raise DataSourceError(_parser_message(path, text, delimiter, header_line, error)) \
            from None
    except (ValueError, csv.Error) as error:
        raise DataSourceError(f"{path}: cannot be read as a table ({error})") from None
    header = [value if isinstance(value, str) else "" for value in table.iloc[0]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataSourceError(
            f"{path}: the header line names column(s) {repeated} more than once "
            f"({header_line[:80]!r}); give every column its own name"
        )
    raw = table.iloc[1:].reset_index(drop=True)
    raw.columns = header
    return raw


def _records(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(first line number, fields) of every record, read the way pandas reads them."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        records = []
        line = 0
        for fields in reader:
            records.append((line + 1, fields))
            line = reader.line_num
        return records
    finally:
        csv.field_size_limit(old_limit)


def _parser_message(
    path: Path, text: str, delimiter: str, header_line: str, error: Exception
) -> str:
    """Say which line breaks the table, and why, from pandas' terse ParserError."""
    name = _DELIMITERS.get(delimiter, repr(delimiter))
    hint = _delimiter_hint(delimiter, header_line)
    message = str(error).strip()
    lines = text.split("\n")
    try:
        records = _records(text, delimiter) if len(delimiter) == 1 else []
    except csv.Error:
        records = []
    unclosed = re.search(r"EOF inside string starting at row (\d+)", message)
    if unclosed:
        index = int(unclosed.group(1))
        line = records[index][0] if index < len(records) else index + 1
        excerpt = lines[line - 1][:120] if line <= len(lines) else ""
        return (
            f"{path}: line {line} opens a double quote that is never closed, so the rest of "
            f"the file would be read as one text: {excerpt!r}. Double every quote inside a "
            'text ("") or remove the stray one.' + hint
        )
    if records:
        width = len(records[0][1])
        bad = [(line, fields) for line, fields in records[1:] if len(fields) > width]
        if bad:
            line, fields = bad[0]
            more = ""
            if len(bad) > 1:
                others = ", ".join(str(b[0]) for b in bad[1:11])
                more = f" {len(bad) - 1} more line(s) have too many fields too: {others}."
            return (
                f"{path}: line {line} has {len(fields)} fields but the header has {width} "
                f"({header_line[:80]!r}): {lines[line - 1][:120]!r}.{more} A text that contains "
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
