"""Scores, labels and confidence: how a fitted model's output becomes an answer.

Used by evaluation (stage 5) and by serving alike, so this module imports no
other project module: a model, a threshold and the two label names are all it
needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def positive_scores(model: Any, texts: Sequence[str], positive_label: str) -> np.ndarray:
    """P(positive class) for each text, whatever the order of ``model.classes_``."""
    column = list(model.classes_).index(positive_label)
    return model.predict_proba(list(texts))[:, column]


def predict_labels(
    scores: np.ndarray, threshold: float, positive_label: str, negative_label: str
) -> np.ndarray:
    """The positive label where the score reaches the threshold, else the negative one."""
    return np.where(np.asarray(scores) >= threshold, positive_label, negative_label)


def confidence(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The model's probability of the label it predicted."""
    scores = np.asarray(scores, dtype=float)
    return np.where(scores >= threshold, scores, 1.0 - scores)
