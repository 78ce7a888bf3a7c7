"""The decision rule: which threshold turns P(positive) into a label, and the score there.

Stage 4 compares models at the threshold the rule would pick (not at 0.5), and
stage 5 picks the deployed threshold with the same rule on validation scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shared.core.problem import ProblemSpec
from shared.model.metrics import binary_metrics


def choose_threshold(y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> float:
    """The decision threshold the spec's rule picks, from validation scores.

    ``fixed`` keeps the spec's threshold. ``max_recall_at_ham_blocked`` takes the
    candidate threshold with the highest recall whose false-positive rate (ham
    blocked) stays within ``max_false_positive_rate``; among equal recalls the
    highest threshold, which blocks the least ham.
    """
    if spec.decision_rule == "fixed":
        return spec.decision_threshold
    y = np.asarray(y_true) == spec.positive_label
    scores = np.asarray(scores, dtype=float)
    negatives = max(int((~y).sum()), 1)
    positives = max(int(y.sum()), 1)
    best: tuple[float, float] | None = None
    for threshold in np.unique(np.append(scores, 1.0)):
        predicted = scores >= threshold
        fpr = np.sum(predicted & ~y) / negatives
        if fpr > spec.max_false_positive_rate:
            continue
        recall = np.sum(predicted & y) / positives
        if best is None or recall > best[0] or (recall == best[0] and threshold > best[1]):
            best = (recall, float(threshold))
    assert best is not None  # threshold 1.0 above every score blocks nothing
    return best[1]


def operating_score(labels: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> float:
    """The primary metric where the model will operate.

    With a fixed threshold that is the metric at that threshold. With the
    spam rule it is the recall at the threshold that keeps ham blocked within
    the limit on these same texts (recall at a fixed false-positive rate), so
    that models are compared at the operating point they will be used at, not
    at 0.5.
    """
    threshold = choose_threshold(labels, scores, spec)
    return float(binary_metrics(labels, scores, threshold, spec.positive_label)[spec.primary_metric])
