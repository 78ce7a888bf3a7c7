"""Metrics, the decision threshold, the PASS/FAIL gate and error analysis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from shared import catalog, persistence
from shared.catalog import Catalog
from shared.problem import ProblemSpec


def positive_scores(model, texts: Sequence[str], spec: ProblemSpec) -> np.ndarray:
    """P(positive class) for each text, whatever the order of ``model.classes_``."""
    column = list(model.classes_).index(spec.positive_label)
    return model.predict_proba(list(texts))[:, column]


def predict_labels(scores: np.ndarray, threshold: float, spec: ProblemSpec) -> np.ndarray:
    """The positive label where the score reaches the threshold, else the negative one."""
    return np.where(np.asarray(scores) >= threshold, spec.positive_label, spec.negative_label)


def confidence(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The model's probability of the label it predicted."""
    scores = np.asarray(scores, dtype=float)
    return np.where(scores >= threshold, scores, 1.0 - scores)


def binary_metrics(
    y_true: Sequence[str], scores: np.ndarray, threshold: float, spec: ProblemSpec
) -> dict[str, float | int]:
    """Every headline metric at ``threshold``, plus the confusion counts."""
    y = np.asarray(y_true) == spec.positive_label
    predicted = np.asarray(scores) >= threshold
    tp = int(np.sum(y & predicted))
    fp = int(np.sum(~y & predicted))
    fn = int(np.sum(y & ~predicted))
    tn = int(np.sum(~y & ~predicted))
    both_classes = 0 < y.sum() < len(y)
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "precision": float(skm.precision_score(y, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y, predicted, zero_division=0)),
        "f1": float(skm.f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, scores)) if both_classes else float("nan"),
        "mcc": _mcc(tp, fp, fn, tn),
        "false_positive_rate": fp / (fp + tn) if fp + tn else 0.0,
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "true_negatives": tn,
        "support": int(len(y)),
    }


def _mcc(tp: int, fp: int, fn: int, tn: int) -> float:
    """Matthews correlation from the confusion counts; 0 when a margin is empty."""
    denominator = float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return float((tp * tn - fp * fn) / np.sqrt(denominator)) if denominator else 0.0


def score_metric(
    name: str, y_true: Sequence[str], scores: np.ndarray, threshold: float, spec: ProblemSpec
) -> float:
    return float(binary_metrics(y_true, scores, threshold, spec)[name])


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


def threshold_curve(y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> pd.DataFrame:
    """Precision, recall, F1 and ham/negatives blocked at 101 evenly spaced thresholds."""
    rows = []
    for threshold in np.linspace(0, 1, 101):
        m = binary_metrics(y_true, scores, threshold, spec)
        rows.append({"threshold": threshold, **{k: m[k] for k in (
            "precision", "recall", "f1", "false_positive_rate")}})
    return pd.DataFrame(rows)


def gate(
    metrics: dict[str, float], baseline: dict[str, float], spec: ProblemSpec
) -> dict[str, object]:
    """PASS when the primary metric meets the target, beats the baseline's, and (where the
    spec sets one) the false-positive rate stays within its limit."""
    primary = spec.primary_metric
    checks = [
        {
            "check": f"{spec.primary_metric} >= {spec.target:.2f}",
            "value": round(metrics[spec.primary_metric], 4),
            "passed": bool(metrics[spec.primary_metric] >= spec.target),
        },
        {
            "check": "beats the majority baseline on the primary metric",
            "value": round(metrics[primary] - baseline[primary], 4),
            "passed": bool(metrics[primary] > baseline[primary]),
        },
    ]
    if spec.max_false_positive_rate is not None:
        checks.append(
            {
                "check": f"false_positive_rate <= {spec.max_false_positive_rate:.3f}",
                "value": round(metrics["false_positive_rate"], 4),
                "passed": bool(metrics["false_positive_rate"] <= spec.max_false_positive_rate),
            }
        )
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def worst_errors(
    texts: Sequence[str], y_true: Sequence[str], scores: np.ndarray, threshold: float,
    spec: ProblemSpec, n: int = 8,
) -> pd.DataFrame:
    """The misclassified texts the model was most confident about."""
    predicted = predict_labels(scores, threshold, spec)
    frame = pd.DataFrame(
        {
            "text": list(texts),
            "true": list(y_true),
            "predicted": predicted,
            "confidence": confidence(scores, threshold),
        }
    )
    wrong = frame[frame["true"] != frame["predicted"]]
    return wrong.sort_values(["confidence", "text"], ascending=[False, True]).head(n).reset_index(
        drop=True
    )


def metrics_table(results: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Headline metrics of several models side by side, rounded for reading."""
    names = ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc", "false_positive_rate")
    return pd.DataFrame({model: {n: m[n] for n in names} for model, m in results.items()}).round(3)


def save(cat: Catalog, metrics: dict, reference: pd.DataFrame, model) -> None:
    """Write the evaluated model, metrics.json and the test predictions monitoring compares to."""
    persistence.save_model(model, cat.final_model)
    catalog.write_json(cat.metrics, metrics)
    catalog.write_csv(cat.reference_predictions, reference)


def load_metrics(cat: Catalog) -> dict:
    return catalog.read_json(
        catalog.require(cat.metrics, "stage 5, notebooks/05_model_evaluation.ipynb")
    )


def bootstrap_intervals(
    y_true: Sequence[str], scores: np.ndarray, threshold: float, spec: ProblemSpec,
    n_resamples: int = 1000, level: float = 0.95,
) -> pd.DataFrame:
    """Point estimate and percentile bootstrap interval of each headline metric.

    The test split is resampled with replacement ``n_resamples`` times (seeded
    from the spec); the interval shows how much the score could move with
    another test set of the same size.
    """
    y = np.asarray(y_true) == spec.positive_label
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(spec.seed)
    index = rng.integers(0, len(y), size=(n_resamples, len(y)))
    yb, predicted = y[index], scores[index] >= threshold
    tp = (yb & predicted).sum(axis=1).astype(float)
    fp = (~yb & predicted).sum(axis=1).astype(float)
    fn = (yb & ~predicted).sum(axis=1).astype(float)
    tn = (~yb & ~predicted).sum(axis=1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = {
            "accuracy": (tp + tn) / len(y),
            "precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
            "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            "false_positive_rate": np.where(fp + tn > 0, fp / (fp + tn), 0.0),
            "mcc": np.nan_to_num(
                (tp * tn - fp * fn)
                / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            ),
        }
    both = (yb.sum(axis=1) > 0) & (yb.sum(axis=1) < len(y))
    samples["roc_auc"] = np.array(
        [skm.roc_auc_score(yb[i], scores[index[i]]) for i in np.flatnonzero(both)]
    )
    point = binary_metrics(y_true, scores, threshold, spec)
    tail = (1 - level) / 2 * 100
    rows = [
        {"metric": name, "value": point[name],
         "low": float(np.percentile(values, tail)), "high": float(np.percentile(values, 100 - tail))}
        for name, values in samples.items()
    ]
    order = ["accuracy", "precision", "recall", "f1", "roc_auc", "mcc", "false_positive_rate"]
    return pd.DataFrame(rows).set_index("metric").loc[order]


def brier_score(y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> float:
    """Mean squared distance between P(positive) and the outcome: lower is better."""
    y = np.asarray(y_true) == spec.positive_label
    return float(np.mean((np.asarray(scores, dtype=float) - y) ** 2))


def reliability_table(
    y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec, bins: int = 10
) -> pd.DataFrame:
    """Per bin of predicted P(positive): mean prediction, observed share, count."""
    y = np.asarray(y_true) == spec.positive_label
    scores = np.asarray(scores, dtype=float)
    bin_of = np.minimum((scores * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": bin_of, "predicted": scores, "observed": y})
    table = frame.groupby("bin").agg(
        predicted=("predicted", "mean"), observed=("observed", "mean"),
        count=("observed", "size"),
    )
    return table.reset_index(drop=True)


LENGTH_BUCKETS = (0, 10, 25, 50, np.inf)


def slice_metrics(
    frame: pd.DataFrame, scores: np.ndarray, threshold: float, spec: ProblemSpec
) -> pd.DataFrame:
    """Accuracy and F1 by text length (words) and by source, with the slice sizes."""
    words = frame["text"].str.split().str.len()
    labels = ["<= 10 words", "11-25 words", "26-50 words", "> 50 words"]
    lengths = pd.cut(words, LENGTH_BUCKETS, labels=labels)
    rows = []
    sources = sorted(frame["source"].unique())
    for kind, keys, values in (("length", lengths, labels), ("source", frame["source"], sources)):
        for key in values:
            mask = (keys == key).to_numpy()
            if not mask.any():
                continue
            m = binary_metrics(frame["label"][mask], scores[mask], threshold, spec)
            rows.append({"slice": kind, "value": str(key), "texts": int(mask.sum()),
                         "accuracy": m["accuracy"], "f1": m["f1"]})
    return pd.DataFrame(rows).set_index(["slice", "value"])
