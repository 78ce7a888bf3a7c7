"""Drift: how a window of logged predictions differs from the reference.

Per window of predictions: count, mean confidence, share under the confidence
threshold, predicted-label shares against the training prior, text length,
share of words unknown to the model, PSI and a Kolmogorov-Smirnov test of the
confidence distribution, a domain-classifier drift score, scores outside [0, 1],
the p95 latency, the model's age and, where true labels came back as feedback,
live metrics. The reference is the test split as stage
5 predicted it. Which of these figures raise an alert is ``shared.monitoring.alerts``'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.model.metrics import confusion, rates
from shared.model.models import Vocabulary
from shared.model.text import TextCleaner

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
        aucs.append(roc_auc_score(y, scores))
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
            unknown_word_share=_mean_unknown_share(model, texts),
            prior={label: float(np.mean(labels == label)) for label in spec.labels},
            prior_source="training split" if training_labels is not None else "test split",
        )


def load_reference(cat: Catalog, model: Any, spec: ProblemSpec) -> Reference:
    """The deployed reference; the label prior from the training split when it is present."""
    reference = cat.read("deployed_reference")
    train_path = cat.path("train")
    training = cat.read("train")["label"] if train_path.exists() else None
    return Reference.build(reference, model, spec, training)


def _mean_unknown_share(model: Any, texts: Sequence[str]) -> float:
    """Mean share of unknown words over ``texts`` (NaN for a model without a vocabulary)."""
    vocabulary = Vocabulary.of(model)
    return float(vocabulary.unknown_shares(texts).mean()) if vocabulary else math.nan


# -- one window -------------------------------------------------------------------------
def live_metrics(window: pd.DataFrame, spec: ProblemSpec) -> dict[str, float]:
    """Accuracy, precision, recall, F1, MCC, ROC-AUC and negatives flagged, live.

    Computed on the predictions of ``window`` whose true label came back
    (column ``true_label``, '' when none). Negatives flagged is NaN when no
    negative came back (nothing to be wrong about).
    """
    if "true_label" not in window:
        return {"feedback_count": 0}
    known = window[window["true_label"].fillna("") != ""]
    result: dict[str, float] = {"feedback_count": int(len(known))}
    if known.empty:
        return result
    actual = known["true_label"].to_numpy() == spec.positive_label
    counts = confusion(actual, known["label"].to_numpy() == spec.positive_label)
    values = rates(*counts)
    result.update({f"live_{name}": float(value) for name, value in values.items()})
    if not (~actual).any():
        result["live_false_positive_rate"] = math.nan
    # a NaN score (a broken model) must reach the invalid-scores rule, not stop the monitor
    finite = np.isfinite(known["score"].to_numpy(dtype=float))
    result["live_roc_auc"] = (
        float(roc_auc_score(actual[finite], known["score"].to_numpy(dtype=float)[finite]))
        if 0 < actual[finite].sum() < finite.sum() else math.nan)
    return result


def invalid_scores(scores: Sequence[float]) -> int:
    """How many scores are NaN or outside [0, 1]: a probability never is."""
    scores = np.asarray(scores, dtype=float)
    return int(np.sum(~((scores >= 0) & (scores <= 1))))  # NaN fails both comparisons


def latency_p95(latencies_ms: Sequence[float]) -> float:
    """The 95th percentile of per-text latency in ms (NaN for an empty window)."""
    latencies_ms = np.asarray(latencies_ms, dtype=float)
    return float(np.percentile(latencies_ms, 95)) if len(latencies_ms) else math.nan


def model_age_days(deployed_at: str, window: pd.DataFrame) -> float:
    """Whole days from deployment to the window's newest prediction (to now if the window
    has no times). Whole days: the limit is in days, and the figure stays the same on a
    re-run of the same day."""
    start = pd.Timestamp(deployed_at)
    times = pd.to_datetime(window["created_at"], utc=True) if "created_at" in window else None
    end = times.max() if times is not None and len(times) else pd.Timestamp.now(tz="UTC")
    return float(max((end - start).days, 0))


def window_report(
    window: pd.DataFrame, reference: Reference, spec: ProblemSpec, model: Any | None = None,
    seed: int | None = None, deployed_at: str | None = None,
    labelled: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Every monitoring figure of one window of logged predictions against the reference.

    ``window`` has the prediction log's columns (``text`` may be empty when
    texts are not stored; then the domain classifier is skipped). The
    unknown-word share comes from the log, or is computed with ``model``.
    The model's age needs ``deployed_at`` (the manifest's); without it, it is NaN.
    The live metrics are read on ``labelled`` when given (a time window's predictions old
    enough for their labels to be back: ``shared.monitoring.windows``), else on ``window`` itself.
    Rows logged with an ``error`` (the model failed on them) count in
    ``invalid_scores`` and ``scoring_errors`` only: they hold no answer to compare.
    """
    seed = spec.seed if seed is None else seed
    failed = (window["error"].fillna("") != "").to_numpy() if "error" in window else None
    invalid = invalid_scores(window["score"])
    if failed is not None and failed.any():
        window = window[~failed]
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
        report["unknown_word_share"] = _mean_unknown_share(model, list(texts))
    else:
        report["unknown_word_share"] = math.nan
    report["reference_unknown_word_share"] = reference.unknown_word_share
    report["domain_auc"] = (
        domain_classifier_auc(reference.texts, list(texts), seed) if has_text else math.nan
    )
    report["invalid_scores"] = invalid
    report["scoring_errors"] = int(failed.sum()) if failed is not None else 0
    report["latency_p95_ms"] = (latency_p95(window["latency_ms"]) if "latency_ms" in window
                                else math.nan)
    report["model_age_days"] = (model_age_days(deployed_at, window) if deployed_at
                                else math.nan)
    if labelled is not None and "error" in labelled:
        labelled = labelled[labelled["error"].fillna("") == ""]
    report.update(live_metrics(window if labelled is None else labelled, spec))
    return report


