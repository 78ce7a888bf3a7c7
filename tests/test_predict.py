import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from shared import persistence, predict, predlog
from shared.models import tfidf_logistic_regression
from shared.predict import Predictor


@pytest.fixture
def predictor(spec, toy_corpus):
    texts, labels = toy_corpus
    model = tfidf_logistic_regression(seed=0).fit(texts, labels)
    return Predictor(model=model, spec=spec, threshold=0.5, model_version="test", manifest={})


def test_every_input_gets_a_row(predictor):
    result = predictor.predict(["wonderful great", "", "   ", 42, "x" * 30_000, "awful"])
    assert len(result) == 6
    assert result["error"].tolist()[1:5] == [
        "text is empty or blank",
        "text is empty or blank",
        "text must be a string, got int",
        "text is longer than 20,000 characters",
    ]
    assert result.loc[0, "label"] == "positive" and result.loc[5, "label"] == "negative"
    assert np.isnan(result.loc[1, "confidence"])


def test_answered_equals_logged(predictor, tmp_path):
    result, batch = predictor.predict_and_log(["great", "", "awful"], tmp_path / "l.sqlite", "t")
    logged = predlog.read(tmp_path / "l.sqlite", batch)
    assert len(logged) == int((result["error"] == "").sum()) == 2
    assert set(logged["prediction_id"]) == set(result.loc[result["error"] == "", "prediction_id"])


def test_low_confidence_flag_uses_the_spec(predictor):
    result = predictor.predict(["great", "zzz qqq"])
    expected = result["confidence"] < predictor.spec.confidence_threshold
    assert result["low_confidence"].tolist() == expected.tolist()


def test_from_deployed_refuses_a_tampered_model(tmp_path, predictor):
    folder = tmp_path / "deployed"
    persistence.save_model(predictor.model, folder / "model.skops")
    (folder / "manifest.json").write_text('{"files": {"model.skops": "0"}}')
    with pytest.raises(persistence.ManifestMismatchError):
        Predictor.from_deployed(folder)


def test_unknown_word_share_and_missing_text(predictor):
    result = predictor.predict(["great film", "zorblax qwerty", None])
    assert result["unknown_word_share"].tolist()[:2] == [0.0, 1.0]
    assert result.loc[2, "error"] == "text is missing"


def test_text_limit_is_a_setting(predictor):
    predictor.max_text_chars = 10
    assert predictor.predict(["short", "much longer than ten"])["error"].tolist() == [
        "", "text is longer than 10 characters"]


def test_batch_file_gives_one_row_out_for_every_row_in(predictor, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text(
        'id,text,label\n1,wonderful great,x\n2,,x\n3,"   ",x\n4\n5,awful,x\n', encoding="utf-8"
    )
    out = tmp_path / "out.csv"
    counts = predict.predict_file(predictor, source, out, log_path=tmp_path / "log.sqlite")
    scored = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert counts["rows_in"] == len(scored) == 5
    assert scored["id"].tolist() == ["1", "2", "3", "4", "5"]
    assert scored["error"].tolist() == ["", "text is empty or blank", "text is empty or blank",
                                        "text is empty or blank", ""]
    assert scored["predicted_label"].tolist() == ["positive", "", "", "", "negative"]
    assert scored.loc[0, "label"] == "x"  # the input's own label column is kept
    logged = predlog.read(tmp_path / "log.sqlite")
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


def test_batch_command(tmp_path):
    from test_serve import make_deployed

    cat = make_deployed(tmp_path)
    source = tmp_path / "reviews.csv"
    source.write_text("text\nLovely staff and great food\n\nBroke after a day\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "shared.predict", "--task", "sentiment", "--root", str(tmp_path),
         str(source)], capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "3 rows in, 2 scored, 1 not scored" in run.stdout
    scored = pd.read_csv(tmp_path / "reviews.predictions.csv", keep_default_na=False)
    assert scored["label"].iloc[1] == "" and scored["error"].iloc[1] == "text is empty or blank"
    assert set(scored["label"].iloc[[0, 2]]) <= {"positive", "negative"}
    assert scored["confidence"].iloc[[0, 2]].astype(float).between(0.5, 1).all()
    assert predlog.count(cat.prediction_log, "batch:reviews.csv") == 2
    missing = subprocess.run(
        [sys.executable, "-m", "shared.predict", "--root", str(tmp_path / "nowhere"), str(source)],
        capture_output=True, text=True, timeout=120,
    )
    assert missing.returncode == 2 and "stage 6" in missing.stderr
