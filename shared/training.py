"""Model selection on the training split only: search, cross-validation, learning curve."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    RandomizedSearchCV,
    StratifiedKFold,
    learning_curve,
)
from sklearn.pipeline import Pipeline

from shared.catalog import Catalog
from shared.decision import operating_score
from shared.models import BUDGETS, Candidate, describe_params
from shared.problem import ProblemSpec
from shared.records import TrainingReport
from shared.scoring import positive_scores


def folds(spec: ProblemSpec) -> StratifiedKFold:
    """The stratified, shuffled, seeded folds every stage-4 and stage-5 estimate uses."""
    return StratifiedKFold(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)


def cross_validate(
    name: str, model: Pipeline, texts: pd.Series, labels: pd.Series, spec: ProblemSpec
) -> tuple[pd.DataFrame, np.ndarray]:
    """Score ``model`` on each fold with the spec's primary metric (see operating_score).

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
        scores = positive_scores(fitted, texts[val_idx], spec.positive_label)
        oof[val_idx] = scores
        value = operating_score(labels[val_idx], scores, spec)
        rows.append({"model": name, "fold": fold, spec.primary_metric: value, "fit_seconds": seconds})
    return pd.DataFrame(rows), oof


SEARCHES = ("grid", "random")
SELECTION_RULES = ("best", "one_standard_error")
QUICK_BUDGET_MAX_ROWS = 2_000


def resolve_budget(budget: str, train_rows: int) -> str:
    """'auto' means quick on small data (the built-in sets), full on real data sets."""
    if budget == "auto":
        return "quick" if train_rows <= QUICK_BUDGET_MAX_ROWS else "full"
    if budget not in BUDGETS:
        raise ValueError(f"budget={budget!r}: choose 'auto', {', '.join(map(repr, BUDGETS))}")
    return budget


def primary_scorer(spec: ProblemSpec) -> Callable[[Pipeline, Sequence[str], Sequence[str]], float]:
    """:func:`operating_score` as a scikit-learn scorer."""

    def score(estimator: Pipeline, texts: Sequence[str], labels: Sequence[str]) -> float:
        return operating_score(labels, positive_scores(estimator, texts, spec.positive_label), spec)

    return score


def search(
    candidates: list[Candidate], texts: pd.Series, labels: pd.Series, spec: ProblemSpec,
    budget: str, method: str = "grid", n_iter: int = 4, n_jobs: int = -1,
) -> pd.DataFrame:
    """Cross-validated search of every candidate's grid; one row per configuration tried.

    Every configuration is scored on the same stratified folds of the training
    split with the spec's primary metric; nothing here sees the test split.
    """
    if method not in SEARCHES:
        raise ValueError(f"search={method!r}: choose one of {', '.join(SEARCHES)}")
    rows = []
    for candidate in candidates:
        grid = candidate.grids[budget]
        common = {"scoring": primary_scorer(spec), "cv": folds(spec), "n_jobs": n_jobs,
                  "refit": False, "error_score": "raise"}
        if method == "random" and len(ParameterGrid(grid)) > n_iter:
            searcher = RandomizedSearchCV(candidate.pipeline, grid, n_iter=n_iter,
                                          random_state=spec.seed, **common)
        else:
            searcher = GridSearchCV(candidate.pipeline, grid, **common)
        searcher.fit(list(texts), list(labels))
        results = searcher.cv_results_
        for i, params in enumerate(results["params"]):
            folds_scores = [results[f"split{k}_test_score"][i] for k in range(spec.cv_folds)]
            rows.append({
                "model": candidate.name,
                "params": describe_params(params),
                "mean": float(np.mean(folds_scores)),
                "std": float(np.std(folds_scores, ddof=1)),
                "fit_seconds": float(results["mean_fit_time"][i]),
                "complexity": candidate.complexity,
                "fold_scores": folds_scores,
                "raw_params": params,
            })
    return pd.DataFrame(rows)


def best_per_model(results: pd.DataFrame) -> pd.DataFrame:
    """The best configuration of each candidate, best first (ties: the simpler model)."""
    ranked = results.sort_values(["mean", "complexity"], ascending=[False, True])
    return ranked.groupby("model", sort=False).head(1).reset_index(drop=True)


def choose(best: pd.DataFrame, rule: str, folds_count: int) -> tuple[int, str]:
    """Index into ``best`` of the chosen model, and why it was chosen.

    ``best`` takes the highest mean CV score. ``one_standard_error`` takes the
    simplest model whose mean is within one standard error of the best: a
    difference smaller than that is not evidence that the complex model is better.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"selection={rule!r}: choose one of {', '.join(SELECTION_RULES)}")
    top = best.iloc[0]
    if rule == "best":
        return 0, f"highest mean cross-validated score ({top['mean']:.3f} ± {top['std']:.3f})"
    standard_error = top["std"] / np.sqrt(folds_count)
    within = best[best["mean"] >= top["mean"] - standard_error]
    index = int(within.sort_values(["complexity", "mean"], ascending=[True, False]).index[0])
    chosen = best.loc[index]
    return index, (
        f"simplest model within one standard error ({standard_error:.3f}) of the best "
        f"({top['model']}, {top['mean']:.3f}): {chosen['mean']:.3f}"
    )


def configured(candidate: Candidate, params: dict) -> Pipeline:
    """A fresh copy of the candidate's pipeline with the chosen parameters."""
    return clone(candidate.pipeline).set_params(**params)


def learning_curve_table(
    model: Pipeline, texts: pd.Series, labels: pd.Series, spec: ProblemSpec, n_jobs: int = -1
) -> pd.DataFrame:
    """Training and validation score against the number of training texts."""
    sizes, train_scores, valid_scores = learning_curve(
        model, list(texts), list(labels), cv=folds(spec), scoring=primary_scorer(spec),
        train_sizes=np.linspace(0.2, 1.0, 5), n_jobs=n_jobs,
    )
    return pd.DataFrame({
        "train_size": sizes,
        "train_mean": train_scores.mean(axis=1), "train_std": train_scores.std(axis=1),
        "valid_mean": valid_scores.mean(axis=1), "valid_std": valid_scores.std(axis=1),
    })


def summarize(cv: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and standard deviation of the CV score per model, best first."""
    table = cv.groupby("model", sort=False).agg(
        mean=(metric, "mean"), std=(metric, "std"), fit_seconds=("fit_seconds", "mean")
    )
    return table.sort_values("mean", ascending=False)


def results_table(results: pd.DataFrame) -> pd.DataFrame:
    """The search results as written to disk: readable parameters and fold scores."""
    table = results.drop(columns=["raw_params"]).copy()
    table["fold_scores"] = table["fold_scores"].map(lambda s: " ".join(f"{v:.4f}" for v in s))
    return table


def save(
    cat: Catalog, model: Pipeline, baseline: Pipeline, results: pd.DataFrame,
    train: pd.DataFrame, oof: np.ndarray, report: TrainingReport,
) -> None:
    """Write the fitted pipelines (skops), the search results, out-of-fold scores, a summary."""
    cat.write("trained_model", model)
    cat.write("baseline_model", baseline)
    cat.write("cv_results", results_table(results))
    cat.write("oof_predictions", pd.DataFrame({"label": train["label"], "score": oof}))
    report.save(cat)


def candidates_table(candidates: list[Candidate], budget: str) -> pd.DataFrame:
    """Each candidate with its pipeline and how many configurations the budget tries."""
    return pd.DataFrame([
        {"model": c.name, "pipeline": c.description,
         "configurations": len(ParameterGrid(c.grids[budget]))}
        for c in candidates
    ]).set_index("model")


def fold_table(best: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per model and fold, from the search's fold scores (for plotting)."""
    rows = [
        {"model": row["model"], "fold": k + 1, metric: score}
        for _, row in best.iterrows() for k, score in enumerate(row["fold_scores"])
    ]
    return pd.DataFrame(rows)


def search_report(
    best: pd.DataFrame, index: int, reason: str, results: pd.DataFrame, settings: dict,
    candidate: Candidate, dataset: str, train_rows: int,
) -> TrainingReport:
    """What stage 5, the manifest and the model card need to know about the search."""
    chosen = best.loc[index]
    return TrainingReport(
        chosen=chosen["model"],
        params=chosen["params"],
        model_description=f"{candidate.description} ({chosen['params']})",
        reason=reason,
        cv_mean=float(chosen["mean"]),
        cv_std=float(chosen["std"]),
        configurations_tried=len(results),
        search=settings,
        dataset=dataset,
        train_rows=train_rows,
    )
