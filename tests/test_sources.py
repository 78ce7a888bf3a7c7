"""The named data sources: the built-in sets, which task each serves, and the dispatch."""

from __future__ import annotations

import pytest

from shared import sources
from shared.records import DataSourceError
from shared.sources import load_dataset
from shared.storage import read_csv
from shared.tasks import TASKS, get_task
from shared.validation import check_reconciled, validate


@pytest.mark.parametrize("task", sorted(TASKS))
def test_builtin_loads_and_reconciles(task):
    data = load_dataset("builtin", task)
    validated = validate(data, get_task(task).spec)
    check_reconciled(data, validated)
    assert data.rows_read == len(read_csv(get_task(task).builtin_dataset))
    assert len(validated.quarantined) == 0


def test_named_sources_and_their_tasks():
    assert sources.available_datasets("sentiment") == ["builtin", "rt-polarity"]
    assert sources.available_datasets("spam") == ["builtin", "sms-spam"]
    with pytest.raises(DataSourceError, match="'rt-polarity' is for task sentiment"):
        sources.check_dataset_name("rt-polarity", "spam")
    with pytest.raises(DataSourceError, match="unknown data set 'nope.csv'"):
        sources.check_dataset_name("nope.csv", "spam")


def test_positive_label_only_for_own_files():
    with pytest.raises(DataSourceError, match="applies to your own file only"):
        load_dataset("builtin", "sentiment", positive_label="pos")
    assert load_dataset("builtin", "sentiment", positive_label="positive").rows_read > 0


def test_source_files_name_what_stage_2_reads(tmp_path, monkeypatch):
    assert sources.source_files("builtin", "spam") == [get_task("spam").builtin_dataset]
    monkeypatch.setenv("DATA_CACHE_DIR", str(tmp_path))
    assert sources.source_files("rt-polarity", "sentiment") == [
        tmp_path / "rt-polarity" / "rt-polarity.pos", tmp_path / "rt-polarity" / "rt-polarity.neg"]
    own = tmp_path / "mine.csv"
    own.write_text("text,label\n")
    assert sources.source_files(str(own), "sentiment") == [own.resolve()]
