"""The catalog: one declaration of every artifact, the stage that writes it, and who reads it."""

from pathlib import Path

import pandas as pd
import pytest

from shared.core import catalog
from shared.core.catalog import ARTIFACTS, STAGES, Catalog, MissingArtifactError


def test_tasks_never_share_an_artifact_path(tmp_path):
    sentiment, spam = Catalog.for_task("sentiment", tmp_path), Catalog.for_task("spam", tmp_path)
    for name in ARTIFACTS:
        assert sentiment.path(name) != spam.path(name), name


def test_every_artifact_has_one_writer_and_every_read_is_declared():
    writers = [name for stage in STAGES for name in stage.writes]
    assert len(writers) == len(set(writers)), "an artifact is written by two stages"
    shipped = {name for name, a in ARTIFACTS.items() if a.shipped}
    assert set(writers) | shipped == set(ARTIFACTS) - set(catalog.RUNTIME_ARTIFACTS)
    for stage in STAGES:
        for name in stage.reads:
            writer = catalog.producer(name)
            assert writer is None or writer.number < stage.number, (stage.key, name)
    assert all(a.format in catalog.FORMATS for a in ARTIFACTS.values())


def test_stages_are_found_by_number_key_or_notebook():
    assert catalog.stage(4) is catalog.stage("04") is catalog.stage("04_model_training")
    assert catalog.stage("04").notebook == "04_model_training.ipynb"
    with pytest.raises(KeyError, match="no stage '9'"):
        catalog.stage("9")
    with pytest.raises(KeyError, match="no artifact 'model'"):
        Catalog.for_task("sentiment").path("model")


def test_relative_paths_never_show_the_machine(tmp_path):
    cat = Catalog.for_task("sentiment", tmp_path)
    assert cat.relative(cat.path("metrics")) == "models/sentiment/evaluation/metrics.json"
    assert cat.relative(cat.path("new_batch")) == "data/builtin/sentiment/new_batch.csv"
    assert not cat.relative(Path("/elsewhere/x.csv")).startswith("/")


def test_shipped_artifacts_are_read_from_the_project(tmp_path):
    cat = Catalog.for_task("spam", tmp_path)
    assert cat.path("drifted_batch").is_file()
    assert len(cat.read("drifted_batch")) > 0
    with pytest.raises(ValueError, match="ships with the project"):
        cat.write("new_batch", pd.DataFrame())


def test_a_missing_input_names_the_stage_that_writes_it(tmp_path):
    cat = Catalog.for_task("spam", tmp_path)
    with pytest.raises(MissingArtifactError) as error:
        cat.read("train")
    message = str(error.value)
    assert "data/spam/processed/train.csv does not exist" in message
    assert "stage 3 (notebooks/03_data_preparation.ipynb)" in message
    assert "--from 03" in message


@pytest.mark.parametrize(("name", "value"), [
    ("problem_spec", {"task": "spam"}),
    ("quarantine", pd.DataFrame({"row": [3], "reason": ["empty text"]})),
    ("model_card", "# card\n"),
])
def test_write_and_read_by_declared_format(tmp_path, name, value):
    cat = Catalog.for_task("spam", tmp_path)
    cat.write(name, value)
    back = cat.read(name)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    else:
        assert back == value
