from pathlib import Path

import pandas as pd
import pytest

from shared import catalog
from shared.catalog import Catalog, MissingArtifactError


def test_tasks_never_share_an_artifact_path(tmp_path):
    sentiment, spam = Catalog.for_task("sentiment", tmp_path), Catalog.for_task("spam", tmp_path)
    paths = [name for name in dir(Catalog) if isinstance(getattr(Catalog, name), property)]
    for name in paths:
        assert getattr(sentiment, name) != getattr(spam, name), name


def test_relative_paths_never_show_the_machine(tmp_path):
    cat = Catalog.for_task("sentiment", tmp_path)
    assert cat.relative(cat.metrics) == "models/sentiment/evaluation/metrics.json"
    assert not cat.relative(Path("/elsewhere/x.csv")).startswith("/")


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out" / "file.json"
    catalog.write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), catalog.atomic_path(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("crash mid-write")
    assert catalog.read_json(target) == {"version": 1}
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.json"]


def test_csv_round_trip_keeps_text_as_strings(tmp_path):
    frame = pd.DataFrame({"text": ["123", "", "NA", "None"], "label": ["a", "b", "a", "b"]})
    catalog.write_csv(tmp_path / "f.csv", frame)
    back = catalog.read_csv(tmp_path / "f.csv")
    assert back["text"].tolist() == ["123", "", "NA", "None"]


def test_require_names_the_stage_that_writes_the_file(tmp_path):
    with pytest.raises(MissingArtifactError, match="stage 3"):
        catalog.require(tmp_path / "missing.csv", "stage 3, notebooks/03_data_preparation.ipynb")


def test_sha256_file(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    assert catalog.sha256_file(tmp_path / "a") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
