"""Monitoring: confidence statistics of a batch against the test-set reference, and alerts.

Every threshold comes from the problem spec written in stage 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from shared.problem import ProblemSpec


def population_stability_index(
    reference: Sequence[float], current: Sequence[float], bins: int = 10
) -> float:
    """PSI of ``current`` against ``reference`` over the reference's quantile bins.

    Under 0.1 is usually read as stable, 0.1-0.25 as a shift worth a look, above
    0.25 as a real change. A small floor keeps empty bins from dividing by zero.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    ref_share = np.histogram(reference, edges)[0] / len(reference)
    cur_share = np.histogram(current, edges)[0] / len(current)
    ref_share = np.clip(ref_share, 1e-4, None)
    cur_share = np.clip(cur_share, 1e-4, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def confidence_report(
    current: Sequence[float], reference: Sequence[float], spec: ProblemSpec
) -> dict[str, float]:
    """Count, mean confidence, share under the spec's threshold, KS test and PSI."""
    current = np.asarray(current, dtype=float)
    reference = np.asarray(reference, dtype=float)
    ks = stats.ks_2samp(current, reference)
    return {
        "count": int(len(current)),
        "mean_confidence": float(current.mean()),
        "reference_mean_confidence": float(reference.mean()),
        "low_confidence_share": float(np.mean(current < spec.confidence_threshold)),
        "reference_low_confidence_share": float(np.mean(reference < spec.confidence_threshold)),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "psi": population_stability_index(reference, current),
    }


def unknown_word_share(model, texts: Sequence[str]) -> np.ndarray:
    """For each text, the share of its words that the fitted vectorizer never saw.

    A model can only weigh words from its training vocabulary; when most words
    of incoming texts are new to it, the texts come from somewhere else.
    Empty texts count as entirely unknown.
    """
    vectorizer = model.named_steps["tfidf"]
    vocabulary = vectorizer.vocabulary_
    analyze = vectorizer.build_analyzer()
    clean = model.named_steps["clean"].transform(list(texts))
    shares = []
    for text in clean:
        words = [term for term in analyze(text) if " " not in term]
        shares.append(float(np.mean([w not in vocabulary for w in words])) if words else 1.0)
    return np.asarray(shares)


def batch_report(
    model, texts: Sequence[str], confidences: Sequence[float],
    reference_texts: Sequence[str], reference_confidences: Sequence[float], spec: ProblemSpec,
) -> dict[str, float]:
    """Confidence statistics and the unknown-word share of a batch, with the reference's."""
    report = confidence_report(confidences, reference_confidences, spec)
    report["unknown_word_share"] = float(unknown_word_share(model, texts).mean())
    report["reference_unknown_word_share"] = float(
        unknown_word_share(model, reference_texts).mean()
    )
    return report


def alerts(report: dict[str, float], spec: ProblemSpec) -> pd.DataFrame:
    """The alert rules, each with its value, its threshold and whether it fired."""
    rules = [
        (
            "share of predictions under the confidence threshold",
            report["low_confidence_share"],
            spec.max_low_confidence_share,
            report["low_confidence_share"] > spec.max_low_confidence_share,
        ),
        (
            "mean confidence",
            report["mean_confidence"],
            spec.confidence_threshold,
            report["mean_confidence"] < spec.confidence_threshold,
        ),
    ]
    if "unknown_word_share" in report:
        rules.append((
            "share of words unknown to the model",
            report["unknown_word_share"],
            spec.max_unknown_word_share,
            report["unknown_word_share"] > spec.max_unknown_word_share,
        ))
    return pd.DataFrame(rules, columns=["rule", "value", "threshold", "fired"])
