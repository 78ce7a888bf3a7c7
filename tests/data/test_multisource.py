"""Several data sets in one run: every row counted per data set, from stage 2 to stage 3."""

from __future__ import annotations

import pandas as pd
import pytest

from shared.core.catalog import Catalog
from shared.core.records import CollectionReport, DataSourceError, LoadedData, PreparationReport, RecordError
from shared.core.storage import read_csv
from shared.data import multisource, preparation, validation
from shared.data.sources import load_dataset
from shared.data.tasks import get_task


@pytest.fixture
def mixed_run(tmp_path):
    """Stages 2 and 3 in-process on builtin + a user file with every kind of row."""
    builtin = read_csv(get_task("sentiment").builtin_dataset)
    copied = builtin["text"].iloc[0]
    own = tmp_path / "own.csv"
    pd.DataFrame({
        "review": [copied.upper(), "A fine new film", "A fine new film", "", "Dull, slow, bad",
                   "Great cast"],
        "verdict": ["good" if builtin["label"].iloc[0] == "positive" else "bad",
                    "good", "good", "good", "bad", "good"],
        "date": ["2024-01-01", "2024-02-01", "2024-02-02", "2024-03-01", "31/12/2024", ""],
    }).to_csv(own, index=False)
    spec = get_task("sentiment").spec
    data = load_dataset(f"builtin+{own}:text=review,label=verdict,positive=good", "sentiment")
    cat = Catalog.for_task("sentiment", tmp_path / "run")
    validated = validation.validate(data, spec)
    collection = validation.save_collection(cat, data, validated, spec)
    clean, prepared = preparation.clean_and_deduplicate(cat.read("raw_snapshot"))
    prepared.save(cat)
    return {"cat": cat, "collection": collection, "prepared": prepared, "clean": clean,
            "builtin_rows": len(builtin)}


def test_rows_reconcile_per_data_set(mixed_run):
    collection, prepared = mixed_run["collection"], mixed_run["prepared"]
    n = mixed_run["builtin_rows"]
    own = collection.by_dataset["own.csv"]
    assert (own["rows_read"], own["rows_kept"], own["rows_quarantined"]) == (6, 4, 2)
    assert own["quarantine_reasons"] == {"date not ISO 8601 (YYYY-MM-DD)": 1, "empty text": 1}
    assert collection.by_dataset["builtin"]["rows_read"] == n
    # the copy of a built-in text (case aside) is a duplicate across, attributed to builtin
    assert prepared.by_dataset["own.csv"] == {
        "rows_in": 4, "duplicates_within": 1, "duplicates_across": 1,
        "duplicate_of": {"builtin": 1}, "rows_out": 2}
    table = multisource.reconciliation_by_dataset(collection, prepared)
    assert table["own.csv"].to_dict() == {"read": 6, "quarantined": 2, "duplicates within": 1,
                                          "duplicates across": 1, "out": 2}
    assert (table.loc["read"] == table.drop(index="read").sum()).all()
    assert table.loc["read", "all"] == n + 6
    assert multisource.duplicate_table(prepared).loc["own.csv", "builtin"] == 1


def test_reports_and_tables_show_each_data_set(mixed_run):
    cat = mixed_run["cat"]
    stored = CollectionReport.load(cat)
    assert set(stored.by_dataset) == {"builtin", "own.csv"}
    assert multisource.dataset_order(stored) == ["builtin", "own.csv"]  # as given
    assert stored.by_dataset["own.csv"]["licence"] == "user's own"
    assert stored.by_dataset["builtin"]["licence"] == "MIT (written for this project)"
    assert PreparationReport.load(cat).by_dataset == mixed_run["prepared"].by_dataset
    collected = validation.reconciliation(stored)
    assert list(collected.columns) == ["all", "builtin", "own.csv"]
    assert collected.loc["quarantined", "own.csv"] == 2
    assert list(preparation.report_table(mixed_run["prepared"], cat).columns) == [
        "builtin", "own.csv", "all"]
    snapshot = cat.read("raw_snapshot")
    assert list(snapshot.columns) == ["row", "text", "label", "source", "dataset", "date"]
    quarantine = read_csv(cat.path("quarantine"))
    assert quarantine["dataset"].tolist() == ["own.csv", "own.csv"]
    assert quarantine["row"].tolist() == [4, 5]


def test_a_single_data_set_keeps_the_tables_it_had(tmp_path):
    spec = get_task("sentiment").spec
    data = load_dataset("builtin", "sentiment")
    cat = Catalog.for_task("sentiment", tmp_path)
    report = validation.save_collection(cat, data, validation.validate(data, spec), spec)
    assert list(validation.reconciliation(report).columns) == ["rows"]
    _, prepared = preparation.clean_and_deduplicate(cat.read("raw_snapshot"))
    assert list(prepared.by_dataset) == ["builtin"]
    table = preparation.report_table(prepared, cat)
    assert table.index.tolist() == ["rows_in", "texts_changed_by_cleaning",
                                    "exact_duplicates_dropped", "rows_out"]


def test_counts_that_do_not_add_up_are_refused(mixed_run):
    payload = mixed_run["prepared"].to_dict()
    payload["by_dataset"]["own.csv"]["rows_out"] += 1
    with pytest.raises(RecordError, match="data set 'own.csv': rows_in 4 != 3 rows_out"):
        PreparationReport.from_dict(payload)
    collection = mixed_run["collection"].to_dict()
    collection["by_dataset"]["own.csv"]["rows_kept"] = 5
    collection["by_dataset"]["own.csv"]["rows_read"] = 7
    with pytest.raises(RecordError, match="do not sum to the total"):
        CollectionReport.from_dict(collection)
    # a stage-3 report of another stage-2 run is named, not silently joined
    with pytest.raises(ValueError, match=r"data set 'builtin': stage 2 kept \d+ rows but stage 3 "
                                         r"read \d+ of it; re-run stage 3"):
        multisource.reconciliation_by_dataset(mixed_run["collection"],
                                              _without(mixed_run["prepared"], "own.csv"))


def _without(report: PreparationReport, name: str) -> PreparationReport:
    """``report`` as if stage 3 had not seen data set ``name`` (its rows moved to another)."""
    counts = {k: dict(v) for k, v in report.by_dataset.items() if k != name}
    first = next(iter(counts))
    for key in ("rows_in", "rows_out", "duplicates_within", "duplicates_across"):
        counts[first][key] += report.by_dataset[name][key]
    return PreparationReport(report.rows_in, report.texts_changed_by_cleaning,
                             report.exact_duplicates_dropped, report.rows_out, counts)


def test_combine_refuses_a_name_twice():
    frame = pd.DataFrame({"row": [1], "text": ["a"], "label": ["ham"], "source": ["x"]})
    part = LoadedData("same", frame.assign(dataset="same"), "same")
    with pytest.raises(DataSourceError, match="named twice"):
        multisource.combine("same+same", [part, part])
