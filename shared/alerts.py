"""Alerts: the rules that turn a window's drift figures into alarms, and recording them.

Every rule reads its limit from the problem spec written in stage 1, so a
change of threshold is a change of stage 1. A rule whose figure is missing
(no texts stored, too little feedback) is left out of the table rather than
reported as calm.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared import drift, prediction_log
from shared.problem import ProblemSpec


@dataclass(frozen=True)
class Rule:
    """An alert rule: the report figure it watches, how, and the spec field of its limit."""

    metric: str
    description: str
    fires_when: str  # "above" or "below"
    threshold_field: str

    def threshold(self, spec: ProblemSpec) -> float:
        """The rule's limit, read from the problem spec."""
        return float(getattr(spec, self.threshold_field))

    def fired(self, value: float | np.ndarray, threshold: float) -> bool | np.ndarray:
        """Whether ``value`` (one figure, or one per window) is on the alerting side."""
        return value > threshold if self.fires_when == "above" else value < threshold


RULES: tuple[Rule, ...] = (
    Rule("low_confidence_share", "share of predictions under the confidence threshold",
         "above", "max_low_confidence_share"),
    Rule("mean_confidence", "mean confidence", "below", "confidence_threshold"),
    Rule("unknown_word_share", "share of words unknown to the model", "above",
         "max_unknown_word_share"),
    Rule("confidence_psi", "PSI of confidence against the reference", "above",
         "max_confidence_psi"),
    Rule("confidence_ks_pvalue", "KS test of confidence against the reference (p-value)",
         "below", "min_ks_pvalue"),
    Rule("length_ks_pvalue", "KS test of text length against the reference (p-value)",
         "below", "min_ks_pvalue"),
    Rule("label_shift", "largest gap between a predicted-label share and the training prior",
         "above", "max_label_shift"),
    Rule("domain_auc", "domain classifier ROC-AUC (window texts vs reference texts)", "above",
         "max_domain_auc"),
)


def rules(spec: ProblemSpec) -> list[Rule]:
    """The alert rules for ``spec``: the fixed ones, then live quality on feedback."""
    live = Rule(f"live_{spec.primary_metric}",
                f"live {spec.primary_metric} on feedback labels (at least "
                f"{spec.min_live_feedback})", "below", "target")
    return [*RULES, live]


def alerts(report: dict[str, float], spec: ProblemSpec) -> pd.DataFrame:
    """Each rule whose figure the report holds, with its value, threshold and whether it fired.

    A rule whose figure is missing or NaN (no texts stored, too little feedback)
    is left out rather than reported as calm.
    """
    rows = []
    for rule in rules(spec):
        value = report.get(rule.metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if rule.metric.startswith("live_") and report.get("feedback_count", 0) < (
            spec.min_live_feedback
        ):
            continue
        threshold = rule.threshold(spec)
        rows.append((rule.description, rule.metric, float(value), threshold,
                     bool(rule.fired(value, threshold))))
    return pd.DataFrame(rows, columns=["rule", "metric", "value", "threshold", "fired"])



# -- windows of the log -------------------------------------------------------------------
def split_windows(log: pd.DataFrame, size: int, count: int | None = None) -> list[pd.DataFrame]:
    """The log cut into windows of ``size`` predictions, counted back from the newest.

    The newest window is always full (when the log holds ``size`` rows); an
    older remainder shorter than ``size`` is dropped unless it is all there is.
    ``count`` keeps only the newest windows. Oldest window first.
    """
    if size < 1:
        raise ValueError(f"window size must be at least 1, got {size}")
    log = log.reset_index(drop=True)
    ends = list(range(len(log), 0, -size))
    windows = [log.iloc[max(end - size, 0):end] for end in ends]
    if len(windows) > 1 and len(windows[-1]) < size:
        windows = windows[:-1]
    if count is not None:
        windows = windows[:count]
    return windows[::-1]


def window_name(window: pd.DataFrame) -> str:
    """A stable name for a window of logged predictions: its row-id range."""
    if window.empty:
        return "empty window"
    return f"predictions {int(window['id'].min())}-{int(window['id'].max())}"


def monitor(
    windows: dict[str, pd.DataFrame], reference: drift.Reference, spec: ProblemSpec,
    model: Any | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reports (one row per window) and the alert table (one row per window and rule)."""
    reports = {}
    tables = []
    for name, window in windows.items():
        reports[name] = drift.window_report(window, reference, spec, model)
        tables.append(alerts(reports[name], spec).assign(window=name))
    table = pd.concat(tables, ignore_index=True) if tables else alerts({}, spec).assign(window="")
    table = table[["window", "rule", "metric", "value", "threshold", "fired"]]
    return pd.DataFrame(reports).T.rename_axis("window"), table


def record(
    log_path: str | os.PathLike[str], table: pd.DataFrame, model_version: str,
    names: dict[str, str] | None = None,
) -> int:
    """Record every fired alert of ``table`` in the log's ``alerts`` table; return how many.

    ``names`` maps a window's displayed name to the name it is recorded under
    (for example with its batch id), when they differ.
    """
    recorded = 0
    for name, group in table.groupby("window", sort=False):
        stored = (names or {}).get(str(name), str(name))
        recorded += prediction_log.record_alerts(log_path, group, stored, model_version)
    return recorded
