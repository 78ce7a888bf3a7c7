"""One function per kind of figure; each returns the matplotlib Figure it drew."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from shared.core.problem import ProblemSpec
from shared.monitoring.alerts import Rule, rules


def class_balance(splits: dict[str, pd.DataFrame], spec: ProblemSpec) -> Figure:
    """Label counts per split: stratification should keep the shares equal."""
    counts = pd.concat(
        [frame.assign(split=name) for name, frame in splits.items()], ignore_index=True
    )
    fig, ax = plt.subplots(figsize=(6, 3.2))
    sns.countplot(data=counts, x="split", hue="label", hue_order=list(spec.labels), ax=ax)
    ax.set(title="Class balance by split", xlabel="", ylabel="texts")
    fig.tight_layout()
    return fig


def length_by_class(frame: pd.DataFrame, spec: ProblemSpec) -> Figure:
    """Distribution of text length (words) for each label."""
    data = frame.assign(words=frame["text"].str.split().str.len())
    fig, ax = plt.subplots(figsize=(6, 3.2))
    sns.histplot(
        data=data, x="words", hue="label", hue_order=list(spec.labels), bins=30,
        element="step", stat="count", common_norm=False, ax=ax,
    )
    ax.set(title="Text length by class", xlabel="words per text", ylabel="texts")
    fig.tight_layout()
    return fig


def top_terms(terms: pd.DataFrame, xlabel: str = "chi-squared score") -> Figure:
    """Horizontal bars of the most telling terms of each class (column ``weight``)."""
    fig, axes = plt.subplots(1, terms["label"].nunique(), figsize=(9, 3.8))
    for ax, (label, group) in zip(np.atleast_1d(axes), terms.groupby("label", sort=True), strict=True):
        group = group.sort_values("weight")
        ax.barh(group["term"], group["weight"], color="tab:blue")
        ax.set(title=f"terms that point to '{label}'", xlabel=xlabel)
    fig.tight_layout()
    return fig


def cv_scores(cv: pd.DataFrame, metric: str, target: float) -> Figure:
    """Cross-validated score of each model, one dot per fold, with the target line."""
    fig, ax = plt.subplots(figsize=(6, 2.8))
    sns.pointplot(data=cv, x=metric, y="model", errorbar="sd", linestyle="none", ax=ax,
                  color="tab:blue", capsize=0.2)
    # seaborn jitters the dots with numpy's global generator: seed it here (and put it
    # back afterwards) so that the same scores always give the same picture
    state = np.random.get_state()
    np.random.seed(0)
    sns.stripplot(data=cv, x=metric, y="model", color="0.4", size=4, ax=ax)
    np.random.set_state(state)
    ax.axvline(target, color="tab:red", linestyle="--", label=f"target {target:.2f}")
    ax.set(title=f"Cross-validated {metric} (mean ± sd, dots = folds)", xlabel=metric, ylabel="")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def learning_curve(table: pd.DataFrame, metric: str, target: float) -> Figure:
    """Training and validation score against training-set size, with ±1 sd bands."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for kind, colour in (("train", "tab:gray"), ("valid", "tab:blue")):
        mean, std = table[f"{kind}_mean"], table[f"{kind}_std"]
        ax.plot(table["train_size"], mean, marker="o", color=colour,
                label="training folds" if kind == "train" else "validation folds")
        ax.fill_between(table["train_size"], mean - std, mean + std, color=colour, alpha=0.2)
    ax.axhline(target, color="tab:red", linestyle="--", label=f"target {target:.2f}")
    ax.set(title="Learning curve of the chosen model", xlabel="training texts", ylabel=metric)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def reliability(tables: dict[str, pd.DataFrame]) -> Figure:
    """Reliability diagram: observed share of positives against predicted probability."""
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="perfectly calibrated")
    for name, table in tables.items():
        ax.plot(table["predicted"], table["observed"], marker="o", label=name)
    ax.set(title="Reliability (validation, out-of-fold)", xlabel="predicted P(positive)",
           ylabel="observed share positive", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def confusion_heatmap(metrics: dict[str, int], spec: ProblemSpec) -> Figure:
    """The confusion matrix, rows = true label, columns = predicted label."""
    neg, pos = spec.negative_label, spec.positive_label
    matrix = pd.DataFrame(
        [[metrics["true_negatives"], metrics["false_positives"]],
         [metrics["false_negatives"], metrics["true_positives"]]],
        index=pd.Index([neg, pos], name="true"), columns=pd.Index([neg, pos], name="predicted"),
    )
    fig, ax = plt.subplots(figsize=(4, 3.2))
    sns.heatmap(matrix, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    ax.set(title="Confusion matrix (test split)")
    fig.tight_layout()
    return fig


def roc_and_pr(y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> Figure:
    """ROC curve and precision-recall curve side by side."""
    y = np.asarray(y_true) == spec.positive_label
    fpr, tpr, _ = roc_curve(y, scores)
    precision, recall, _ = precision_recall_curve(y, scores)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    left.plot(fpr, tpr, color="tab:blue")
    left.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="chance")
    left.set(title="ROC curve", xlabel="false positive rate", ylabel="true positive rate")
    left.legend(loc="lower right")
    right.plot(recall, precision, color="tab:blue")
    right.axhline(y.mean(), color="0.6", linestyle="--", label="chance")
    right.set(title="Precision-recall curve", xlabel="recall", ylabel="precision", ylim=(0, 1.02))
    right.legend(loc="lower left")
    fig.tight_layout()
    return fig


def threshold_metrics(curve: pd.DataFrame, chosen: float) -> Figure:
    """Precision, recall, F1 and false-positive rate against the decision threshold."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for column in ("precision", "recall", "f1", "false_positive_rate"):
        ax.plot(curve["threshold"], curve[column], label=column)
    ax.axvline(chosen, color="black", linestyle=":", label=f"chosen {chosen:.2f}")
    ax.set(title="Metrics against the decision threshold (validation)", xlabel="threshold")
    ax.legend(loc="center left", fontsize="small")
    fig.tight_layout()
    return fig


def monitoring_windows(
    reports: pd.DataFrame, spec: ProblemSpec, panels: Sequence[tuple[str, str, str]] | None = None,
) -> Figure:
    """Each monitored figure over windows (one panel a figure), with its alert threshold.

    ``reports`` has one row per window (``shared.monitoring.alerts.monitor``); each
    panel draws the figure per window, the stage-1 threshold as a dashed line,
    the reference's own value (where it has one) as a dotted line, and marks in
    red the windows where the rule fired.
    """
    limits: dict[str, Rule] = {}
    for rule in rules(spec):  # the first rule of a figure: for live quality, the target
        if rule.threshold(spec) is not None:
            limits.setdefault(rule.metric, rule)
    panels = panels or [
        ("low_confidence_share", "share under confidence threshold", "reference_low_confidence_share"),
        ("mean_confidence", "mean confidence", "reference_mean_confidence"),
        ("unknown_word_share", "share of unknown words", "reference_unknown_word_share"),
        ("confidence_psi", "PSI of confidence", ""),
        ("confidence_ks_pvalue", "KS p-value, confidence", ""),
        ("length_ks_pvalue", "KS p-value, text length", ""),
        ("label_shift", "label share gap to prior", ""),
        ("domain_auc", "domain classifier ROC-AUC", ""),
        (f"live_{spec.primary_metric}", f"live {spec.primary_metric} (feedback)", ""),
    ]
    panels = [p for p in panels if p[0] in reports.columns]
    columns = 3
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(10, 2.4 * rows), squeeze=False)
    x = np.arange(len(reports))
    names = [str(name) for name in reports.index]
    for ax, (metric, title, reference_column) in zip(axes.ravel(), panels, strict=False):
        values = reports[metric].astype(float).to_numpy()
        rule = limits.get(metric)
        ax.plot(x, values, color="0.5", linewidth=1, zorder=1)
        if rule is not None:
            threshold = rule.threshold(spec)
            fired = rule.fired(values, threshold)
            ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1, label="threshold")
        else:
            fired = np.zeros(len(values), dtype=bool)
        ax.scatter(x, values, c=np.where(fired, "tab:red", "tab:blue"), zorder=2, s=30)
        if reference_column and reference_column in reports.columns:
            ax.axhline(float(reports[reference_column].iloc[0]), color="0.3", linestyle=":",
                       linewidth=1, label="reference")
        ax.set_title(title, fontsize="medium")
        ax.set_xticks(x, names, fontsize="small")
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.margins(y=0.25)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Monitoring figures per window (red: the rule fired; dashed: threshold; "
                 "dotted: reference)", fontsize="medium")
    fig.tight_layout()
    return fig


def confidence_by_window(
    confidences: dict[str, Sequence[float]], reference: Sequence[float], threshold: float
) -> Figure:
    """Confidence distribution of each window against the test-split reference."""
    data = pd.concat(
        [pd.DataFrame({"confidence": reference, "set": "reference (test split)"})]
        + [pd.DataFrame({"confidence": values, "set": name}) for name, values in confidences.items()],
        ignore_index=True,
    )
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    sns.histplot(data=data, x="confidence", hue="set", bins=np.linspace(0.5, 1, 11),
                 stat="density", common_norm=False, element="step", fill=False, ax=ax)
    ax.axvline(threshold, color="tab:red", linestyle="--")
    ax.set(title="Confidence per window vs reference (dashed: confidence threshold)",
           xlabel="confidence of predicted label")
    fig.tight_layout()
    return fig
