"""The binary-classification metrics, computed one way for every caller.

Stage 5's held-out metrics, its bootstrap intervals (thousands of resamples at
once) and monitoring's live metrics on feedback labels all count the same
confusion matrix and turn it into rates with :func:`rates`, so a metric means
the same thing wherever it is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

#: the headline metrics, in the order tables show them
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc", "false_positive_rate")


#: the metrics :func:`rates` computes from the confusion counts alone
RATE_NAMES = tuple(name for name in METRIC_NAMES if name != "roc_auc")


def confusion(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, ...]:
    """(tp, fp, fn, tn) counted along the last axis of two boolean arrays (True = positive).

    With 2-D arrays (one resample a row) it counts every row at once.
    """
    actual, predicted = np.asarray(actual, dtype=bool), np.asarray(predicted, dtype=bool)
    return tuple(
        np.sum(a & p, axis=-1)
        for a, p in ((actual, predicted), (~actual, predicted), (actual, ~predicted),
                     (~actual, ~predicted))
    )


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, and 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def rates(tp: ArrayLike, fp: ArrayLike, fn: ArrayLike, tn: ArrayLike) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall, F1, MCC and false-positive rate from the counts.

    Works on scalars or arrays of counts; a rate whose denominator is 0 is 0.
    """
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))
    return {
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "mcc": _ratio(tp * tn - fp * fn, np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))),
        "false_positive_rate": _ratio(fp, fp + tn),
    }


def binary_metrics(
    y_true: Sequence[str], scores: np.ndarray, threshold: float, positive_label: str
) -> dict[str, float | int]:
    """Every headline metric at ``threshold``, plus the confusion counts and the support.

    ROC-AUC is NaN when ``y_true`` holds one class only.
    """
    from sklearn.metrics import roc_auc_score  # here: the runner reads METRIC_NAMES only

    actual = np.asarray(y_true) == positive_label
    scores = np.asarray(scores, dtype=float)
    tp, fp, fn, tn = (int(v) for v in confusion(actual, scores >= threshold))
    values = {name: float(value) for name, value in rates(tp, fp, fn, tn).items()}
    both_classes = 0 < actual.sum() < len(actual)
    values["roc_auc"] = float(roc_auc_score(actual, scores)) if both_classes else float("nan")
    return {
        **{name: values[name] for name in METRIC_NAMES},
        "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "true_negatives": tn, "support": int(len(actual)),
    }


def brier_score(y_true: Sequence[str], scores: np.ndarray, positive_label: str) -> float:
    """Mean squared distance between P(positive) and the outcome: lower is better."""
    actual = np.asarray(y_true) == positive_label
    return float(np.mean((np.asarray(scores, dtype=float) - actual) ** 2))


def roc_auc_rows(actual: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of every row of two 2-D arrays at once (NaN for a row with one class only).

    The Mann-Whitney form: the chance that a positive outscores a negative, ties
    counting half, from the ranks of the scores (ties share their mean rank). It
    equals scikit-learn's ``roc_auc_score`` row by row, for thousands of bootstrap
    resamples in one pass.
    """
    from scipy.stats import rankdata

    actual = np.asarray(actual, dtype=bool)
    ranks = rankdata(np.asarray(scores, dtype=float), method="average", axis=1)
    positives = actual.sum(axis=1).astype(float)
    negatives = actual.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * actual).sum(axis=1) - positives * (positives + 1) / 2) / (
            positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)
