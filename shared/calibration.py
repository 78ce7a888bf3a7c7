"""Stage 5's calibration: is P(positive) worth correcting, judged on validation data only?

A model's scores are probabilities only if, among texts scored 0.8, about 80%
are positive. Calibration (sigmoid or isotonic) can fix a systematic bias; it
is kept only when it lowers the Brier score of out-of-fold predictions on the
training split, so the test split is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import Pipeline

from shared.metrics import brier_score
from shared.problem import ProblemSpec
from shared.training import folds

METHODS = ("sigmoid", "isotonic")


@dataclass(frozen=True)
class CalibrationResult:
    """The model to evaluate, the method kept ('none' if none helped), the Brier table,
    and the kept model's out-of-fold scores on the training split (validation data)."""

    model: Any
    method: str
    brier: pd.DataFrame
    oof_scores: np.ndarray


def calibrate(
    model: Pipeline, texts: pd.Series, labels: pd.Series, oof: np.ndarray, spec: ProblemSpec,
    n_jobs: int = -1,
) -> CalibrationResult:
    """Calibrate ``model`` when that lowers the Brier score on validation data.

    Each method wraps a fresh copy of the model in a cross-validated
    ``CalibratedClassifierCV`` and is scored by the Brier score of its
    out-of-fold predictions on the training split, against the uncalibrated
    out-of-fold scores of stage 4. The model returned is fitted on the whole
    training split.
    """
    texts, labels = list(texts), list(labels)
    rows = [{"method": "none", "brier": brier_score(labels, oof, spec.positive_label)}]
    oofs = {"none": oof}
    for method in METHODS:
        wrapped = CalibratedClassifierCV(clone(model), method=method, cv=3)
        proba = cross_val_predict(wrapped, texts, labels, cv=folds(spec), method="predict_proba",
                                  n_jobs=n_jobs)
        positive = sorted(set(labels)).index(spec.positive_label)
        oofs[method] = proba[:, positive]
        rows.append({"method": method,
                     "brier": brier_score(labels, oofs[method], spec.positive_label)})
    table = pd.DataFrame(rows)
    chosen = str(table.loc[table["brier"].idxmin(), "method"])
    if chosen == "none":
        return CalibrationResult(model, chosen, table, oof)
    final = CalibratedClassifierCV(clone(model), method=chosen, cv=3).fit(texts, labels)
    return CalibrationResult(final, chosen, table, oofs[chosen])
