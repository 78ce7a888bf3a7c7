"""Calibration is kept only when it lowers the validation Brier score."""

import numpy as np
import pandas as pd
import pytest
from conftest import small_model
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression

from shared.core import modelfile
from shared.model import calibration, training


@pytest.fixture
def corpus(toy_corpus):
    texts, labels = toy_corpus
    return pd.Series(texts * 3), pd.Series(labels * 3)


def test_calibration_is_kept_only_when_it_lowers_the_brier_score(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    _, oof = training.cross_validate("lr", small_model(), texts, labels, spec)
    model = small_model().fit(texts, labels)
    result = calibration.calibrate(model, labels, oof, spec)
    table = result.brier
    assert list(table["method"]) == ["none", "sigmoid", "isotonic"]
    assert result.method == table.loc[table["brier"].idxmin(), "method"]
    y = (labels == "positive").to_numpy()
    assert np.mean((result.oof_scores - y) ** 2) == pytest.approx(table["brier"].min())


def test_a_calibrated_model_keeps_the_fitted_steps_and_fits_nothing_again(spec, corpus, tmp_path):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    _, oof = training.cross_validate("lr", small_model(), texts, labels, spec)
    model = small_model().fit(texts, labels)
    calibrated = calibration.calibrated_pipeline(model, oof, labels.to_numpy(), "sigmoid", spec)
    assert all(a is b for (_, a), (_, b) in zip(calibrated.steps, model.steps[:-1], strict=False))
    step = calibrated.named_steps["clf"]
    assert isinstance(step, CalibratedClassifierCV) and len(step.calibrated_classifiers_) == 1
    assert step.calibrated_classifiers_[0].estimator is model.named_steps["clf"]
    # the calibrator is the one fitted on stage 4's out-of-fold scores, applied to the model
    calibrator = step.calibrated_classifiers_[0].calibrators[0]
    decision = model.decision_function(list(texts))
    assert np.allclose(calibrated.predict_proba(list(texts))[:, 1], calibrator.predict(decision))
    modelfile.save_model(calibrated, tmp_path / "m.skops")
    loaded = modelfile.load_model(tmp_path / "m.skops")
    assert np.array_equal(loaded.predict_proba(list(texts)), calibrated.predict_proba(list(texts)))


def test_cross_fitting_uses_only_other_folds(spec):
    labels = np.array(["positive", "negative"] * 30)
    oof = np.where(labels == "positive", 0.7, 0.3)
    calibrated = calibration.cross_fitted(LogisticRegression(), oof, labels, "isotonic", spec)
    # a perfectly separating score is calibrated to certainty by every fold's calibrator
    assert np.array_equal(calibrated, (labels == "positive").astype(float))


def test_a_threshold_among_the_highest_scored_ham_keeps_every_difference_in_score(spam_spec):
    """Spam's rule places its threshold among the top ham: only the sigmoid, which never gives
    two different scores the same value, is tried; isotonic steps tie ham and spam."""
    assert calibration.methods(spam_spec) == ("sigmoid",)
    rng = np.random.default_rng(0)
    labels = np.array(["spam"] * 60 + ["ham"] * 240)
    oof = np.concatenate([rng.uniform(0.3, 1, 60), rng.uniform(0, 0.9, 240)])
    texts = pd.Series([f"text {i}" for i in range(300)])
    model = small_model().fit(texts, pd.Series(labels))
    result = calibration.calibrate(model, labels, oof, spam_spec)
    assert list(result.brier["method"]) == ["none", "sigmoid"]
    assert len(np.unique(result.oof_scores)) == len(np.unique(oof))
    isotonic = calibration.cross_fitted(model.named_steps["clf"], oof, labels, "isotonic",
                                        spam_spec, True)
    assert len(np.unique(isotonic)) < len(np.unique(oof)) / 2
