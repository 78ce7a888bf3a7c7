"""Reading a data set in chunks: a CSV, TSV or Parquet file, or a folder of Parquet files.

Memory holds one chunk of rows at a time, never the file. Each chunk has the
fixed schema ``row, text, label, source`` with global row numbers: ``row``
counts records from the top of the file, blank lines included, exactly as the
in-memory reader (``shared.data.userfile``) numbers them, and values are read as
they are (no NaN guessing). What is wrong with a row is decided by stage 2's
validation (``shared.scale.chunk_validation``); a file that cannot be read as a
table is refused with the file, the line and what to do.
"""


from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shared.core.csv_reader import _check_columns, iter_csv
from shared.core.records import DataSourceError
from shared.data import partitions

#: rows validated at a time
CHUNK_ROWS = 50_000


# -- reading ----------------------------------------------------------------------------------
def is_parquet(path: Path) -> bool:
    """A Parquet file, or a folder of Parquet files."""
    return path.suffix.lower() == ".parquet" or (path.is_dir() and any(path.glob("*.parquet")))


def iter_file_chunks(
    path: str | os.PathLike[str], text_column: str = "text", label_column: str = "label",
    source_column: str | None = None, *, chunk_rows: int = CHUNK_ROWS, sep: str | None = None,
    date_column: str | None = None,
) -> Iterator[pd.DataFrame]:
    """The records of a user's CSV/TSV/Parquet file or Parquet folder, a chunk at a time.

    Each chunk has the columns ``row, text, label, source`` with global
    1-based row numbers; values are read as they are (no NaN guessing), as the
    in-memory reader reads them. A ``date`` column (or ``date_column``) is carried
    as ``date``. Raises DataSourceError naming the file (and the line, for a CSV)
    when it cannot be read as a table.
    """
    path = Path(path)
    if not path.exists():
        raise DataSourceError(f"{path}: no such file or folder; check the --dataset value")
    wanted = (text_column, label_column, source_column, date_column)
    if is_parquet(path):
        yield from _parquet_chunks(path, wanted, chunk_rows)
    else:
        yield from _csv_chunks(path, wanted, chunk_rows, sep)


def _schema_frame(
    row0: int, raw: pd.DataFrame, wanted: tuple[str | None, ...], default_source: str
) -> pd.DataFrame:
    text_column, label_column, source_column, *rest = wanted
    frame = pd.DataFrame({
        "row": np.arange(row0 + 1, row0 + len(raw) + 1),
        "text": raw[text_column].to_numpy(dtype=object),
        "label": raw[label_column].to_numpy(dtype=object),
        "source": raw[source_column].to_numpy(dtype=object) if source_column else default_source,
    })
    dates = rest[0] if rest and rest[0] else ("date" if "date" in raw.columns else None)
    if dates:  # as shared.data.userfile: a date column is carried, checked by validation
        frame["date"] = raw[dates].to_numpy(dtype=object)
    return frame


def _parquet_chunks(
    path: Path, wanted: tuple[str | None, ...], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    files = partitions.part_files(path)
    rows = 0
    for file in files:
        try:
            reader = pq.ParquetFile(file)
        except Exception as error:  # pyarrow raises many kinds; all mean "not readable"
            raise DataSourceError(
                f"{file}: cannot be read as Parquet ({type(error).__name__}: {error}); check "
                "that it is a Parquet file, or save the table as CSV UTF-8"
            ) from None
        columns = list(reader.schema_arrow.names)
        _check_columns(file, pd.DataFrame(columns=columns), wanted, "", "")
        needed = [c for c in dict.fromkeys(wanted) if c]
        if wanted[3] is None and "date" in columns and "date" not in needed:
            needed.append("date")  # carried when present, as the in-memory reader does
        for batch in reader.iter_batches(batch_size=chunk_rows, columns=needed):
            raw = batch.to_pandas()
            yield _schema_frame(rows, raw, wanted, file.stem if len(files) == 1 else path.stem)
            rows += len(raw)


def _csv_chunks(
    path: Path, wanted: tuple[str | None, ...], chunk_rows: int, sep: str | None
) -> Iterator[pd.DataFrame]:
    """The records of a CSV/TSV file read by stage 2's reader (``shared.data.userfile.iter_csv``):
    the same refusals and messages as the in-memory engine."""
    rows = 0
    header: list[str] = []
    for table in iter_csv(path, sep=sep, chunk_rows=chunk_rows, required=wanted):
        header = [str(c) for c in table.columns]
        if len(table):
            yield _schema_frame(rows, table, wanted, path.stem)
        rows += len(table)
    if rows == 0:
        raise DataSourceError(
            f"{path}: the file has a header ({', '.join(header)}) but no data rows; add the "
            "labelled texts below the header line")


def iter_source_chunks(
    dataset: str, task: str, text_column: str = "text", label_column: str = "label",
    positive_label: str | None = None, chunk_rows: int = CHUNK_ROWS,
) -> tuple[str, str, dict[str, Any], Iterator[pd.DataFrame]]:
    """(name, origin, details, chunks) of a data set: a user's file or folder read in chunks,
    or a named set (built-in or public: small by construction) loaded whole and cut in chunks.

    Every chunk carries ``dataset`` (``shared.data.sources``). With ``positive_label``, or
    when the first chunk's labels are 0/1 (``label_mapping.inferred_positive``: 1 positive),
    a user file's labels are mapped while streaming
    (``shared.data.label_mapping.StreamingLabelMap``); the chunks end with a
    DataSourceError when the label column did not hold exactly two values, and
    ``details["label_mapping"]`` records the mapping once they are all read.
    Several data sets joined with ``+`` are refused: mixing them is done in memory.
    """
    from shared.data.label_mapping import StreamingLabelMap, inferred_positive
    from shared.data.sources import load_part, parse_dataset, part_options
    from shared.data.tasks import get_task

    parts = parse_dataset(dataset, task)
    if len(parts) > 1:
        raise DataSourceError(
            f"--dataset {dataset!r} joins {len(parts)} data sets "
            f"({', '.join(p.name for p in parts)}); the out-of-core engine reads one. Mix them "
            "with -p engine memory, or join the files into one first")
    part = parts[0]
    options = part_options(part, {"text_column": text_column, "label_column": label_column,
                                  "source_column": None, "positive_label": positive_label})
    if part.source is not None:
        loaded = load_part(part, task, options)
        frame = loaded.frame
        chunks = (frame.iloc[i:i + chunk_rows].reset_index(drop=True)
                  for i in range(0, len(frame), chunk_rows))
        return loaded.name, loaded.origin, dict(loaded.details), chunks
    assert part.path is not None  # a Part is a named source or a file
    path = part.path
    details: dict[str, Any] = {"file": path.name,
                               "format": "parquet" if is_parquet(path) else "csv/tsv"}
    raw = iter_file_chunks(path, options["text_column"], options["label_column"],
                           options["source_column"], chunk_rows=chunk_rows,
                           date_column=options["date_column"])
    wanted, spec = options["positive_label"], get_task(task).spec
    inferred = wanted is None or not str(wanted).strip()  # an empty one counts as not given
    if inferred:  # 0/1 labels: 1 the positive class, checked once the column is read
        first = next(raw, None)
        raw = itertools.chain([] if first is None else [first], raw)
        wanted = None if first is None else inferred_positive(
            first["label"], spec, path, options["label_column"], first_part=True)
    mapper = StreamingLabelMap(wanted, spec, path, options["label_column"], inferred) \
        if wanted is not None else None

    def chunks() -> Iterator[pd.DataFrame]:
        for chunk in raw:
            yield (mapper(chunk) if mapper else chunk).assign(dataset=part.name)
        if mapper is not None:
            details["label_mapping"] = mapper.finish()

    return part.name, path.name, details, chunks()
