"""Calibration is kept only when it lowers the validation Brier score."""

import numpy as np
import pandas as pd
import pytest
from conftest import small_model

from shared import calibration, training


@pytest.fixture
def corpus(toy_corpus):
    texts, labels = toy_corpus
    return pd.Series(texts * 3), pd.Series(labels * 3)


def test_calibration_is_kept_only_when_it_lowers_the_brier_score(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    model = small_model()
    _, oof = training.cross_validate("lr", model, texts, labels, spec)
    result = calibration.calibrate(model, texts, labels, oof, spec, 1)
    table = result.brier
    assert list(table["method"]) == ["none", "sigmoid", "isotonic"]
    assert result.method == table.loc[table["brier"].idxmin(), "method"]
    y = (labels == "positive").to_numpy()
    assert np.mean((result.oof_scores - y) ** 2) == pytest.approx(table["brier"].min())
