"""Stage 2's validation: every row kept or quarantined with a reason, and the snapshot.

Validation never drops a row silently: rows read = rows kept + rows
quarantined. A text is kept only if ``shared.text.unscoreable_reason`` finds
nothing wrong with it (the same function the predictor uses, so training and
serving agree on what a text is), its label is one of the task's, and no
identical text carries the other label.
"""

from __future__ import annotations

import pandas as pd

from shared import storage
from shared.catalog import Catalog
from shared.problem import ProblemSpec
from shared.records import CollectionReport, LoadedData, ValidatedData
from shared.text import is_missing, unscoreable_reason

#: the columns of the raw snapshot, after ``row``
SCHEMA = ("text", "label", "source")


def validate(data: LoadedData, spec: ProblemSpec) -> ValidatedData:
    """Split rows into kept and quarantined; each quarantined row gets a reason.

    Reasons, the first that applies: the text's (see
    ``shared.text.unscoreable_reason``); missing label; unknown label; same
    text with conflicting labels.
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
    """Rows read, kept and quarantined: the last two must add up to the first."""
    kept, quarantined = len(validated.kept), len(validated.quarantined)
    if kept + quarantined != data.rows_read:
        raise AssertionError(f"{data.origin}: {data.rows_read} read != {kept} + {quarantined}")
    return pd.DataFrame(
        {"rows": [data.rows_read, kept, quarantined]},
        index=pd.Index(["read", "kept", "quarantined"], name=data.origin),
    )


def save_collection(
    cat: Catalog, data: LoadedData, validated: ValidatedData, spec: ProblemSpec
) -> CollectionReport:
    """Write the raw snapshot, the quarantine and the collection report of stage 2."""
    from shared.engines import MEMORY, drop_stale

    drop_stale(cat, 2, MEMORY)
    cat.write("raw_snapshot", validated.kept[["row", *SCHEMA]])
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
    )
    report.save(cat)
    return report
