"""Stage 5's gate on intervals, not only on point estimates.

Two checks of :func:`shared.model.evaluation.gate` live here:

- :func:`interval_check`: the low end of the primary metric's 95% bootstrap
  interval (``shared.model.evaluation.bootstrap_intervals``; the Wilson interval's from
  the test counts when that is lower) must reach ``target - interval_margin``.
  The point estimate must still reach the target; this check refuses a test
  split so small, or a model so erratic, that the point estimate could reach the
  target on luck. ``interval_margin`` is stated per data set (``shared.data.tasks``,
  ``shared.data.public_data``): how far under the target the low end of a model that
  just meets the target falls on that data set's test split.
- :func:`judge_slices`: every slice holding both labels is judged. One of at
  least ``min_slice_texts`` texts by its point estimate, as before; a smaller
  one by the 95% Wilson score interval of its primary metric, which fails it
  only when even the upper end stays under ``target - slice_margin``: the
  evidence that a slice is bad which a handful of texts can give. A slice of
  one label only has no recall, F1 or ROC-AUC worth the name and is counted,
  never judged.

The Wilson interval needs the metric as a share of counts: accuracy
(TP+TN of all), precision (TP of TP+FP), recall (TP of TP+FN) and F1, taken
as TP of TP + (FP+FN)/2 (F1 = 2TP / (2TP+FP+FN); counting 2TP of 2TP+FP+FN
would double the sample size). ROC-AUC and MCC are no share: small slices are
then listed as not judged, by name, in the check.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from shared.core.problem import ProblemSpec
from shared.core.records import GateCheck

#: the two-sided level of every interval the gate reads
LEVEL = 0.95
#: how a judged slice was judged (the ``rule`` column of :func:`judge_slices`)
POINT, WILSON, NOT_JUDGED = "point estimate", "Wilson upper end", "not judged"


def wilson(successes: np.ndarray | float, trials: np.ndarray | float,
           level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of ``successes`` out of ``trials`` (arrays or numbers).

    No trials gives the whole of [0, 1]: nothing is known. ``trials`` need not be
    whole (F1's TP + (FP+FN)/2).
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    safe = np.where(n > 0, n, 1.0)
    p = s / safe
    denominator = 1 + z**2 / safe
    centre = (p + z**2 / (2 * safe)) / denominator
    half = z * np.sqrt(np.maximum(p * (1 - p) / safe + z**2 / (4 * safe**2), 0)) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0, 1), 0.0)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), 1.0)
    return low, high


def share_counts(metric: str, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """``metric`` as (successes, trials) of the confusion counts, or None when it is no share."""
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))
    return {
        "accuracy": (tp + tn, tp + fp + fn + tn),
        "precision": (tp, tp + fp),
        "recall": (tp, tp + fn),
        "f1": (tp, tp + (fp + fn) / 2),
    }.get(metric)


def slice_bounds(metric: str, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray,
                 level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson interval of ``metric`` for each slice's counts (NaN where it is no share)."""
    counts = share_counts(metric, tp, fp, fn, tn)
    if counts is None:
        nan = np.full(np.shape(np.asarray(tp)), np.nan)
        return nan, nan.copy()
    return wilson(*counts, level=level)


#: the confusion counts of ``shared.model.metrics.binary_metrics``, in the order of share_counts
COUNTS = ("true_positives", "false_positives", "false_negatives", "true_negatives")


def interval_check(intervals: pd.DataFrame, spec: ProblemSpec,
                   metrics: dict[str, Any] | None = None) -> GateCheck:
    """The low end of the primary metric's interval against ``target - interval_margin``.

    The interval is the bootstrap's; with the test ``metrics``' confusion counts, the low
    end is the lower of the bootstrap's and the Wilson interval's (a share metric only):
    resampling cannot move a metric that is perfect on every text, so 5 of 5 spam caught has
    a bootstrap interval of 1.000-1.000, and a Wilson low end of 0.57.
    """
    primary = spec.primary_metric
    low, high = (float(intervals.loc[primary, side]) for side in ("low", "high"))
    limit = spec.target - spec.interval_margin
    shown = f"{primary} {LEVEL:.0%} interval {low:.3f}-{high:.3f}"
    if metrics is not None and all(name in metrics for name in COUNTS):
        counts = share_counts(primary, *(metrics[name] for name in COUNTS))
        if counts is not None:
            wilson_low = float(wilson(*counts)[0])
            shown += f" (Wilson low end {wilson_low:.3f})"
            low = min(low, wilson_low)
    return GateCheck(
        f"{shown}: low end >= {limit:.2f} (target - interval_margin {spec.interval_margin:.2f})",
        round(low, 4), bool(low >= limit - 1e-12))


def judge_slices(slices: pd.DataFrame, spec: ProblemSpec) -> pd.DataFrame:
    """The slices holding both labels, with their ``limit``, the ``rule`` that judged them
    and the verdict (``passed``); see the module docstring.

    ``slices`` is :func:`shared.model.evaluation.slice_metrics`'s table; a table without the
    Wilson columns (an older ``metrics.json``) judges small slices as not judged.
    """
    primary = spec.primary_metric
    both = slices[(slices["positives"] > 0) & (slices["positives"] < slices["texts"])]
    limit = spec.target - spec.slice_margin
    large = both["texts"] >= spec.min_slice_texts
    high = both["wilson_high"] if "wilson_high" in both.columns else pd.Series(np.nan, both.index)
    rule = np.where(large, POINT, np.where(high.notna(), WILSON, NOT_JUDGED))
    passed = np.where(large, both[primary] >= limit,
                      np.where(high.notna(), high >= limit, True))
    return both.assign(limit=limit, rule=rule, passed=passed.astype(bool))


def slice_check(slices: pd.DataFrame, spec: ProblemSpec) -> GateCheck | None:
    """One gate check over every slice holding both labels (None when there is none)."""
    judged = judge_slices(slices, spec)
    if not len(judged):
        return None
    primary = spec.primary_metric
    limit = spec.target - spec.slice_margin
    failing = judged[~judged["passed"]]
    named = "; ".join(
        f"{kind} {value!r} {row[primary]:.3f}"
        + (f" (Wilson upper end {row['wilson_high']:.3f}, {int(row['texts'])} texts)"
           if row["rule"] == WILSON else "")
        for (kind, value), row in failing.iterrows())
    counts = judged["rule"].value_counts()
    how = [f"{counts.get(POINT, 0)} of >= {spec.min_slice_texts} texts by the point estimate",
           f"{counts.get(WILSON, 0)} smaller by the upper end of the {LEVEL:.0%} Wilson interval"]
    if counts.get(NOT_JUDGED, 0):
        how.append(f"{counts[NOT_JUDGED]} smaller without a Wilson interval of {primary}, "
                   "not judged")
    single = len(slices) - len(judged)
    if single:
        how.append(f"{single} of one label only not judged")
    lowest = judged.loc[judged["rule"] == POINT, primary]
    value = float(lowest.min()) if len(lowest) else float(judged[primary].min())
    return GateCheck(
        f"every slice of both labels: {primary} >= {limit:.2f} ({'; '.join(how)})"
        + (f" (failing: {named})" if named else ""),
        round(value, 4), failing.empty)
