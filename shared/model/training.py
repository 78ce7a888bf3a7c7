"""Stage 4's model selection on the training split: the search, the choice, the curve, the save.

The search itself (every configuration cross-validated on the same folds,
each vectorizer setting fitted once per fold) is ``shared.model.search``; this
module decides which budget and method to use, chooses among the results,
and writes stage 4's artifacts. Nothing here sees the test split.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline

from shared.core.catalog import Catalog
from shared.core.names import gender_augmented
from shared.core.problem import ProblemSpec
from shared.core.records import CollectionReport, TrainingReport
from shared.model import grid_extension, search
from shared.model.decision import operating_score
from shared.model.features import OPTIONAL_GROUPS
from shared.model.models import BUDGETS, Candidate, describe_params, majority_baseline
from shared.model.scoring import positive_scores

SEARCHES = ("auto", *search.METHODS)
SELECTION_RULES = ("best", "one_standard_error")
QUICK_BUDGET_MAX_ROWS = 2_000


def resolve_budget(budget: str, train_rows: int) -> str:
    """'auto' means quick on small data (the built-in sets), full on real data sets."""
    if budget == "auto":
        return "quick" if train_rows <= QUICK_BUDGET_MAX_ROWS else "full"
    if budget not in BUDGETS:
        raise ValueError(f"budget={budget!r}: choose 'auto', {', '.join(map(repr, BUDGETS))}")
    return budget


def resolve_search(method: str, budget: str) -> str:
    """'auto' is the grid: every configuration on every text (for the full budget, the
    expensive families go through successive halving first: see :func:`halved`)."""
    if method not in SEARCHES:
        raise ValueError(f"search={method!r}: choose one of {', '.join(SEARCHES)}")
    return "grid" if method == "auto" else method


def halved(candidates: list[Candidate], method: str, budget: str) -> set[str]:
    """The families whose grid is searched by successive halving: all of them for
    ``halving``; for ``auto`` on the full budget, the expensive ones (the forest)."""
    if method == "halving":
        return {c.name for c in candidates}
    if method == "auto" and budget == "full":
        return {c.name for c in candidates if c.expensive and budget in c.grids}
    return set()


def run_search(
    candidates: list[Candidate], train: pd.DataFrame, spec: ProblemSpec, budget: str,
    method: str = "auto", n_iter: int = 4, n_jobs: int = -1,
    min_texts_per_fold: int = search.MIN_TEXTS_PER_FOLD,
) -> search.SearchResult:
    """Search the candidates' grids for ``budget`` on the training split (see ``shared.model.search``),
    then each family's local settings at its best and past the grid's edges on the same folds
    (``shared.model.grid_extension``: ``result.extensions`` says what was tried)."""
    configs = search.configurations(candidates, budget, resolve_search(method, budget), n_iter,
                                    spec.seed)
    result = search.run(configs, train["text"], train["label"], spec,
                        halving=halved(candidates, method, budget), n_jobs=n_jobs,
                        min_texts_per_fold=min_texts_per_fold, keep_features=True)
    return grid_extension.refine(result, candidates, train["label"], spec, budget, n_jobs)


def cross_validate(
    name: str, model: Pipeline, texts: pd.Series, labels: pd.Series, spec: ProblemSpec
) -> tuple[pd.DataFrame, np.ndarray]:
    """Score one whole pipeline on each fold (the baseline has no features to share).

    Returns one row per fold (score, fit seconds) and the out-of-fold P(positive).
    """
    texts = texts.reset_index(drop=True)
    labels = labels.reset_index(drop=True)
    oof = np.zeros(len(texts))
    rows = []
    splits = list(search.folds(spec).split(texts, labels))
    every, every_label = list(texts), labels.to_numpy(dtype=object)
    if spec.gender_augmentation:  # as the search does: copies join the training parts only
        every, every_label, splits = gender_augmented(every, every_label, splits)
    every = np.array(every, dtype=object)
    for fold, (fit_idx, val_idx) in enumerate(splits, start=1):
        fitted = clone(model)
        start = time.perf_counter()
        fitted.fit(list(every[fit_idx]), list(every_label[fit_idx]))
        seconds = time.perf_counter() - start
        scores = positive_scores(fitted, texts[val_idx], spec.positive_label)
        oof[val_idx] = scores
        value = operating_score(labels[val_idx], scores, spec)
        rows.append({"model": name, "fold": fold, spec.primary_metric: value,
                     "fit_seconds": seconds})
    return pd.DataFrame(rows), oof


def best_per_model(results: pd.DataFrame) -> pd.DataFrame:
    """The best configuration of each candidate, best first (ties: the simpler model)."""
    ranked = results.sort_values(["mean", "complexity"], ascending=[False, True], kind="stable")
    return ranked.groupby("model", sort=False).head(1)


def choose(best: pd.DataFrame, rule: str, folds_count: int) -> tuple[Any, str]:
    """Index (a label of ``best``) of the chosen configuration, and why it was chosen.

    ``best`` takes the highest mean CV score. ``one_standard_error`` takes the
    simplest model whose mean is within one standard error of the best: a
    difference smaller than that is not evidence that the complex model is better.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"selection={rule!r}: choose one of {', '.join(SELECTION_RULES)}")
    top = best.iloc[0]
    if rule == "best":
        return best.index[0], (f"highest mean cross-validated score ({top['mean']:.3f} ± "
                               f"{top['std']:.3f})")
    standard_error = top["std"] / np.sqrt(folds_count)
    within = best[best["mean"] >= top["mean"] - standard_error]
    index = within.sort_values(["complexity", "mean"], ascending=[True, False]).index[0]
    chosen = best.loc[index]
    return index, (
        f"simplest model within one standard error ({standard_error:.3f}) of the best "
        f"({top['model']}, {top['mean']:.3f}): {chosen['mean']:.3f}"
    )


@dataclass(frozen=True)
class Choice:
    """The configuration a selection rule chose from a search, and the pipeline to fit."""

    index: Any  # its label in the search results: ``result.oof[index]`` are its OOF scores
    row: pd.Series  # its row of ``best_per_model(result.final())``
    reason: str
    rule: str
    candidate: Candidate
    model: Pipeline  # unfitted: the candidate's pipeline with the chosen parameters


def choose_configuration(result: search.SearchResult, candidates: list[Candidate], rule: str,
                         folds_count: int) -> Choice:
    """The best configuration of each family (:func:`best_per_model`), then the one ``rule``
    chooses among them (:func:`choose`), configured from its candidate."""
    final = best_per_model(result.final())
    index, reason = choose(final, rule, folds_count)
    row = final.loc[index]
    candidate = next(c for c in candidates if c.name == row["model"])
    return Choice(index, row, reason, rule, candidate, configured(candidate, row["raw_params"]))


def feature_ablation(results: pd.DataFrame, chosen: pd.Series) -> pd.DataFrame:
    """Each feature setting of the chosen configuration against every value it was tried
    with, from the search's own scores (no model is fitted for it).

    The grids switch feature groups on and off (``features__char``: the character
    n-grams; every group of ``shared.model.features.OPTIONAL_GROUPS``) and vary them (word
    n-gram range, ``min_df``); so the search itself is the ablation. A row compares
    the chosen configuration with the one that differs in that setting alone, on the
    last round both were scored in; its ``gain`` is what the chosen value adds to the
    mean CV score.
    """
    mine = results[results["config"] == chosen["config"]].set_index("round")["mean"]
    last = results.sort_values("round", kind="stable").groupby("config").tail(1)
    family = last[last["model"] == chosen["model"]]
    # a group switched only at the best configuration (a local grid) is off ("drop") wherever
    # a configuration does not name it
    groups = {k for p in [chosen["raw_params"], *family["raw_params"]] for k in p
              if k.removeprefix("features__") in OPTIONAL_GROUPS}

    def complete(raw: dict) -> dict:
        return {**dict.fromkeys(groups, "drop"), **raw}

    params = complete(chosen["raw_params"])
    rows = []
    for key in sorted(k for k in params if k.startswith("features__")):
        rest = describe_params({k: v for k, v in params.items() if k != key})
        setting = describe_params({key: params[key]})
        for _, other in family.iterrows():
            theirs = complete(other["raw_params"])
            alternative = describe_params({key: theirs[key]})
            if (alternative == setting
                    or describe_params({k: v for k, v in theirs.items() if k != key}) != rest):
                continue  # not the chosen configuration with this one setting changed
            with_chosen = float(mine[other["round"]])
            rows.append({"setting": key.removeprefix("features__"), "chosen": setting,
                         "alternative": alternative,
                         "round": int(other["round"]), "chosen_mean": with_chosen,
                         "alternative_mean": float(other["mean"]),
                         "gain": with_chosen - float(other["mean"])})
    return pd.DataFrame(rows, columns=["setting", "chosen", "alternative", "round",
                                       "chosen_mean", "alternative_mean", "gain"])


def configured(candidate: Candidate, params: dict) -> Pipeline:
    """A fresh copy of the candidate's pipeline with the chosen parameters."""
    return clone(candidate.pipeline).set_params(**params)


def learning_curve(
    result: search.SearchResult, chosen: pd.Series, candidate: Candidate, train: pd.DataFrame,
    spec: ProblemSpec, n_jobs: int = -1,
) -> pd.DataFrame:
    """Training and validation score of the chosen configuration against training texts.

    After successive halving the chosen configuration was scored in every round,
    on ever larger subsets: those rounds are its curve, at no extra cost.
    Otherwise it is refitted on a quarter and a half of each fold
    (``shared.model.search.learning_curve``), the whole of each fold being the search's own
    fits: three points, each costing a search's worth of fits of one configuration.
    """
    rounds = result.table[result.table["config"] == chosen["config"]].sort_values("round")
    if len(rounds) > 1:
        share = (spec.cv_folds - 1) / spec.cv_folds  # the training part of each fold
        return pd.DataFrame([search.curve_point(int(row["texts"] * share), row)
                             for _, row in rounds.iterrows()])
    config = search.Configuration(candidate, chosen["raw_params"])
    return search.learning_curve(config, train["text"], train["label"], spec, n_jobs=n_jobs,
                                 searched=chosen.to_dict())


def versus_baseline(chosen: pd.Series, baseline: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean and standard deviation over the folds of the chosen model and of the baseline."""
    folds = pd.concat([fold_table(chosen.to_frame().T, metric), baseline[["model", "fold", metric]]])
    return folds.groupby("model", sort=False)[metric].agg(["mean", "std"])


def fit_final(model: Pipeline, texts: pd.Series, labels: pd.Series,
              spec: ProblemSpec | None = None) -> list[str]:
    """Fit the chosen pipeline on the whole training split (with the spec's gender
    augmentation, as in the search); return any convergence warnings."""
    texts, labels = list(texts), np.asarray(labels, dtype=object)
    if spec is not None and spec.gender_augmentation:
        texts, labels, _ = gender_augmented(texts, labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(texts, list(labels))
    return sorted({str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)})


def fit_and_save(
    cat: Catalog, model: Pipeline, candidate: Candidate, chosen: pd.Series, reason: str,
    result: search.SearchResult, train: pd.DataFrame, oof: np.ndarray, settings: dict,
    spec: ProblemSpec | None = None,
) -> TrainingReport:
    """Fit the chosen pipeline and the majority baseline on the whole training split (with
    ``spec``'s gender augmentation); save them with the search results, the out-of-fold
    scores and the report (returned)."""
    unconverged = fit_final(model, train["text"], train["label"], spec)
    baseline = majority_baseline().fit(train["text"], train["label"])
    report = search_report(
        chosen, reason, result.table, settings, candidate, CollectionReport.load(cat).origin,
        len(train), sorted(set(chosen["convergence_warnings"]) | set(unconverged)))
    save(cat, model, baseline, result.table, train, oof, report)
    return report


def results_table(results: pd.DataFrame) -> pd.DataFrame:
    """The search results as written to disk: readable parameters and fold scores."""
    table = results.drop(columns=["raw_params", "config", "train_fold_scores"]).copy()
    table["fold_scores"] = table["fold_scores"].map(lambda s: " ".join(f"{v:.4f}" for v in s))
    table["convergence_warnings"] = table["convergence_warnings"].map(len)
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
        for c in candidates if budget in c.grids
    ]).set_index("model")


def grid_table(candidates: list[Candidate], budget: str) -> pd.DataFrame:
    """The grid itself: each candidate's searched parameters and their values, and how they
    are searched: in every combination (the grid), or at the family's best configuration
    only (its ``local_grids``: ``shared.model.grid_extension``)."""
    rows = []
    for candidate in (c for c in candidates if budget in c.grids):
        for how, grid in (("grid", candidate.grids[budget]),
                          ("at the best", candidate.local_grids.get(budget, {}))):
            for name, values in grid.items():
                shown = [describe_params({name: v}).split("=")[-1] for v in values]
                rows.append({"model": candidate.name, "parameter": name,
                             "values": ", ".join(shown), "searched": how})
    return pd.DataFrame(rows).set_index(["model", "parameter"])


def fold_table(best: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per model and fold, from the search's fold scores (for plotting)."""
    rows = [
        {"model": row["model"], "fold": k + 1, metric: score}
        for _, row in best.iterrows() for k, score in enumerate(row["fold_scores"])
    ]
    return pd.DataFrame(rows)


def search_report(
    chosen: pd.Series, reason: str, results: pd.DataFrame, settings: dict,
    candidate: Candidate, dataset: str, train_rows: int, convergence_warnings: list[str],
) -> TrainingReport:
    """What stage 5, the manifest and the model card need to know about the search."""
    return TrainingReport(
        chosen=chosen["model"],
        params=chosen["params"],
        model_description=f"{candidate.description} ({chosen['params']})",
        reason=reason,
        cv_mean=float(chosen["mean"]),
        cv_std=float(chosen["std"]),
        configurations_tried=int(results["config"].nunique()),
        search=settings,
        dataset=dataset,
        train_rows=train_rows,
        convergence_warnings=convergence_warnings,
    )
