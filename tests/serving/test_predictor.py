"""The predictor: one row per input, the shared rule for unscoreable texts, answered = logged."""

import copy

import numpy as np
import pytest
import sklearn

from shared.core.manifest import ManifestMismatchError
from shared.model.models import word_vectorizer
from shared.model.scoring import positive_scores
from shared.run.notebook import tampered_copy
from shared.serving import prediction_log
from shared.serving import predictor as predictor_module
from shared.serving.predictor import Predictor


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


def test_scoring_without_scikit_learns_input_checks_gives_the_same_scores(predictor,
                                                                         monkeypatch):
    # Predictor.score runs the model under SCORING_CONFIG; the checks it skips change no number
    texts = ["Superb film, I loved every minute", "Awful, it broke after a day",
             "The waiter was rude and slow.", "Fine. Not great, not bad either."]
    expected = predictor.model.predict_proba(texts)[:, 1]  # with every check
    seen = []

    def recording(*args):
        seen.append({k: sklearn.get_config()[k] for k in predictor_module.SCORING_CONFIG})
        return positive_scores(*args)

    monkeypatch.setattr(predictor_module, "positive_scores", recording)
    assert np.array_equal(predictor.score(texts).score, expected)
    assert seen == [predictor_module.SCORING_CONFIG]  # the model ran without the checks
    assert sklearn.get_config()["assume_finite"] is False  # and they are back afterwards


def test_scores_that_are_not_probabilities_are_errors_and_are_logged(predictor, tmp_path):
    broken = copy.deepcopy(predictor)
    column = word_vectorizer(broken.model).vocabulary_["great"]
    broken.model[-1].coef_[0, column] = np.nan  # a trusted part that answers NaN for "great"
    scored = broken.score(["a great film", "awful food", ""])
    assert scored.error[0] == "the model returned an invalid score (nan): not a finite number " \
        "in [0, 1]"
    assert scored.error[1] == "" and scored.error[2] == "empty text"
    assert scored.label.tolist()[0] == "" and np.isnan(scored.confidence[0])
    assert scored.invalid().tolist() == [0] and scored.to_log().tolist() == [0, 1]
    log = tmp_path / "log.sqlite"
    frame, batch_id = broken.predict_and_log(["a great film", "awful food", ""], log, "test")
    rows = prediction_log.read(log, batch_id)
    assert rows["text"].tolist() == ["a great film", "awful food"]  # answered = logged
    assert rows["error"].tolist() == [scored.error[0], ""]
    assert rows["score"].isna().tolist() == [True, False]
    assert rows["prediction_id"].tolist() == frame["prediction_id"].tolist()[:2]
    assert frame["prediction_id"].tolist()[2] == ""
