"""The batch command: one row out for every row in, every scored row logged."""

import copy
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from shared.core.catalog import PROJECT_DIR
from shared.core.records import DataSourceError
from shared.data import userfile
from shared.model.models import word_vectorizer
from shared.serving import predict, prediction_log
from shared.serving.predictor import Predictor


@pytest.fixture
def predictor(deployed_project):
    return Predictor.from_deployed(deployed_project.deployed_dir)


def test_batch_file_gives_one_row_out_for_every_row_in(predictor, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        'id,text,label\n1,Superb film I loved every minute,x\n2,,x\n3,"   ",x\n4\n'
        '5,Awful it broke after a day,x\n', encoding="utf-8"
    )
    out = tmp_path / "out.csv"
    counts = predict.predict_file(predictor, source, out, log_path=tmp_path / "log.sqlite")
    scored = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert counts["rows_in"] == len(scored) == 5
    assert scored["id"].tolist() == ["1", "2", "3", "4", "5"]
    assert scored["error"].tolist() == ["", "empty text", "empty text",
                                        "empty text", ""]
    assert scored["predicted_label"].tolist() == ["positive", "", "", "", "negative"]
    assert scored.loc[0, "label"] == "x"  # the input's own label column is kept
    logged = prediction_log.read(tmp_path / "log.sqlite")
    assert len(logged) == counts["rows_scored"] == 2
    assert set(logged["prediction_id"]) == {scored.loc[0, "prediction_id"],
                                            scored.loc[4, "prediction_id"]}
    assert (logged["source"] == "batch:in.csv").all()


@pytest.mark.parametrize("content, message", [
    (b"id,body\n1,hello\n", "has no column 'text'"),
    (b"text\n\xff\xfe broken\n", "not valid UTF-8: byte 0xFF at position 5 \\(line 2\\)"),
    (b'text\n"never closed\nok\n', "line 2 opens a double quote that is never closed"),
    (b"", "is empty"),
])
def test_batch_file_that_cannot_be_read_is_refused(predictor, tmp_path, content, message):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    with pytest.raises(predict.BatchInputError, match=message):
        predict.predict_file(predictor, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_a_row_with_an_extra_field_is_refused_naming_its_line_as_stage_2_does(
        predictor, tmp_path):
    # as the first data row, pandas' default header handling takes "Jessica loved it" for an
    # index and scores " wonderful film." (further down it raises a terse ParserError)
    source = tmp_path / "in.csv"
    source.write_text("text\nJessica loved it, wonderful film.\nGreat acting\n", encoding="utf-8")
    with pytest.raises(predict.BatchInputError) as refused:
        predict.predict_file(predictor, source, tmp_path / "out.csv")
    with pytest.raises(DataSourceError) as stage_2:
        userfile.read_table(source, "text", "text")
    assert str(refused.value) == str(stage_2.value)
    assert "line 2 has 2 fields but the header has 1" in str(refused.value)
    assert "'Jessica loved it, wonderful film.'" in str(refused.value)
    assert not (tmp_path / "out.csv").exists()
    source.write_text('text\n"Jessica loved it, wonderful film."\nGreat acting\n',
                      encoding="utf-8")  # quoted, as the error says: read whole
    predict.predict_file(predictor, source, tmp_path / "out.csv")
    scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert scored["text"].tolist() == ["Jessica loved it, wonderful film.", "Great acting"]


def test_the_batch_command_reads_a_file_longer_than_a_chunk(predictor, tmp_path, monkeypatch):
    monkeypatch.setattr(predict, "CHUNK_ROWS", 3)
    source = tmp_path / "in.csv"
    source.write_text("id,text\n" + "".join(f"{i},great film {i}\n" for i in range(7)),
                      encoding="utf-8")
    counts = predict.predict_file(predictor, source, tmp_path / "out.csv",
                                  log_path=tmp_path / "log.sqlite")
    scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, dtype=str)
    assert scored["id"].tolist() == [str(i) for i in range(7)] and counts["rows_in"] == 7
    assert counts["rows_logged"] == prediction_log.count(tmp_path / "log.sqlite") == 7


def test_invalid_scores_are_a_per_row_error_and_are_logged(predictor, tmp_path):
    broken = copy.deepcopy(predictor)
    column = word_vectorizer(broken.model).vocabulary_["great"]
    broken.model[-1].coef_[0, column] = np.nan  # a real pipeline answering NaN for "great"
    source = tmp_path / "in.csv"
    source.write_text("text\nawful food\na great film\n", encoding="utf-8")
    counts = predict.predict_file(broken, source, tmp_path / "out.csv",
                                  log_path=tmp_path / "log.sqlite")
    scored = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, dtype=str)
    assert scored["error"].str.startswith("the model returned an invalid score").tolist() == [
        False, True]
    assert counts["rows_failed"] == 1 and counts["rows_logged"] == 2
    logged = prediction_log.read(tmp_path / "log.sqlite")
    assert logged["prediction_id"].tolist() == scored["prediction_id"].tolist()
    assert logged["error"].tolist() == scored["error"].tolist()


def test_batch_command(deployed, tmp_path):
    cat = deployed
    source = tmp_path / "reviews.csv"
    source.write_text("text\nLovely staff and great food\n\nBroke after a day\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "shared.predict", "--task", "sentiment", "--root", str(cat.root),
         str(source)], capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR,
    )
    assert run.returncode == 0, run.stderr
    assert "3 rows in, 2 scored, 1 not scored" in run.stdout
    scored = pd.read_csv(tmp_path / "reviews.predictions.csv", keep_default_na=False)
    assert scored["label"].iloc[1] == "" and scored["error"].iloc[1] == "empty text"
    assert set(scored["label"].iloc[[0, 2]]) <= {"positive", "negative"}
    assert scored["confidence"].iloc[[0, 2]].astype(float).between(0.5, 1).all()
    assert prediction_log.count(cat.path("prediction_log"), "batch:reviews.csv") == 2
    missing = subprocess.run(
        [sys.executable, "-m", "shared.predict", "--root", str(tmp_path / "nowhere"), str(source)],
        capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR,
    )
    assert missing.returncode == 2 and "stage 6" in missing.stderr
