"""The stage-4 search: every configuration cross-validated, each feature setting fitted once.

Every candidate is a scikit-learn ``Pipeline``: ``clean`` -> ``features`` (a
vectorizer, or a ``FeatureUnion`` of word and character vectorizers) -> the
steps that learn from the labels (NB scaling, the classifier). Refitting the
vectorizers for every configuration is most of the cost of a grid search on
text, and needless: a vectorizer's output depends only on its own settings
and the fold. So per fold each distinct vectorizer setting is fitted once, its
matrices are kept, and every configuration trains only its label-dependent
steps on them. The matrices are exactly what the pipeline itself would build
(same fit, same ``FeatureUnion`` stacking), so the scores are those of a
``GridSearchCV`` over the whole pipeline with the same folds, and the
out-of-fold scores of every configuration come out of the search for free.

Where a family's fits are expensive on large training sets (the random forest:
a minute a fit on rt-polarity), its grid is searched by successive halving,
the rule of scikit-learn's ``HalvingGridSearchCV`` (resource: training texts,
factor 3): its configurations are scored on a stratified subset, the best third
goes on to a subset three times larger, and the last round, on every text,
joins the other families' configurations. Halving is not used for the linear
families by default: on subsets they prefer stronger regularization than on
all texts, and on rt-polarity halving kept NB-SVM with C=1 where the full grid
finds C=10 (``benchmarks/search.py``). The halving rounds are also a learning
curve of the configurations that lasted.

Fits run in parallel through joblib, so ``joblib.parallel_config(backend="dask")``
spreads them over a Dask cluster.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import (
    ParameterGrid,
    ParameterSampler,
    StratifiedKFold,
    train_test_split,
)
from sklearn.pipeline import Pipeline

from shared.core.problem import ProblemSpec
from shared.model.decision import operating_score
from shared.model.fold_features import FoldFeatures, stack
from shared.model.models import Candidate, describe_params

METHODS = ("grid", "random", "halving")
#: successive halving keeps the best 1/FACTOR of the configurations each round
FACTOR = 3
#: the smallest subset a halving round scores on, per cross-validation fold: on fewer texts
#: the fold scores are too noisy to rank the configurations by (measured on rt-polarity and
#: sms-spam with benchmarks/search.py)
MIN_TEXTS_PER_FOLD = 150


@dataclass(frozen=True)
class Configuration:
    """One point of a candidate's grid: the pipeline with these parameters."""

    candidate: Candidate
    params: dict[str, Any]

    @property
    def pipeline(self) -> Pipeline:
        """A fresh, unfitted copy of the candidate's pipeline with the parameters set."""
        return clone(self.candidate.pipeline).set_params(**self.params)


def configurations(
    candidates: list[Candidate], budget: str, method: str, n_iter: int, seed: int
) -> list[Configuration]:
    """Every configuration to try: each candidate's whole grid, or ``n_iter`` drawn from it
    (``random``); ``grid`` and ``halving`` both start from the whole grid."""
    if method not in METHODS:
        raise ValueError(f"search={method!r}: choose one of {', '.join(METHODS)}")
    result = []
    for candidate in candidates:
        if budget not in candidate.grids:
            continue  # a family searched on other budgets only (the forest: small data)
        grid = candidate.grids[budget]
        points = (ParameterSampler(grid, n_iter, random_state=seed)
                  if method == "random" and len(ParameterGrid(grid)) > n_iter
                  else ParameterGrid(grid))
        result += [Configuration(candidate, dict(params)) for params in points]
    return result


@dataclass
class SearchResult:
    """What the search found: one row per configuration and round, and out-of-fold scores.

    ``table`` has, per configuration, its ``model``, readable ``params``, the
    halving ``round`` and the ``texts`` it was scored on, the ``mean`` and
    ``std`` of its fold scores, ``fold_scores``, ``fit_seconds`` (mean per
    fold), ``complexity`` and ``raw_params``. ``oof`` holds, for every
    configuration scored on all training texts (the last round), its
    out-of-fold P(positive) for every training text, keyed by the table's index.
    """

    table: pd.DataFrame
    oof: dict[int, np.ndarray] = field(default_factory=dict)
    #: what ``shared.model.grid_extension`` tried after the grid, per family and parameter
    extensions: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the last round's feature blocks (``run(keep_features=True)``), so that further
    #: configurations are scored on the same folds without refitting the vectorizers
    features: FoldFeatures | None = field(default=None, repr=False)

    def final(self) -> pd.DataFrame:
        """The rows scored on every training text: the ones to choose among."""
        last = self.table["texts"] == self.table["texts"].max()
        return self.table[last]


def _label_steps(pipeline: Pipeline) -> Pipeline:
    """The steps after ``features``: the ones that learn from the labels."""
    index = [name for name, _ in pipeline.steps].index("features")
    return Pipeline(pipeline.steps[index + 1:])


def _fit_and_score(
    steps: list[Pipeline], parts: list[tuple[Any, Any]], labels: np.ndarray, positive_label: str,
    grows_from: list[int | None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Fit each configuration's label steps on one fold's features.

    Returns, for each, P(positive) of the validation texts and of the training
    texts (for the learning curve), the fit seconds, and the messages of any
    ``ConvergenceWarning`` (an optimiser that stopped before converging). One task per fold and
    feature setting, so the matrices travel to a worker once for all the
    configurations that share them. Where ``grows_from[k]`` names an earlier step (the
    same forest with fewer trees, see :func:`_growth`), step ``k`` is that forest grown to
    its number of trees by ``warm_start``, which gives the very forest a fresh fit would;
    its fit seconds include the smaller forest's.
    """
    train, valid = stack(parts)
    answers = []
    fitted: list[Pipeline] = []
    for k, pipeline in enumerate(steps):
        base = grows_from[k] if grows_from else None
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            if base is not None:  # only the missing trees are fitted
                trees = pipeline.get_params()["clf__n_estimators"]
                pipeline = fitted[base].set_params(clf__warm_start=True, clf__n_estimators=trees)
            else:  # a copy: in one process the folds' tasks share the step objects
                pipeline = clone(pipeline)
            pipeline.fit(train, labels)
        fitted.append(pipeline)
        seconds = time.perf_counter() - start + (answers[base][2] if base is not None else 0.0)
        column = list(pipeline.classes_).index(positive_label)
        unconverged = sorted({str(w.message) for w in caught
                              if issubclass(w.category, ConvergenceWarning)})
        answers.append((pipeline.predict_proba(valid)[:, column],
                        pipeline.predict_proba(train)[:, column], seconds, unconverged))
    return answers


def cross_validate(
    configs: list[Configuration], texts: Sequence[str], labels: Sequence[str],
    spec: ProblemSpec, n_jobs: int = -1, splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    features: FoldFeatures | None = None,
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """Score every configuration on the spec's folds of ``texts`` (or on ``splits``, or on
    the texts and folds of ``features``, whose fitted blocks are reused).

    Returns one row per configuration (validation and training fold scores,
    their mean and standard deviation, fit seconds) and its out-of-fold
    P(positive) for every text. With the spec's ``gender_augmentation``, each fold's
    training part also holds a gender-swapped copy of its texts that have a gendered word
    (``shared.core.names.gender_augmented``); validation parts hold the originals only.
    """
    labels = np.asarray(labels)
    if features is None:
        splits = splits or list(folds(spec).split(np.zeros(len(labels)), labels))
        features = FoldFeatures.for_spec(texts, labels, splits, spec)
    # with given blocks, those fitted on these texts and folds are reused: only new ones fit
    splits, labels, count = features.folds, features.labels, features.count
    pipelines = [c.pipeline for c in configs]
    features.prepare(pipelines, n_jobs)
    order, grows = _growth(configs)
    groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
    for i in order:
        keys = tuple(key for key, _ in FoldFeatures.blocks(pipelines[i]))
        for fold in range(len(splits)):
            groups.setdefault((fold, keys), []).append(i)
    answers_by_group = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score)([_label_steps(pipelines[i]) for i in members],
                                features.parts(pipelines[members[0]], fold),
                                labels[splits[fold][0]], spec.positive_label,
                                [members.index(grows[i]) if grows[i] in members else None
                                 for i in members])
        for (fold, _), members in groups.items()
    )
    answers = {(i, fold): answer
               for ((fold, _), members), group_answers in zip(groups.items(), answers_by_group,
                                                              strict=True)
               for i, answer in zip(members, group_answers, strict=True)}
    rows, oofs = [], []
    for i, config in enumerate(configs):
        oof = np.zeros(len(labels))
        scores, train_scores, seconds, unconverged = [], [], [], set()
        for fold, (train, valid) in enumerate(splits):
            scored, scored_train, fit_seconds, messages = answers[(i, fold)]
            unconverged.update(messages)
            oof[valid] = scored
            scores.append(operating_score(labels[valid], scored, spec))
            train_scores.append(operating_score(labels[train], scored_train, spec))
            seconds.append(fit_seconds)
        rows.append({
            "model": config.candidate.name,
            "params": describe_params(config.params),
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores, ddof=1)),
            "train_mean": float(np.mean(train_scores)),
            "train_std": float(np.std(train_scores, ddof=1)),
            "fit_seconds": float(np.mean(seconds)),
            "complexity": config.candidate.complexity,
            "fold_scores": scores,
            "train_fold_scores": train_scores,
            "convergence_warnings": sorted(unconverged),
            "raw_params": config.params,
        })
        oofs.append(oof[:count])
    return rows, oofs


def _growth(configs: list[Configuration]) -> tuple[list[int], dict[int, int | None]]:
    """The configurations in the order to fit them, and for each, the configuration whose
    forest it grows from: for a random forest, the one with the next smaller number of trees
    and every other parameter equal. A forest's trees are drawn from its ``random_state`` in
    order, so its first 100 trees are those of the same forest with 100 trees: grown by
    ``warm_start`` from it, a forest of 200 trees is the one a fresh fit would give, for
    half the trees (tested)."""
    def rest(config: Configuration) -> str:
        """The candidate and every parameter but the number of trees."""
        return repr((config.candidate.name, sorted((k, repr(v)) for k, v in config.params.items()
                                                   if k != "clf__n_estimators")))

    def trees(config: Configuration) -> int:
        return int(config.params.get("clf__n_estimators", 0))

    forests = {i for i, c in enumerate(configs)
               if isinstance(c.candidate.pipeline.named_steps.get("clf"), RandomForestClassifier)
               and "clf__n_estimators" in c.params}

    def position(i: int) -> tuple[int, str, int, int]:
        """Forests first, those with equal other parameters together, fewest trees first."""
        if i in forests:
            return 0, rest(configs[i]), trees(configs[i]), i
        return 1, "", 0, i

    order = sorted(range(len(configs)), key=position)
    grows: dict[int, int | None] = dict.fromkeys(range(len(configs)))
    for before, after in zip(order, order[1:], strict=False):
        if {before, after} <= forests and rest(configs[before]) == rest(configs[after]) \
                and trees(configs[before]) < trees(configs[after]):
            grows[after] = before
    return order, grows


def learning_curve(
    config: Configuration, texts: Sequence[str], labels: Sequence[str], spec: ProblemSpec,
    fractions: Sequence[float] = (0.25, 0.5, 1.0), n_jobs: int = -1,
    searched: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Training and validation score against the number of training texts.

    In every fold the model is fitted on the first ``fraction`` of the fold's
    training part and scored on the fold's validation part. At fraction 1 those
    are the search's own fits: pass their row as ``searched`` and they are not
    fitted again.
    """
    labels = np.asarray(labels)
    splits = list(folds(spec).split(np.zeros(len(labels)), labels))
    fitted = [f for f in fractions if not (f == 1 and searched is not None)]
    subsets = [(train[:max(2, int(fraction * len(train)))], valid)
               for fraction in fitted for train, valid in splits]
    # every (size, fold) fit in one parallel batch: better shared between the workers
    row = cross_validate([config], texts, labels, spec, n_jobs, splits=subsets)[0][0] \
        if subsets else None
    points = []
    for fraction in fractions:
        sizes = [max(2, int(fraction * len(train))) for train, _ in splits]
        if fraction == 1 and searched is not None:
            scores = searched
        else:
            part = slice(fitted.index(fraction) * len(splits), (fitted.index(fraction) + 1)
                         * len(splits))
            scores = {"fold_scores": row["fold_scores"][part],
                      "train_fold_scores": row["train_fold_scores"][part]}
        points.append(curve_point(int(np.mean(sizes)), scores))
    return pd.DataFrame(points)


def curve_point(train_size: int, row: dict[str, Any]) -> dict[str, float]:
    """One point of a learning curve from a row of the search: means and (population)
    standard deviations of the training and validation fold scores."""
    return {"train_size": train_size,
            "train_mean": float(np.mean(row["train_fold_scores"])),
            "train_std": float(np.std(row["train_fold_scores"])),
            "valid_mean": float(np.mean(row["fold_scores"])),
            "valid_std": float(np.std(row["fold_scores"]))}


def folds(spec: ProblemSpec) -> StratifiedKFold:
    """The stratified, shuffled, seeded folds every stage-4 and stage-5 estimate uses."""
    return StratifiedKFold(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)


def run(
    configs: list[Configuration], texts: Sequence[str], labels: Sequence[str],
    spec: ProblemSpec, halving: set[str] | None = None, n_jobs: int = -1,
    min_texts_per_fold: int = MIN_TEXTS_PER_FOLD, keep_features: bool = False,
) -> SearchResult:
    """Cross-validate every configuration on every text; the models named in ``halving``
    by successive halving first, whose last round joins the others. ``keep_features``
    keeps the last round's fitted blocks in the result (``SearchResult.features``)."""
    texts, labels = list(texts), np.asarray(labels)
    halving = halving or set()
    halved = [i for i, c in enumerate(configs) if c.candidate.name in halving]
    everyone = [i for i in range(len(configs)) if i not in halved]
    rounds = (halving_rounds(len(halved), len(texts), spec.cv_folds, min_texts_per_fold)
              if halved else [len(texts)])
    rows, oof = [], {}
    for number, size in enumerate(rounds):
        last = number == len(rounds) - 1
        alive = sorted(halved + everyone) if last else halved
        subset = _stratified_subset(labels, size, spec.seed)
        kept = (FoldFeatures.for_spec(
            [texts[j] for j in subset], labels[subset],
            list(folds(spec).split(np.zeros(len(subset)), labels[subset])), spec)
                if last and keep_features else None)
        scored, oofs = cross_validate([configs[i] for i in alive], [texts[j] for j in subset],
                                      labels[subset], spec, n_jobs, features=kept)
        for i, row, scores in zip(alive, scored, oofs, strict=True):
            rows.append({"config": i, "round": number + 1, "texts": size, **row})
            if last:
                oof[len(rows) - 1] = scores
        if not last:
            keep = math.ceil(len(halved) / FACTOR)
            ranked = sorted(zip(alive, scored, strict=True),
                            key=lambda pair: (-pair[1]["mean"], pair[1]["complexity"]))
            halved = sorted(i for i, _ in ranked[:keep])
    table = pd.DataFrame(rows)
    columns = ["model", "params", "round", "texts", "mean", "std", "train_mean", "train_std",
               "fit_seconds", "complexity", "fold_scores", "train_fold_scores",
               "convergence_warnings", "raw_params", "config"]
    return SearchResult(table[columns], oof, features=kept)


def halving_rounds(
    candidates: int, texts: int, folds: int, min_texts_per_fold: int = MIN_TEXTS_PER_FOLD
) -> list[int]:
    """The training-set size of each successive-halving round, the last being all of them.

    As scikit-learn's "exhaust" setting: as many rounds as it takes to leave at
    most FACTOR configurations, fewer when the first subset would be too
    small; the first size is the largest that still lets the last round use
    every text.
    """
    needed = 1 + int(math.floor(math.log(max(candidates, 1), FACTOR)))
    smallest = min_texts_per_fold * folds
    possible = 1 + int(math.floor(math.log(max(texts // smallest, 1), FACTOR)))
    count = max(1, min(needed, possible))
    first = texts // FACTOR ** (count - 1)
    return [texts if r == count - 1 else first * FACTOR ** r for r in range(count)]


def _stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` positions of ``labels`` with the label shares kept (all of them, in order,
    when ``size`` is their number)."""
    everything = np.arange(len(labels))
    if size >= len(labels):
        return everything
    subset, _ = train_test_split(everything, train_size=size, stratify=labels, random_state=seed)
    return np.sort(subset)
