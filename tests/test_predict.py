"""The batch command: one row out for every row in, every scored row logged."""

import subprocess
import sys

import pandas as pd
import pytest

from shared import predict, prediction_log
from shared.catalog import PROJECT_DIR
from shared.predictor import Predictor


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
    (b"text\n\xff\xfe broken\n", "is not UTF-8"),
    (b"", "is empty"),
])
def test_batch_file_that_cannot_be_read_is_refused(predictor, tmp_path, content, message):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    with pytest.raises(predict.BatchInputError, match=message):
        predict.predict_file(predictor, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


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
