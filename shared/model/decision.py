"""The decision rule: which threshold turns P(positive) into a label, and the score there.

Stage 4 compares models at the threshold the rule would pick (not at 0.5), and
stage 5 picks the deployed threshold with the same rule on validation scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from shared.core.problem import ProblemSpec
from shared.model.metrics import RATE_NAMES, binary_metrics, confusion, rates


def choose_threshold(y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> float:
    """The decision threshold the spec's rule picks, from validation scores.

    ``fixed`` keeps the spec's threshold. ``max_recall_at_ham_blocked`` takes the
    candidate threshold with the highest recall that blocks at most
    :func:`most_blocked` of the validation ham: the share ``max_false_positive_rate``
    of them, or with the spec's ``threshold_confidence`` as many as keep the share of
    ham blocked within the limit with that confidence; among equal recalls the highest
    threshold, which blocks the least ham.
    """
    if spec.decision_rule == "fixed":
        return spec.decision_threshold
    y = np.asarray(y_true) == spec.positive_label
    scores = np.asarray(scores, dtype=float)
    if not np.isfinite(scores).all():  # a NaN would sort above every threshold
        raise ValueError(f"{int((~np.isfinite(scores)).sum())} of {len(scores)} validation "
                         "scores are not finite numbers: the model scored them NaN or "
                         "infinite; fix the model (or its inputs) before choosing a threshold")
    allowed = most_blocked(int((~y).sum()), spec.max_false_positive_rate,
                           spec.threshold_confidence)
    candidates = np.unique(np.append(scores, 1.0))
    # texts flagged at each candidate (score >= it), counted from the sorted scores at once:
    # one pass instead of one per candidate, which stage 4 runs for every fold and setting
    blocked = _at_or_above(scores[~y], candidates)
    caught = _at_or_above(scores[y], candidates)
    allowed_here = blocked <= allowed
    if not allowed_here.any():  # ham scored 1.0: a threshold above every score blocks nothing
        return float(np.nextafter(candidates[-1], np.inf))
    # the highest recall allowed, and among equal recalls the highest threshold
    best = caught[allowed_here].max()
    return float(candidates[allowed_here & (caught == best)][-1])


def _at_or_above(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``values`` are >= each of ``thresholds``."""
    return len(values) - np.searchsorted(np.sort(values), thresholds, side="left")


def most_blocked(negatives: int, limit: float, confidence: float | None = None) -> int:
    """How many of ``negatives`` validation negatives a threshold may flag.

    Without ``confidence``, as many as keep their share within ``limit``. With it, as many
    as keep the share the threshold would flag among all such texts within ``limit`` with
    that confidence: the largest count whose one-sided Clopper-Pearson upper bound is at
    most ``limit``, as the Neyman-Pearson umbrella algorithm bounds a classifier's type I
    error (Tong, Feng & Li 2018). A threshold picked where the share measured on a sample
    just meets the limit exceeds it on new texts about half the time; the bound leaves the
    margin the sample's size calls for (3,772 ham, a limit of 0.5% and 95%: at most 11
    blocked, 0.29%, instead of 18). When even none blocked cannot show the limit (too few
    negatives), none may be.
    """
    if confidence is None:
        allowed = int(np.floor(limit * negatives))
        while (allowed + 1) / max(negatives, 1) <= limit:
            allowed += 1
        while allowed > 0 and allowed / max(negatives, 1) > limit:
            allowed -= 1
        return allowed
    from scipy.stats import beta  # slow to import: only the threshold rule needs it

    allowed = 0
    while allowed + 1 < negatives and beta.ppf(confidence, allowed + 2,
                                               negatives - allowed - 1) <= limit:
        allowed += 1
    return allowed


def operating_score(labels: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> float:
    """The primary metric where the model will operate.

    With a fixed threshold that is the metric at that threshold. With the
    spam rule it is the recall at the threshold that keeps ham blocked within
    the limit on these same texts (recall at a fixed false-positive rate), so
    that models are compared at the operating point they will be used at, not
    at 0.5. The limit is applied to the share measured on these texts alone: the
    spec's ``threshold_confidence`` is for the deployed threshold, picked once on every
    out-of-fold score, and on one fold's few hundred ham it would allow none blocked.
    """
    threshold = choose_threshold(labels, scores, replace(spec, threshold_confidence=None))
    if spec.primary_metric not in RATE_NAMES:
        return float(binary_metrics(labels, scores, threshold, spec.positive_label)[
            spec.primary_metric])
    # the one rate from the confusion counts: stage 4 scores every fold of every setting,
    # and the other metrics (ROC-AUC above all) cost more than the fit of a small fold
    actual = np.asarray(labels) == spec.positive_label
    counts = confusion(actual, np.asarray(scores, dtype=float) >= threshold)
    return float(rates(*counts)[spec.primary_metric])
