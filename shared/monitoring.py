"""Monitoring: windows of logged predictions against the test-split reference, and alerts.

Per window of predictions: count, mean confidence, share under the confidence
threshold, predicted-label shares against the training prior, text length,
share of words unknown to the model, PSI and a Kolmogorov-Smirnov test of the
confidence distribution, a domain-classifier drift score and, where true labels
came back as feedback, live metrics. Every alert threshold comes from the
problem spec written in stage 1; only scipy and scikit-learn are used.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from shared import catalog, models, predlog
from shared.problem import ProblemSpec
from shared.text import TextCleaner

#: the domain classifier's cross-validation: folds, repeats (averaged) and sample cap per side
DOMAIN_FOLDS = 5
DOMAIN_REPEATS = 3
DOMAIN_MAX_TEXTS = 1000


# -- distribution tests ------------------------------------------------------------------
def population_stability_index(
    reference: Sequence[float], current: Sequence[float], bins: int | None = None
) -> float:
    """PSI of ``current`` against ``reference`` over the reference's quantile bins.

    Under 0.1 is usually read as stable, 0.1-0.25 as a shift worth a look, above
    0.25 as a real change. Those readings assume enough values per bin: with
    ``k`` bins, two samples of one distribution still score about
    ``(k - 1) * (1/n + 1/N)`` by chance, which is 0.3 for 10 bins and 50 values.
    So by default the number of bins adapts: 10 at most, and about 10 values of
    the smaller side per bin (5 bins for a window of 50). Half a count is added
    to every bin of both sides, so an empty bin does not explode the index.
    NaN when either side is empty.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    if not len(reference) or not len(current):
        return float("nan")
    if bins is None:
        bins = int(np.clip(min(len(reference), len(current)) // 10, 2, 10))
    cuts = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    # interior quantiles cut the bins; a (nearly) constant reference is cut at its values
    interior = cuts[1:-1] if len(cuts) > 2 else cuts
    edges = np.concatenate([[-np.inf], interior, [np.inf]])
    ref_counts = np.histogram(reference, edges)[0]
    cur_counts = np.histogram(current, edges)[0]
    k = len(ref_counts)
    ref_share = (ref_counts + 0.5) / (ref_counts.sum() + 0.5 * k)
    cur_share = (cur_counts + 0.5) / (cur_counts.sum() + 0.5 * k)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def ks_test(current: Sequence[float], reference: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value (NaN, NaN when a side is empty)."""
    current = np.asarray(current, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if not len(current) or not len(reference):
        return float("nan"), float("nan")
    result = stats.ks_2samp(current, reference)
    return float(result.statistic), float(result.pvalue)


def confidence_report(
    current: Sequence[float], reference: Sequence[float], spec: ProblemSpec
) -> dict[str, float]:
    """Count, mean confidence, share under the spec's threshold, KS test and PSI."""
    current = np.asarray(current, dtype=float)
    reference = np.asarray(reference, dtype=float)
    ks_statistic, ks_pvalue = ks_test(current, reference)
    return {
        "count": int(len(current)),
        "mean_confidence": float(current.mean()) if len(current) else float("nan"),
        "reference_mean_confidence": float(reference.mean()),
        "low_confidence_share": float(np.mean(current < spec.confidence_threshold))
        if len(current) else float("nan"),
        "reference_low_confidence_share": float(np.mean(reference < spec.confidence_threshold)),
        "confidence_ks_statistic": ks_statistic,
        "confidence_ks_pvalue": ks_pvalue,
        "confidence_psi": population_stability_index(reference, current),
    }


# -- vocabulary ------------------------------------------------------------------------
def unknown_word_share(model: Any, texts: Sequence[str]) -> np.ndarray:
    """For each text, the share of its words that the fitted vectorizer never saw.

    A model can only weigh words from its training vocabulary; when most words
    of incoming texts are new to it, the texts come from somewhere else.
    Empty texts count as entirely unknown.
    """
    words, vocabulary = models.word_vocabulary(model)
    return np.asarray([
        float(np.mean([w not in vocabulary for w in ws])) if ws else 1.0
        for ws in words(list(texts))
    ], dtype=float)


# -- the domain classifier ----------------------------------------------------------
def domain_classifier_auc(
    reference_texts: Sequence[str], current_texts: Sequence[str], seed: int = 0
) -> float:
    """ROC-AUC of a classifier trained to tell current texts from reference texts.

    Character n-grams (2-4, within words) and a logistic regression, scored by
    cross-validated predictions, averaged over a few seeded repeats. 0.5 means
    the two sets cannot be told apart; well above 0.5 means the texts changed.
    NaN when either side has fewer than two texts.
    """
    rng = np.random.default_rng(seed)
    reference_texts = [str(t) for t in reference_texts]
    current_texts = [str(t) for t in current_texts]
    if len(reference_texts) < 2 or len(current_texts) < 2:
        return float("nan")
    if len(reference_texts) > DOMAIN_MAX_TEXTS:
        keep = rng.choice(len(reference_texts), DOMAIN_MAX_TEXTS, replace=False)
        reference_texts = [reference_texts[i] for i in sorted(keep)]
    if len(current_texts) > DOMAIN_MAX_TEXTS:
        keep = rng.choice(len(current_texts), DOMAIN_MAX_TEXTS, replace=False)
        current_texts = [current_texts[i] for i in sorted(keep)]
    texts = reference_texts + current_texts
    y = np.r_[np.zeros(len(reference_texts)), np.ones(len(current_texts))]
    try:  # the vectorizer sees no labels: it is fitted once, on both sides together
        features = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True
        ).fit_transform(TextCleaner().transform(texts))
    except ValueError:  # too few texts for any character n-gram to occur twice
        return float("nan")
    folds = min(DOMAIN_FOLDS, len(reference_texts), len(current_texts))
    aucs = []
    for repeat in range(DOMAIN_REPEATS):
        classifier = LogisticRegression(C=1.0, class_weight="balanced", solver="liblinear")
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed + repeat)
        scores = cross_val_predict(classifier, features, y, cv=cv, method="predict_proba")[:, 1]
        aucs.append(skm.roc_auc_score(y, scores))
    return float(np.mean(aucs))


# -- the reference ------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """What production is compared with: the test-split predictions of stage 5."""

    texts: list[str]
    confidences: np.ndarray
    lengths: np.ndarray
    unknown_word_share: float
    prior: dict[str, float]
    prior_source: str

    @classmethod
    def build(
        cls, reference: pd.DataFrame, model: Any, spec: ProblemSpec,
        training_labels: Sequence[str] | None = None,
    ) -> Reference:
        """From stage 5's reference predictions; the prior from the training labels if given."""
        texts = [str(t) for t in reference["text"]]
        labels = pd.Series(
            list(training_labels) if training_labels is not None else reference["label"]
        )
        return cls(
            texts=texts,
            confidences=reference["confidence"].to_numpy(dtype=float),
            lengths=np.asarray([len(t) for t in texts], dtype=float),
            unknown_word_share=float(unknown_word_share(model, texts).mean()),
            prior={label: float(np.mean(labels == label)) for label in spec.labels},
            prior_source="training split" if training_labels is not None else "test split",
        )


def load_reference(cat: catalog.Catalog, model: Any, spec: ProblemSpec) -> Reference:
    """The deployed reference; the label prior from the training split when it is present."""
    reference = catalog.read_csv(
        catalog.require(cat.deployed_reference, "stage 6, notebooks/06_deployment.ipynb")
    )
    train_path = cat.split("train")
    training = catalog.read_csv(train_path)["label"] if Path(train_path).exists() else None
    return Reference.build(reference, model, spec, training)


# -- one window -------------------------------------------------------------------------
def live_metrics(window: pd.DataFrame, spec: ProblemSpec) -> dict[str, float]:
    """Accuracy, precision, recall, F1, MCC and ham/negatives flagged on the predictions
    of ``window`` whose true label came back (column ``true_label``, '' when none)."""
    if "true_label" not in window:
        return {"feedback_count": 0}
    known = window[window["true_label"].fillna("") != ""]
    result: dict[str, float] = {"feedback_count": int(len(known))}
    if known.empty:
        return result
    y = known["true_label"].to_numpy() == spec.positive_label
    predicted = known["label"].to_numpy() == spec.positive_label
    negatives = int((~y).sum())
    result.update({
        "live_accuracy": float(skm.accuracy_score(y, predicted)),
        "live_precision": float(skm.precision_score(y, predicted, zero_division=0)),
        "live_recall": float(skm.recall_score(y, predicted, zero_division=0)),
        "live_f1": float(skm.f1_score(y, predicted, zero_division=0)),
        "live_mcc": float(skm.matthews_corrcoef(y, predicted)),
        "live_false_positive_rate": float(np.sum(predicted & ~y) / negatives)
        if negatives else float("nan"),
        "live_roc_auc": float(skm.roc_auc_score(y, known["score"])) if 0 < y.sum() < len(y)
        else float("nan"),
    })
    return result


def window_report(
    window: pd.DataFrame, reference: Reference, spec: ProblemSpec, model: Any | None = None,
    seed: int | None = None,
) -> dict[str, float]:
    """Every monitoring figure of one window of logged predictions against the reference.

    ``window`` has the prediction log's columns (``text`` may be empty when
    texts are not stored; then the domain classifier is skipped). The
    unknown-word share comes from the log, or is computed with ``model``.
    """
    seed = spec.seed if seed is None else seed
    report: dict[str, float] = confidence_report(window["confidence"], reference.confidences, spec)
    labels = window["label"].to_numpy()
    for label in spec.labels:
        report[f"share_{label}"] = float(np.mean(labels == label)) if len(labels) else math.nan
        report[f"prior_{label}"] = reference.prior[label]
    report["label_shift"] = max(
        abs(report[f"share_{label}"] - reference.prior[label]) for label in spec.labels
    )
    lengths = window["text_length"].to_numpy(dtype=float)
    report["mean_length"] = float(lengths.mean()) if len(lengths) else math.nan
    report["median_length"] = float(np.median(lengths)) if len(lengths) else math.nan
    report["reference_median_length"] = float(np.median(reference.lengths))
    report["length_ks_statistic"], report["length_ks_pvalue"] = ks_test(lengths, reference.lengths)
    texts = window["text"] if "text" in window else pd.Series([None] * len(window))
    has_text = texts.notna().all() and len(texts) > 0
    shares = window.get("unknown_word_share")
    if shares is not None and shares.notna().all() and len(shares):
        report["unknown_word_share"] = float(shares.mean())
    elif has_text and model is not None:
        report["unknown_word_share"] = float(unknown_word_share(model, list(texts)).mean())
    else:
        report["unknown_word_share"] = math.nan
    report["reference_unknown_word_share"] = reference.unknown_word_share
    report["domain_auc"] = (
        domain_classifier_auc(reference.texts, list(texts), seed) if has_text else math.nan
    )
    report.update(live_metrics(window, spec))
    return report


# -- alert rules -------------------------------------------------------------------------
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
        fired = value > threshold if rule.fires_when == "above" else value < threshold
        rows.append((rule.description, rule.metric, float(value), threshold, bool(fired)))
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
    windows: dict[str, pd.DataFrame], reference: Reference, spec: ProblemSpec,
    model: Any | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reports (one row per window) and the alert table (one row per window and rule)."""
    reports = {}
    tables = []
    for name, window in windows.items():
        reports[name] = window_report(window, reference, spec, model)
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
        recorded += predlog.record_alerts(log_path, group, stored, model_version)
    return recorded


def as_json(report: dict[str, Any]) -> dict[str, Any]:
    """A report with NaN replaced by None and numpy numbers by plain ones, for JSON."""
    clean: dict[str, Any] = {}
    for key, value in report.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        clean[key] = value
    return clean
