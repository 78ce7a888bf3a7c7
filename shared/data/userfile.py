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

The CSV/TSV parsing and its errors are ``shared.core.csv_reader``'s, the one reader
of a user's table: the out-of-core engine and the batch command use it too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from shared.core.csv_reader import (  # noqa: F401 - iter_csv and _check_columns are used from here too
    _check_columns,
    _decode_utf8,
    _parse_csv,
    _refuse_non_text,
    delimiter_for,
    iter_csv,
)
from shared.core.records import DataSourceError, LoadedData
from shared.data.label_mapping import check_usable_labels, inferred_positive, map_labels
from shared.data.tasks import get_task


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
    task's label names (e.g. ``negative``/``positive``), or be 0 and 1 (or -1
    and 1: 1 is then ``positive_label``, with a warning,
    ``shared.data.label_mapping.inferred_positive``); other values are
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
        if positive_label is None:  # 0/1 labels: 1 the positive class, with a warning
            positive_label = inferred_positive(frame["label"], spec, path, label_column)
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
        delimiter = delimiter_for(path, sep)
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


