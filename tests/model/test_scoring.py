"""Scores, labels and confidence of a fitted model."""

import numpy as np
import pytest

from shared.model.scoring import confidence, positive_scores, predict_labels


def test_positive_scores_follow_the_positive_label(toy_model, toy_corpus):
    texts, labels = toy_corpus
    assert list(toy_model.classes_) == ["negative", "positive"]
    scores = positive_scores(toy_model, ["wonderful great", "awful terrible"], "positive")
    assert scores[0] > 0.5 > scores[1]
    reverse = positive_scores(toy_model, ["wonderful great", "awful terrible"], "negative")
    assert np.allclose(scores + reverse, 1)


def test_confidence_is_probability_of_predicted_label():
    assert confidence(np.array([0.9, 0.2]), 0.5).tolist() == pytest.approx([0.9, 0.8])


def test_labels_at_the_threshold():
    labels = predict_labels(np.array([0.49, 0.5, 0.9]), 0.5, "spam", "ham")
    assert labels.tolist() == ["ham", "spam", "spam"]
