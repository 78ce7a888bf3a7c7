"""Data sources, schema validation and quarantine.

Every source yields a DataFrame with the fixed schema ``text, label, source``
plus ``row``, the 1-based position of the record in the file it came from, so
that every quarantined record can be traced back. Validation never drops a
row silently: rows read = rows kept + rows quarantined.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shared import catalog
from shared.catalog import Catalog
from shared.problem import ProblemSpec
from shared.tasks import get_task

SCHEMA = ("text", "label", "source")
MAX_TEXT_CHARS = 20_000


class DataSourceError(ValueError):
    """A data source cannot be read; the message names the file and what to do."""


@dataclass
class LoadedData:
    """What a source yielded, before validation."""

    name: str
    frame: pd.DataFrame
    origin: str
    details: dict[str, object] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return len(self.frame)


@dataclass
class ValidatedData:
    """The result of validation: kept rows, quarantined rows with a reason each."""

    kept: pd.DataFrame
    quarantined: pd.DataFrame

    @property
    def reasons(self) -> pd.Series:
        return self.quarantined["reason"].value_counts().sort_index()


# -- sources -------------------------------------------------------------
def load_builtin(task: str) -> LoadedData:
    """The data set that ships with the project for ``task``."""
    path = get_task(task).builtin_dataset
    frame = read_table(path, text_column="text", label_column="label", source_column="source")
    return LoadedData(
        name="builtin", frame=frame, origin=f"data/builtin/{task}/{path.name}"
    )


def load_file(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_column: str = "label",
    source_column: str | None = None,
) -> LoadedData:
    """A user's own CSV, TSV or Parquet file."""
    path = Path(path)
    frame = read_table(path, text_column, label_column, source_column)
    return LoadedData(name=path.name, frame=frame, origin=path.name)


#: named sources: name -> (tasks it serves, loader taking the task name)
SOURCES: dict[str, tuple[tuple[str, ...], Callable[[str], LoadedData]]] = {
    "builtin": (("sentiment", "spam"), load_builtin),
}


def available_datasets(task: str) -> list[str]:
    return [name for name, (tasks, _) in SOURCES.items() if task in tasks]


def check_dataset_name(dataset: str, task: str) -> None:
    """Refuse a data set that is neither a known name for ``task`` nor an existing file."""
    if dataset in SOURCES:
        tasks, _ = SOURCES[dataset]
        if task not in tasks:
            raise DataSourceError(
                f"data set {dataset!r} is for task {', '.join(tasks)}, not {task!r}; "
                f"for {task!r} choose one of: {', '.join(available_datasets(task))}, "
                "or a path to a CSV, TSV or Parquet file"
            )
        return
    if not Path(dataset).is_file():
        raise DataSourceError(
            f"unknown data set {dataset!r}: it is not a file and not one of "
            f"{', '.join(available_datasets(task))} (the names valid for task {task!r})"
        )


def load_dataset(
    dataset: str,
    task: str,
    text_column: str = "text",
    label_column: str = "label",
    source_column: str | None = None,
) -> LoadedData:
    """Load ``dataset`` (a source name or a file path) for ``task``."""
    check_dataset_name(dataset, task)
    if dataset in SOURCES:
        return SOURCES[dataset][1](task)
    return load_file(dataset, text_column, label_column, source_column)


def read_table(
    path: str | os.PathLike[str],
    text_column: str,
    label_column: str,
    source_column: str | None = None,
) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into the fixed schema, keeping every record.

    Values are read as they are (no NaN guessing on text), so that validation,
    not the parser, decides what is wrong with a row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(f"{path}: no such file; check the path or the --dataset value")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            raw = pd.read_parquet(path)
        else:
            sep = "\t" if suffix in (".tsv", ".tab") else ","
            raw = pd.read_csv(
                path, sep=sep, dtype=object, keep_default_na=False, encoding="utf-8"
            )
    except UnicodeDecodeError as error:
        raise DataSourceError(
            f"{path}: not valid UTF-8 (byte {error.start}); re-save the file as UTF-8"
        ) from None
    except (pd.errors.ParserError, ValueError, OSError) as error:
        raise DataSourceError(f"{path}: cannot be read as a table ({error})") from None
    missing = [c for c in (text_column, label_column, source_column) if c and c not in raw]
    if missing:
        raise DataSourceError(
            f"{path}: column(s) {missing} not found; the file has {list(raw.columns)}. "
            "Name the right ones with --text-column / --label-column."
        )
    frame = pd.DataFrame(
        {
            "row": range(1, len(raw) + 1),
            "text": raw[text_column].to_numpy(),
            "label": raw[label_column].to_numpy(),
            "source": raw[source_column].to_numpy() if source_column else path.stem,
        }
    )
    return frame


# -- validation ----------------------------------------------------------
def validate(data: LoadedData, spec: ProblemSpec) -> ValidatedData:
    """Split rows into kept and quarantined; each quarantined row gets a reason."""
    frame = data.frame.copy()
    reasons = pd.Series("", index=frame.index, dtype=object)

    def flag(mask: pd.Series, reason: str) -> None:
        fresh = mask & (reasons == "")
        reasons[fresh] = reason

    is_str = frame["text"].map(lambda v: isinstance(v, str))
    flag(frame["text"].isna(), "missing text")
    flag(~is_str, "text is not a string")
    stripped = frame["text"].where(is_str, "").map(lambda v: v.strip())
    flag(stripped == "", "empty text")
    flag(stripped.str.len() > MAX_TEXT_CHARS, f"text longer than {MAX_TEXT_CHARS:,} characters")
    labels = frame["label"].map(lambda v: str(v).strip() if isinstance(v, str) else v)
    frame["label"] = labels
    flag(~labels.isin(spec.labels), "unknown label")
    ok = reasons == ""
    keys = stripped.str.casefold()
    label_sets = frame[ok].groupby(keys[ok])["label"].nunique()
    conflicting = keys.isin(label_sets[label_sets > 1].index)
    flag(ok & conflicting, "same text with conflicting labels")

    frame["source"] = frame["source"].map(lambda v: str(v) if v is not None else "")
    quarantined = frame[reasons != ""].assign(reason=reasons[reasons != ""])
    kept = frame[reasons == ""].assign(text=stripped[reasons == ""])
    assert len(kept) + len(quarantined) == len(frame)
    return ValidatedData(
        kept=kept.reset_index(drop=True), quarantined=quarantined.reset_index(drop=True)
    )


def quarantine_table(quarantined: pd.DataFrame, max_chars: int = 200) -> pd.DataFrame:
    """The quarantine as written to disk: row, reason, a readable excerpt of text and label."""
    return pd.DataFrame(
        {
            "row": quarantined["row"],
            "reason": quarantined["reason"],
            "label": quarantined["label"].map(repr),
            "text": quarantined["text"].map(lambda v: repr(v)[:max_chars]),
        }
    )


def profile(kept: pd.DataFrame, spec: ProblemSpec) -> dict[str, object]:
    """Counts a reader wants before trusting a data set."""
    keys = kept["text"].str.casefold()
    return {
        "rows": len(kept),
        "labels": {label: int((kept["label"] == label).sum()) for label in spec.labels},
        "sources": {k: int(v) for k, v in kept["source"].value_counts().sort_index().items()},
        "duplicate_texts": int(keys.duplicated().sum()),
        "median_words": float(kept["text"].str.split().str.len().median()),
    }


def reconciliation(data: LoadedData, validated: ValidatedData) -> pd.DataFrame:
    """Rows read, kept and quarantined: the first two must add up to the read count."""
    kept, quarantined = len(validated.kept), len(validated.quarantined)
    if kept + quarantined != data.rows_read:
        raise AssertionError(f"{data.origin}: {data.rows_read} read != {kept} + {quarantined}")
    return pd.DataFrame(
        {"rows": [data.rows_read, kept, quarantined]},
        index=pd.Index(["read", "kept", "quarantined"], name=data.origin),
    )


def save_collection(cat: Catalog, data: LoadedData, validated: ValidatedData, spec: ProblemSpec) -> dict:
    """Write the raw snapshot, the quarantine and the collection report of stage 2."""
    catalog.write_csv(cat.raw_snapshot, validated.kept[["row", *SCHEMA]])
    catalog.write_csv(cat.quarantine, quarantine_table(validated.quarantined))
    report = {
        "dataset": data.name,
        "origin": data.origin,
        "rows_read": data.rows_read,
        "rows_kept": len(validated.kept),
        "rows_quarantined": len(validated.quarantined),
        "quarantine_reasons": {k: int(v) for k, v in validated.reasons.items()},
        "profile": profile(validated.kept, spec),
        "snapshot_sha256": catalog.sha256_file(cat.raw_snapshot),
        **data.details,
    }
    catalog.write_json(cat.collection_report, report)
    return report


def load_snapshot(cat: Catalog) -> pd.DataFrame:
    """The raw snapshot written by stage 2."""
    return catalog.read_csv(
        catalog.require(cat.raw_snapshot, "stage 2, notebooks/02_data_collection.ipynb")
    )
