"""Stage 2's validation: every row kept or quarantined with a reason, and the snapshot.

Validation never drops a row silently: rows read = rows kept + rows
quarantined. A text is kept only if ``shared.core.text_rules.unscoreable_reason`` finds
nothing wrong with it (the same function the predictor uses, so training and
serving agree on what a text is), its label is one of the task's, and no
identical text carries the other label. A row's ``date``, when the data set
has one, must be empty or an ISO 8601 date (``2024-05-31``).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from shared.core import storage
from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import CollectionReport, DataSourceError, LoadedData, ValidatedData
from shared.core.text_rules import dedup_key, is_missing, unscoreable_reason

#: the columns of the raw snapshot, after ``row``
SCHEMA = ("text", "label", "source")
#: columns carried after SCHEMA when the data has them (``shared.data.sources``)
OPTIONAL = ("dataset", "date")
BAD_DATE = "date not ISO 8601 (YYYY-MM-DD)"
#: quarantine.csv keeps at most this many characters of a rejected text: enough to
#: recognise it, while the row number leads to the whole text in the source file
EXCERPT_CHARS = 100


class DataTooSmallError(DataSourceError):
    """Too few texts of a label survive validation for stages 3 to 5 to split and fold."""


def validate(data: LoadedData, spec: ProblemSpec) -> ValidatedData:
    """Split rows into kept and quarantined; each quarantined row gets a reason.

    Reasons, the first that applies: the text's (see
    ``shared.core.text_rules.unscoreable_reason``); missing label; unknown label; a
    ``date`` that is not ISO 8601; same text with conflicting labels.
    """
    frame = data.frame.copy()
    reasons = pd.Series([unscoreable_reason(t) or "" for t in frame["text"]],
                        index=frame.index, dtype=object)

    def flag(mask: pd.Series, reason: str) -> None:
        reasons[mask & (reasons == "")] = reason

    labels = frame["label"].map(lambda v: v.strip() if isinstance(v, str) else v)
    frame["label"] = labels
    flag(labels.map(lambda v: is_missing(v) or v == "").astype(bool), "missing label")
    flag(~labels.isin(spec.labels), "unknown label")
    if "date" in frame.columns:
        frame["date"] = frame["date"].map(_date_text)
        flag(~frame["date"].map(is_iso_date).astype(bool), BAD_DATE)
    texts = frame["text"].map(lambda v: v.strip() if isinstance(v, str) else v)
    ok = reasons == ""
    keys = texts[ok].map(str.casefold)
    label_sets = frame[ok].groupby(keys)["label"].nunique()
    conflicting = pd.Series(False, index=frame.index)
    conflicting[ok] = keys.isin(label_sets[label_sets > 1].index)
    flag(ok & conflicting, "same text with conflicting labels")

    frame["source"] = frame["source"].map(lambda v: str(v) if v is not None else "")
    bad = reasons != ""
    quarantined = frame[bad].assign(reason=reasons[bad])
    kept = frame[~bad].assign(text=texts[~bad])
    return ValidatedData(
        kept=kept.reset_index(drop=True), quarantined=quarantined.reset_index(drop=True)
    )


def _date_text(value: object) -> str:
    """A date as the text validation checks: '' when missing (None, NaN, a Parquet NaT)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return str(value).strip()


def is_iso_date(value: str) -> bool:
    """An empty value (no date known) or an ISO 8601 date, with or without a time."""
    if value == "":
        return True
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return len(value) == 10 or value[10] in "T "


def snapshot_columns(frame: pd.DataFrame) -> list[str]:
    """The columns stage 2 writes: ``row``, SCHEMA, then those of OPTIONAL it has."""
    return ["row", *SCHEMA, *(c for c in OPTIONAL if c in frame.columns)]


def excerpt(value: object, max_chars: int = EXCERPT_CHARS) -> str:
    """A rejected value as quarantine.csv shows it: its repr (so 12345 and '12345' differ),
    cut to ``max_chars`` characters with the full length said when cut."""
    shown = repr(value)
    if len(shown) <= max_chars:
        return shown
    note = f"... ({len(shown):,} characters)"
    return shown[:max_chars - len(note)] + note


def quarantine_table(quarantined: pd.DataFrame, max_chars: int = EXCERPT_CHARS) -> pd.DataFrame:
    """The quarantine as written to disk: row, reason, short excerpts of label and text,
    and the data set (``row`` counts in its file) when the rows say which."""
    table = pd.DataFrame(
        {
            "row": quarantined["row"],
            "reason": quarantined["reason"],
            "label": quarantined["label"].map(lambda v: excerpt(v, max_chars)),
            "text": quarantined["text"].map(lambda v: excerpt(v, max_chars)),
        }
    )
    if "dataset" in quarantined.columns:
        table["dataset"] = quarantined["dataset"]
    return table


def check_enough_texts(kept: pd.DataFrame, spec: ProblemSpec, origin: str) -> None:
    """Refuse a data set with too few distinct texts of a label to split and cross-validate.

    Counted as stage 3 will count them, after cleaning and dropping exact
    duplicates; the minimum is ``spec.min_texts_per_label()``.
    """
    distinct = kept.assign(key=kept["text"].map(dedup_key)).drop_duplicates("key")
    counts = {label: int((distinct["label"] == label).sum()) for label in spec.labels}
    minimum = spec.min_texts_per_label()
    if min(counts.values()) < minimum:
        shown = ", ".join(f"{label} {n}" for label, n in counts.items())
        raise DataTooSmallError(
            f"{origin}: too few texts to train on. Distinct texts kept per label: {shown}; "
            f"stages 3 and 4 need at least {minimum} of each label (a stratified "
            f"{spec.test_size:.0%} test split, {spec.cv_folds}-fold cross-validation and "
            "stage 5's calibration inside each fold). Add texts of the short label, or fix "
            "the rows stage 2 quarantined (see the reasons above)."
        )


def profile(kept: pd.DataFrame, spec: ProblemSpec) -> dict[str, object]:
    """Counts a reader wants before trusting a data set (``sources``: texts per source and
    label)."""
    keys = kept["text"].str.casefold()
    by_source = pd.crosstab(kept["source"], kept["label"]).reindex(columns=list(spec.labels),
                                                                   fill_value=0)
    return {
        "rows": len(kept),
        "labels": {label: int((kept["label"] == label).sum()) for label in spec.labels},
        "sources": {str(name): {label: int(n) for label, n in row.items()}
                    for name, row in by_source.sort_index().iterrows()},
        "duplicate_texts": int(keys.duplicated().sum()),
        "median_words": float(kept["text"].str.split().str.len().median()),
    }


def check_reconciled(data: LoadedData, validated: ValidatedData) -> None:
    """Raise unless rows read = rows kept + rows quarantined (nothing silently lost)."""
    kept, quarantined = len(validated.kept), len(validated.quarantined)
    if kept + quarantined != data.rows_read:
        raise AssertionError(f"{data.origin}: {data.rows_read} read != {kept} + {quarantined}")


def reconciliation(report: CollectionReport) -> pd.DataFrame:
    """Rows read, kept and quarantined, and per data set when the run mixed several (the
    report refuses counts that do not add up)."""
    from shared.data.multisource import collection_table

    return collection_table(report)


def profile_table(report: CollectionReport) -> pd.DataFrame:
    """Texts kept per source (rows) and label (columns), from the collection report."""
    table = pd.DataFrame.from_dict(report.profile["sources"], orient="index")
    return table.rename_axis(index="source", columns="label")


def quarantine_reasons(report: CollectionReport) -> pd.DataFrame | str:
    """Quarantined rows per reason (or "none")."""
    if not report.quarantine_reasons:
        return "none"
    return pd.Series(report.quarantine_reasons, name="rows").rename_axis("reason").to_frame()


def save_collection(
    cat: Catalog, data: LoadedData, validated: ValidatedData, spec: ProblemSpec
) -> CollectionReport:
    """Write the raw snapshot, the quarantine and the collection report of stage 2.

    Refuses (DataTooSmallError, nothing written) a data set too small for the
    later stages.
    """
    from shared.data.engines import MEMORY, drop_stale
    from shared.data.multisource import collection_by_dataset

    check_reconciled(data, validated)
    check_enough_texts(validated.kept, spec, data.origin)
    drop_stale(cat, 2, MEMORY)
    cat.write("raw_snapshot", validated.kept[snapshot_columns(validated.kept)])
    cat.write("quarantine", quarantine_table(validated.quarantined))
    report = CollectionReport(
        dataset=data.name,
        origin=data.origin,
        rows_read=data.rows_read,
        rows_kept=len(validated.kept),
        rows_quarantined=len(validated.quarantined),
        quarantine_reasons={k: int(v) for k, v in validated.reasons.items()},
        profile=profile(validated.kept, spec),
        snapshot_sha256=storage.sha256_file(cat.path("raw_snapshot")),
        details=dict(data.details),
        by_dataset=collection_by_dataset(data, validated.kept, validated.quarantined),
    )
    report.save(cat)
    return report
