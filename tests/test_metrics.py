"""The one formula for binary metrics: by hand, and the same for one set or a thousand."""

import numpy as np
import pytest
from sklearn import metrics as skm

from shared.metrics import binary_metrics, confusion, rates


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
