"""Stage 5's calibration: is P(positive) worth correcting, judged on validation data only?

A model's scores are probabilities only if, among texts scored 0.8, about 80%
are positive. Calibration (sigmoid or isotonic; for a threshold among the highest-scored
negatives, the spam rule, sigmoid only: :func:`methods`) can fix a systematic bias; it
is kept only when it lowers the Brier score of the out-of-fold predictions of
stage 4, so the test split is not touched.

Nothing is fitted again: each method is fitted on four folds of stage 4's
out-of-fold scores and applied to the fifth (cross-fitting), giving the
calibrated out-of-fold scores whose Brier score is compared, and on which the
threshold is then chosen. The calibrated model keeps stage 4's fitted pipeline
and calibrates its classifier step inside it, with a calibrator fitted on all
of stage 4's out-of-fold scores (``CalibratedClassifierCV(ensemble=False)``):
each text is still cleaned and vectorized once when the model is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.base import clone
from sklearn.calibration import (
    CalibratedClassifierCV,
    _CalibratedClassifier,
    _SigmoidCalibration,
)
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import Pipeline

from shared.core.problem import ProblemSpec
from shared.model.metrics import brier_score
from shared.model.search import folds

METHODS = ("sigmoid", "isotonic")


def methods(spec: ProblemSpec) -> tuple[str, ...]:
    """The calibrations tried for ``spec``: both with a fixed threshold; with a rule that
    places the threshold among the highest-scored negatives (spam: ham blocked), only the
    sigmoid, which keeps every difference between two scores. Isotonic regression is a step
    function: every text of a step gets the same score, and at the top of the scale a step
    holds negatives and positives alike. On recent.csv, messages the sms-spam model never
    trained on, more than 5% of the ham shared the calibrated score 1.0 with spam, so no
    threshold could catch any spam there while blocking less than 5% of that ham."""
    return METHODS if spec.decision_rule == "fixed" else ("sigmoid",)


@dataclass(frozen=True)
class CalibrationResult:
    """The model to evaluate, the method kept ('none' if none helped), the Brier table,
    and the kept model's out-of-fold scores on the training split (validation data)."""

    model: Any
    method: str
    brier: pd.DataFrame
    oof_scores: np.ndarray


def _response(classifier: Any, scores: np.ndarray) -> np.ndarray:
    """What ``CalibratedClassifierCV`` calibrates: the decision function where the classifier
    has one (for a logistic model, the logit of its probability), else the probability."""
    if hasattr(classifier, "decision_function"):
        return logit(np.clip(scores, 1e-15, 1 - 1e-15))
    return scores


def _calibrator(method: str) -> Any:
    """A fresh calibrator of the kind ``CalibratedClassifierCV`` fits for ``method``."""
    return _SigmoidCalibration() if method == "sigmoid" else IsotonicRegression(
        out_of_bounds="clip")


def cross_fitted(
    classifier: Any, oof: np.ndarray, labels: np.ndarray, method: str, spec: ProblemSpec,
    positive_is_second: bool = True,
) -> np.ndarray:
    """Calibrated out-of-fold scores: each fold calibrated by a calibrator fitted on the others.

    ``oof`` is P(positive); ``CalibratedClassifierCV`` calibrates the score of the
    second of the sorted classes, so the scores are turned around when the positive
    label sorts first.
    """
    second = oof if positive_is_second else 1 - oof
    target = (labels == spec.positive_label) == positive_is_second
    response = _response(classifier, second)
    calibrated = np.zeros(len(oof))
    for train, valid in folds(spec).split(np.zeros(len(labels)), labels):
        fitted = _calibrator(method).fit(response[train], target[train])
        calibrated[valid] = fitted.predict(response[valid])
    return calibrated if positive_is_second else 1 - calibrated


def calibrated_pipeline(
    model: Pipeline, oof: np.ndarray, labels: np.ndarray, method: str, spec: ProblemSpec,
) -> Pipeline:
    """The fitted pipeline with its classifier step calibrated on stage 4's out-of-fold scores.

    This is what ``CalibratedClassifierCV(ensemble=False)`` builds (the classifier
    fitted on every text, and one calibrator fitted on out-of-fold scores), except
    that the out-of-fold scores are stage 4's, from folds that refitted the
    vectorizers too, so nothing is fitted again. The vectorizers are kept as
    stage 4 fitted them: a served text is cleaned and vectorized once.
    """
    classifier = model.steps[-1][1]
    classes = classifier.classes_
    second = oof if classes[1] == spec.positive_label else 1 - oof
    calibrator = _calibrator(method).fit(_response(classifier, second), labels == classes[1])
    step = CalibratedClassifierCV(clone(classifier), method=method, cv=spec.cv_folds,
                                  ensemble=False)
    step.calibrated_classifiers_ = [_CalibratedClassifier(classifier, [calibrator],
                                                          classes=classes, method=method)]
    step.classes_ = classes
    if hasattr(classifier, "n_features_in_"):
        step.n_features_in_ = classifier.n_features_in_
    return Pipeline([*model.steps[:-1], (model.steps[-1][0], step)])


def calibrate(
    model: Pipeline, labels: pd.Series, oof: np.ndarray, spec: ProblemSpec
) -> CalibrationResult:
    """Calibrate ``model`` when that lowers the Brier score of stage 4's out-of-fold scores."""
    labels = np.asarray(labels)
    classifier = model.steps[-1][1]
    positive_is_second = list(model.classes_).index(spec.positive_label) == 1
    oofs = {"none": np.asarray(oof, dtype=float)}
    for method in methods(spec):
        oofs[method] = cross_fitted(classifier, oofs["none"], labels, method, spec,
                                    positive_is_second)
    table = pd.DataFrame([{"method": method, "brier": brier_score(labels, scores,
                                                                   spec.positive_label)}
                          for method, scores in oofs.items()])
    chosen = str(table.loc[table["brier"].idxmin(), "method"])
    if chosen == "none":
        return CalibrationResult(model, chosen, table, oofs["none"])
    final = calibrated_pipeline(model, oofs["none"], labels, chosen, spec)
    return CalibrationResult(final, chosen, table, oofs[chosen])
