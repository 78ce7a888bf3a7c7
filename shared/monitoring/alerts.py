"""Alerts: the rules that turn a window's drift figures into alarms, and recording them.

Every rule reads its limit from the problem spec written in stage 1, so a
change of threshold is a change of stage 1; two rules compare with what was
measured when the model was deployed (the manifest): live quality against the
low end of stage 5's interval, and latency against a multiple of the p95 the
canary measured. A live rule with too few feedback labels is listed as "not enough
labels (k of n)", never as calm; any other rule whose figure is missing (no texts
stored) or whose limit is unknown is left out of the table.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.core.problem import ProblemSpec
from shared.monitoring import drift
from shared.serving import prediction_log

if TYPE_CHECKING:
    from shared.core.manifest import Manifest


#: limits that are not spec fields: stage 5's interval and the latency measured at deployment
OFFLINE_INTERVAL_LOW = "offline_interval_low"
DEPLOY_LATENCY_LIMIT = "deploy_latency_limit_ms"


@dataclass(frozen=True)
class Rule:
    """An alert rule: the report figure it watches, how, and where its limit comes from.

    ``threshold_field`` is a problem-spec field, or one of the two limits the
    deployed model's manifest sets (``OFFLINE_INTERVAL_LOW``, ``DEPLOY_LATENCY_LIMIT``).
    """

    metric: str
    description: str
    fires_when: str  # "above" or "below"
    threshold_field: str

    def threshold(self, spec: ProblemSpec, manifest: Manifest | None = None) -> float | None:
        """The rule's limit, from the spec (and the manifest); None when it has none."""
        if self.threshold_field == OFFLINE_INTERVAL_LOW:
            if manifest is None:
                return None
            return float(manifest.metrics.intervals[spec.primary_metric]["low"])
        if self.threshold_field == DEPLOY_LATENCY_LIMIT:
            if manifest is None or manifest.latency_p95_ms is None:
                return None
            return float(spec.max_latency_ratio * manifest.latency_p95_ms)
        value = getattr(spec, self.threshold_field)
        return None if value is None else float(value)

    def limit_text(self, spec: ProblemSpec, manifest: Manifest | None = None) -> str:
        """The limit as the model card states it, with where it comes from."""
        value = self.threshold(spec, manifest)
        if self.threshold_field == OFFLINE_INTERVAL_LOW:
            return f"{value:.3f} (low end of stage 5's 95% interval)"
        if self.threshold_field == DEPLOY_LATENCY_LIMIT:
            return (f"{value:.2f} ms ({spec.max_latency_ratio:g} x the p95 of "
                    f"{manifest.latency_p95_ms:.2f} ms measured at deployment)")
        return f"{value:g}"

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
    Rule("invalid_scores", "scores that are NaN or outside [0, 1]", "above",
         "max_invalid_scores"),
    Rule("latency_p95_ms", "p95 latency per text (ms)", "above", DEPLOY_LATENCY_LIMIT),
    Rule("model_age_days", "whole days since the model was deployed", "above",
         "max_model_age_days"),
)


def rules(spec: ProblemSpec) -> list[Rule]:
    """The alert rules for ``spec``: the fixed ones, then live quality on feedback labels."""
    primary = spec.primary_metric
    enough = f"(at least {spec.min_live_feedback} feedback labels)"
    live = [
        Rule(f"live_{primary}", f"live {primary} on feedback labels {enough}", "below", "target"),
        Rule(f"live_{primary}", f"live {primary} on feedback labels, against stage 5's interval",
             "below", OFFLINE_INTERVAL_LOW),
    ]
    if spec.max_false_positive_rate is not None:
        live.append(Rule("live_false_positive_rate",
                         f"live share of {spec.negative_label} flagged as "
                         f"{spec.positive_label} {enough}", "above", "max_false_positive_rate"))
    return [*RULES, *live]


def alerts(
    report: dict[str, float], spec: ProblemSpec, manifest: Manifest | None = None
) -> pd.DataFrame:
    """Each rule whose figure the report holds, with its value, threshold, whether it fired
    and its ``state`` ("fired", "ok", or for a live rule "not enough labels (k of n)").

    A live rule with too few feedback labels is listed in that state, so that a window
    without labels says so rather than looking calm. Any other rule whose figure is missing
    or NaN (no texts stored), or whose limit is unknown (no manifest given, no ham limit in
    the spec), is left out.
    """
    rows = []
    labels = int(report.get("feedback_count", 0) or 0)
    for rule in rules(spec):
        value = report.get(rule.metric)
        threshold = rule.threshold(spec, manifest)
        if threshold is None:
            continue
        if rule.metric.startswith("live_") and labels < spec.min_live_feedback:
            state = f"not enough labels ({labels} of {spec.min_live_feedback})"
            rows.append((rule.description, rule.metric, math.nan, threshold, False, state))
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        fired = bool(rule.fired(value, threshold))
        rows.append((rule.description, rule.metric, float(value), threshold, fired,
                     "fired" if fired else "ok"))
    return pd.DataFrame(rows, columns=["rule", "metric", "value", "threshold", "fired", "state"])


def describe(spec: ProblemSpec, manifest: Manifest | None = None) -> list[str]:
    """One line per rule with a known limit, as the model card lists them."""
    return [f"{rule.description}: alert when {rule.fires_when} {rule.limit_text(spec, manifest)}"
            for rule in rules(spec) if rule.threshold(spec, manifest) is not None]


#: the alert table's columns: one row per window and rule
TABLE_COLUMNS = ["window", "rule", "metric", "value", "threshold", "fired", "state"]

#: the rule on a running service's own report (``GET /health``, ``shared.serving.health``)
SERVICE_HEALTH = "service_health"
SERVICE_HEALTH_RULE = "the service's /health says degraded, or cannot be reached"


def health_alerts(report: dict[str, Any], url: str) -> pd.DataFrame:
    """The alert table row of a service's health report: fired unless its status is ``ok``.

    Not a figure of a window of the log but of the running service, so it has
    its own window name (``service <url>``) and a fixed limit: any status other
    than ``ok`` (``degraded``, ``unreachable``) is 1, above the limit 0.
    """
    value = 0.0 if report.get("status") == "ok" else 1.0
    return pd.DataFrame([(f"service {url}", SERVICE_HEALTH_RULE, SERVICE_HEALTH, value, 0.0,
                          value > 0, "fired" if value > 0 else "ok")], columns=TABLE_COLUMNS)


#: the rule on the environment the monitor runs in, against the deployed model's manifest
LIBRARY_CHANGES = "library_changes"
LIBRARY_CHANGES_RULE = "libraries whose version differs from the deployment's (manifest)"


def library_alerts(differences: list[str]) -> pd.DataFrame:
    """The alert table row of library versions that changed since deployment (ML Test Score,
    monitoring 1: a dependency change results in a notification). ``differences`` is what
    ``manifest.check_libraries`` returns; fired when it is not empty."""
    value = float(len(differences))
    return pd.DataFrame([("environment", LIBRARY_CHANGES_RULE, LIBRARY_CHANGES, value, 0.0,
                          value > 0, "fired" if value > 0 else "ok")], columns=TABLE_COLUMNS)


def monitor(
    windows: dict[str, pd.DataFrame], reference: drift.Reference, spec: ProblemSpec,
    model: Any | None = None, manifest: Manifest | None = None,
    labelled: dict[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reports (one row per window) and the alert table (one row per window and rule).

    ``manifest`` (the deployed model's) gives the rules that compare with the
    deployment: model age, latency against the deploy-time p95, and live
    quality against stage 5's interval; without it they are left out. ``labelled``
    gives, per window name, the predictions its live metrics are read on (time windows).
    """
    deployed_at = manifest.deployed_at if manifest is not None else None
    reports = {}
    tables = []
    for name, window in windows.items():
        reports[name] = drift.window_report(window, reference, spec, model,
                                            deployed_at=deployed_at,
                                            labelled=(labelled or {}).get(name))
        tables.append(alerts(reports[name], spec, manifest).assign(window=name))
    table = (pd.concat(tables, ignore_index=True) if tables
             else pd.DataFrame(columns=TABLE_COLUMNS).astype({"fired": bool}))
    table = table[TABLE_COLUMNS]
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
