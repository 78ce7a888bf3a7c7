import numpy as np
import pytest

from shared import persistence, predlog
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
