"""The one formula for binary metrics: by hand, and the same for one set or a thousand."""

import numpy as np
import pytest
from sklearn import metrics as skm

from shared.model.metrics import binary_metrics, confusion, rates, roc_auc_rows


def test_binary_metrics_by_hand(spec):
    y = ["positive", "positive", "negative", "negative", "positive"]
    scores = np.array([0.9, 0.4, 0.6, 0.1, 0.7])
    m = binary_metrics(y, scores, 0.5, spec.positive_label)
    assert (m["true_positives"], m["false_positives"]) == (2, 1)
    assert (m["false_negatives"], m["true_negatives"]) == (1, 1)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["false_positive_rate"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.6)


def test_rates_match_scikit_learn_and_work_on_many_resamples_at_once():
    rng = np.random.default_rng(0)
    actual = rng.random((50, 40)) < 0.4
    predicted = rng.random((50, 40)) < 0.5
    many = rates(*confusion(actual, predicted))
    for i in (0, 17, 49):
        assert many["precision"][i] == pytest.approx(
            skm.precision_score(actual[i], predicted[i], zero_division=0))
        assert many["f1"][i] == pytest.approx(skm.f1_score(actual[i], predicted[i]))
        assert many["mcc"][i] == pytest.approx(skm.matthews_corrcoef(actual[i], predicted[i]))


def test_undefined_rates_are_zero():
    values = rates(0, 0, 0, 5)  # nothing positive, nothing predicted positive
    assert values["precision"] == values["recall"] == values["f1"] == values["mcc"] == 0
    assert values["accuracy"] == 1


def test_roc_auc_of_many_rows_equals_scikit_learns():
    rng = np.random.default_rng(3)
    actual = rng.random((200, 60)) < 0.3
    scores = np.round(rng.random((200, 60)), 1)  # many ties
    actual[0] = False  # one class only: no ROC-AUC
    auc = roc_auc_rows(actual, scores)
    assert np.isnan(auc[0])
    expected = [skm.roc_auc_score(a, s) for a, s in zip(actual[1:], scores[1:], strict=True)]
    assert np.allclose(auc[1:], expected, rtol=0, atol=1e-12)
