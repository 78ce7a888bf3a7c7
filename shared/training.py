"""Cross-validation on the training split only."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from shared import catalog, persistence
from shared.catalog import Catalog
from shared.evaluation import positive_scores, score_metric
from shared.problem import ProblemSpec


def folds(spec: ProblemSpec) -> StratifiedKFold:
    return StratifiedKFold(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)


def cross_validate(
    name: str, model: Pipeline, texts: pd.Series, labels: pd.Series, spec: ProblemSpec
) -> tuple[pd.DataFrame, np.ndarray]:
    """Score ``model`` on each fold with the spec's primary metric.

    Returns one row per fold (score, fit seconds) and the out-of-fold scores
    P(positive) for every training text: held-out predictions that later stages
    use as validation data (threshold choice) without touching the test split.
    """
    texts = texts.reset_index(drop=True)
    labels = labels.reset_index(drop=True)
    oof = np.zeros(len(texts))
    rows = []
    for fold, (fit_idx, val_idx) in enumerate(folds(spec).split(texts, labels), start=1):
        fitted = clone(model)
        start = time.perf_counter()
        fitted.fit(texts[fit_idx], labels[fit_idx])
        seconds = time.perf_counter() - start
        scores = positive_scores(fitted, texts[val_idx], spec)
        oof[val_idx] = scores
        value = score_metric(spec.primary_metric, labels[val_idx], scores, 0.5, spec)
        rows.append({"model": name, "fold": fold, spec.primary_metric: value, "fit_seconds": seconds})
    return pd.DataFrame(rows), oof


def summarize(cv: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and standard deviation of the CV score per model, best first."""
    table = cv.groupby("model", sort=False).agg(
        mean=(metric, "mean"), std=(metric, "std"), fit_seconds=("fit_seconds", "mean")
    )
    return table.sort_values("mean", ascending=False)


def save(
    cat: Catalog, model: Pipeline, baseline: Pipeline, cv: pd.DataFrame,
    train: pd.DataFrame, oof: np.ndarray, report: dict,
) -> None:
    """Write the fitted pipelines (skops), the CV table, out-of-fold scores and a summary."""
    persistence.save_model(model, cat.trained_model)
    persistence.save_model(baseline, cat.baseline_model)
    catalog.write_csv(cat.cv_results, cv)
    catalog.write_csv(
        cat.oof_predictions, pd.DataFrame({"label": train["label"], "score": oof})
    )
    catalog.write_json(cat.training_report, report)


def load_trained(cat: Catalog) -> tuple[Pipeline, Pipeline]:
    """The chosen pipeline and the baseline written by stage 4."""
    stage = "stage 4, notebooks/04_model_training.ipynb"
    model = persistence.load_model(catalog.require(cat.trained_model, stage))
    baseline = persistence.load_model(catalog.require(cat.baseline_model, stage))
    return model, baseline


def load_oof(cat: Catalog) -> pd.DataFrame:
    """Out-of-fold scores of the training split (validation data for the threshold)."""
    return catalog.read_csv(
        catalog.require(cat.oof_predictions, "stage 4, notebooks/04_model_training.ipynb")
    )
