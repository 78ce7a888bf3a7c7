"""Several data sets in one run: joining them, and counting every row per data set.

``shared.data.sources`` reads each data set of a ``--dataset`` value such as
``sms-spam+builtin`` (its rows carry ``dataset``, their data set's name, and
``row``, their position in their own file); :func:`combine` joins them in the
order given. Every row is accounted for per data set:

    rows read = kept + quarantined (stage 2, ``collection.json``)
    kept = out + duplicates within + duplicates across (stage 3, ``preparation.json``)

so rows read = out + quarantined + duplicates within the data set + duplicates
of a text kept from an earlier data set (:func:`reconciliation_by_dataset`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shared.core.records import CollectionReport, DataSourceError, LoadedData, PreparationReport

#: stage 2's counts per data set, in the order of ``CollectionReport.by_dataset``
COLLECTION_COUNTS = ("rows_read", "rows_kept", "rows_quarantined")


def combine(dataset: str, parts: list[LoadedData]) -> LoadedData:
    """The rows of every data set of ``dataset`` in the order given, with their details.

    A ``date`` column in any part is carried for all (empty where a part has none).
    """
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise DataSourceError(f"--dataset {dataset!r}: a data set is named twice in {names}")
    dated = any("date" in part.frame.columns for part in parts)
    frames = [part.frame.assign(date="") if dated and "date" not in part.frame.columns
              else part.frame for part in parts]
    frame = pd.concat(frames, ignore_index=True)
    details: dict[str, Any] = {
        "mix": names,
        "sources": {part.name: {"origin": part.origin, **part.details} for part in parts},
    }
    return LoadedData(name=dataset, frame=frame, origin=" + ".join(p.origin for p in parts),
                      details=details)


def provenance_by_dataset(data: LoadedData) -> dict[str, dict[str, Any]]:
    """Each data set's provenance (kind, origin, licence, dates) as ``shared.data.sources`` recorded it."""
    if "sources" in data.details:
        return {name: dict(d.get("provenance", {})) for name, d in data.details["sources"].items()}
    return {data.name: dict(data.details.get("provenance", {}))}


def collection_by_dataset(
    data: LoadedData, kept: pd.DataFrame, quarantined: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    """Rows read, kept and quarantined (with reasons), and the provenance, of each data set."""
    result = {}
    for name, provenance in provenance_by_dataset(data).items():
        mine = quarantined[_of(quarantined, name, data.name)]
        reasons = mine["reason"].value_counts().sort_index() if len(mine) else pd.Series(dtype=int)
        result[name] = {
            "rows_read": int(_of(data.frame, name, data.name).sum()),
            "rows_kept": int(_of(kept, name, data.name).sum()),
            "rows_quarantined": len(mine),
            "quarantine_reasons": {str(k): int(v) for k, v in reasons.items()},
            **provenance,
        }
    return result


def _of(frame: pd.DataFrame, name: str, default: str) -> pd.Series:
    """Which rows of ``frame`` belong to data set ``name`` (all, in a frame without ``dataset``)."""
    if "dataset" not in frame.columns:
        return pd.Series(name == default, index=frame.index)
    return frame["dataset"] == name


def collection_table(report: CollectionReport) -> pd.DataFrame:
    """Stage 2's rows read, kept and quarantined: overall, and per data set when several."""
    table = pd.DataFrame(
        {"rows": [report.rows_read, report.rows_kept, report.rows_quarantined]},
        index=pd.Index(["read", "kept", "quarantined"], name=report.origin),
    )
    if len(report.by_dataset) < 2:
        return table
    for name in dataset_order(report):
        table[name] = [report.by_dataset[name][key] for key in COLLECTION_COUNTS]
    return table.rename(columns={"rows": "all"}).rename_axis(index=report.dataset)


def dataset_order(report: CollectionReport) -> list[str]:
    """The data sets of a report in the order the run gave them (JSON stores keys sorted)."""
    mix = [name for name in report.details.get("mix", []) if name in report.by_dataset]
    return mix + sorted(set(report.by_dataset) - set(mix))


def reconciliation_by_dataset(
    collection: CollectionReport, preparation: PreparationReport
) -> pd.DataFrame:
    """Per data set: read = out + quarantined + duplicates within + duplicates across.

    Raises ValueError naming the data set whose counts do not add up (they are
    written by stages 2 and 3 of the same run, so a mismatch means a stale file).
    """
    rows = {}
    for name in dataset_order(collection):
        collected = collection.by_dataset[name]
        prepared = preparation.by_dataset.get(name)
        if prepared is None or prepared["rows_in"] != collected["rows_kept"]:
            raise ValueError(
                f"data set {name!r}: stage 2 kept {collected['rows_kept']} rows but stage 3 read "
                f"{prepared['rows_in'] if prepared else 'none'} of it; re-run stage 3 after stage 2")
        rows[name] = {
            "read": collected["rows_read"], "quarantined": collected["rows_quarantined"],
            "duplicates within": prepared["duplicates_within"],
            "duplicates across": prepared["duplicates_across"],
            "out": prepared["rows_out"],
        }
    table = pd.DataFrame(rows)
    table["all"] = table.sum(axis=1)
    return table.rename_axis(index="rows", columns="data set")


def duplicate_table(preparation: PreparationReport) -> pd.DataFrame:
    """Duplicates across data sets: rows of a data set (rows) whose text was kept from another."""
    rows = {name: counts.get("duplicate_of", {}) for name, counts in preparation.by_dataset.items()}
    names = list(preparation.by_dataset)
    table = pd.DataFrame(rows, index=names).T.reindex(index=names, columns=names).fillna(0)
    return table.astype(int).rename_axis(index="duplicate in", columns="kept from")
