"""The predictor: one row per input, the shared rule for unscoreable texts, answered = logged."""

import copy

import numpy as np
import pytest

from shared import prediction_log
from shared.manifest import ManifestMismatchError
from shared.notebook import tampered_copy
from shared.predictor import InvalidScoreError, Predictor


@pytest.fixture
def predictor(deployed_project):
    return Predictor.from_deployed(deployed_project.deployed_dir)


def test_every_input_gets_a_row(predictor):
    result = predictor.predict(["Superb film, I loved every minute", "", "   ", 42, "x" * 30_000,
                                "Awful, it broke after a day", "NaN",
                                "12345"])
    assert len(result) == 8
    assert result["error"].tolist()[1:5] == [
        "empty text", "empty text", "text is a number, not words",
        "text longer than 20,000 characters",
    ]
    assert result["error"].tolist()[6:] == [
        "text is a missing-value marker (NaN, NULL, N/A...)", "text is a number, not words"]
    assert result.loc[0, "label"] == "positive" and result.loc[5, "label"] == "negative"
    assert np.isnan(result.loc[1, "confidence"])


def test_answered_equals_logged(predictor, tmp_path):
    result, batch = predictor.predict_and_log(["great", "", "awful"], tmp_path / "l.sqlite", "t")
    logged = prediction_log.read(tmp_path / "l.sqlite", batch)
    assert len(logged) == int((result["error"] == "").sum()) == 2
    assert set(logged["prediction_id"]) == set(result.loc[result["error"] == "", "prediction_id"])


def test_low_confidence_flag_uses_the_spec(predictor):
    result = predictor.predict(["great", "zzz qqq"])
    expected = result["confidence"] < predictor.spec.confidence_threshold
    assert result["low_confidence"].tolist() == expected.tolist()


def test_from_deployed_refuses_a_tampered_model(tmp_path, deployed_project):
    tampered = tampered_copy(deployed_project.deployed_dir, tmp_path / "deployed")
    with pytest.raises(ManifestMismatchError, match="model.skops does not match"):
        Predictor.from_deployed(tampered)


def test_unknown_word_share_and_missing_text(predictor):
    result = predictor.predict(["great film", "zorblax qwerty", None])
    assert result["unknown_word_share"].tolist()[:2] == [0.0, 1.0]
    assert result.loc[2, "error"] == "missing text"


def test_text_limit_is_a_setting(predictor):
    predictor.max_text_chars = 10
    assert predictor.predict(["short", "much longer than ten"])["error"].tolist() == [
        "", "text longer than 10 characters"]


def test_score_is_the_same_answer_without_pandas(predictor):
    texts = ["Superb film, I loved every minute", "", "Awful, it broke after a day", 42]
    frame = predictor.predict(texts)
    scored = predictor.score(texts)
    assert scored.label.tolist() == frame["label"].tolist()
    assert scored.error == frame["error"].tolist()
    assert np.array_equal(scored.confidence, frame["confidence"], equal_nan=True)
    assert np.array_equal(scored.unknown_word_share, frame["unknown_word_share"], equal_nan=True)
    assert scored.scored().tolist() == [0, 2]


def test_scores_that_are_not_probabilities_raise_a_named_error(predictor, tmp_path):
    broken = copy.deepcopy(predictor)
    broken.model[-1].intercept_[:] = np.nan  # a trusted scikit-learn part that answers NaN
    with pytest.raises(InvalidScoreError, match=r"2 of 2 scores that are not finite numbers in"):
        broken.score(["great", "awful"])
    with pytest.raises(InvalidScoreError):
        broken.predict_and_log(["great"], tmp_path / "log.sqlite", "test")
    assert not (tmp_path / "log.sqlite").exists()
