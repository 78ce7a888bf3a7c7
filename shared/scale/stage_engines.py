"""One interface to stages 2 to 5 on either engine: the notebooks call it and never branch.

Stage 2 resolves the engine (``shared.data.engines``); each notebook then asks
:func:`for_name` for a :class:`StageEngine` and calls one method per step. Both
engines return the same records, and the model-wing code around them (the choice,
metrics, intervals, behavioural tests, the gate) is one and the same:

============  ==================================  =========================================
method        in memory (:class:`InMemory`)       out of core (:class:`OutOfCore`)
============  ==================================  =========================================
collect       load, validate, save the snapshot   validate chunk by chunk into Parquet parts
prepare       clean, de-duplicate, split, save    one pass over the parts, split by a hash
plan_search   the training split, five families   a sample without near-duplicates;
                                                  hashing and NB-SVM candidates
search        the grid on the training split      the grid on the sample (on Dask, if any)
fit_and_save  fit on the split; a learning curve  ``partial_fit`` over every part; its curve
calibrate     on stage 4's out-of-fold scores     on the rows held out of ``partial_fit``
score_test    the test split at once              part by part (on Dask, a task per part)
term_weights  read at the TF-IDF columns          the same for NB-SVM; hashed: read at
                                                  the known words' hashed columns
============  ==================================  =========================================

The out-of-core engine connects to a Dask cluster inside the methods that can use
one (``shared.scale.cluster.connect``: ``DASK_SCHEDULER_ADDRESS``, which the
runner's ``--dask`` sets), so a notebook never handles a client.

Each method imports what its step needs when it runs: stage 2's kernel must load
no scikit-learn (``tests/run/test_notebook.py``), and each kernel loads only the
libraries of its own stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import CollectionReport, PreparationReport, TrainingReport
from shared.data.engines import MEMORY, OUT_OF_CORE
from shared.scale import cluster

if TYPE_CHECKING:
    from shared.model.calibration import CalibrationResult
    from shared.model.models import Candidate
    from shared.model.search import SearchResult
    from shared.model.training import Choice

@dataclass(frozen=True)
class Collected:
    """Stage 2: the first rows read and the collection report (the artifacts are written)."""

    first_rows: pd.DataFrame  # out of core: the first kept rows
    report: CollectionReport


@dataclass(frozen=True)
class Prepared:
    """Stage 3: its report, the splits and the training texts the figures are drawn from."""

    report: PreparationReport
    splits: dict[str, pd.DataFrame]  # out of core: each split's labels only
    train_view: pd.DataFrame  # out of core: a stratified sample of the training split


@dataclass(frozen=True)
class SearchPlan:
    """Stage 4's search, before it runs: on which texts, which candidates, how."""

    train: pd.DataFrame  # the texts searched: the training split, or out of core a sample
    candidates: list[Candidate]
    budget: str  # resolved: quick or full (out of core: the sample's grid)
    search: str  # as asked (auto, grid, random, halving); auto halves the costly families
    method: str  # as recorded: grid, random or halving
    n_iter: int


@dataclass(frozen=True)
class Trained:
    """Stage 4 after the fit: its report (saved with the models) and the learning curve."""

    report: TrainingReport
    curve: pd.DataFrame


@dataclass(frozen=True)
class Tested:
    """Stage 5's single look at the test split."""

    labels: np.ndarray
    scores: np.ndarray  # P(positive)
    worst: pd.DataFrame  # the most confident mistakes
    slices: pd.DataFrame  # metrics by length and source (and data set); not by behaviour
    reference: pd.DataFrame  # monitoring's reference predictions


class StageEngine(Protocol):
    """The steps of stages 2 to 5 that depend on how the data is held."""

    name: str

    def collect(self, cat: Catalog, spec: ProblemSpec, dataset: str, text_column: str = "text",
                label_column: str = "label", positive_label: str | None = None) -> Collected:
        """Load and validate ``dataset``; write the kept rows, the quarantine and the report."""
        ...

    def prepare(self, cat: Catalog, spec: ProblemSpec,
                hash_split: Sequence[str] | None = None) -> Prepared:
        """Clean and de-duplicate stage 2's rows, split them and write the splits."""
        ...

    def plan_search(self, cat: Catalog, spec: ProblemSpec, budget: str = "auto",
                    search: str = "auto", n_iter: int = 4) -> SearchPlan:
        """The texts, candidates, budget and method of stage 4's search."""
        ...

    def search(self, spec: ProblemSpec, plan: SearchPlan, n_jobs: int = -1) -> SearchResult:
        """Cross-validate every configuration of the plan on the same folds."""
        ...

    def fit_and_save(self, cat: Catalog, spec: ProblemSpec, plan: SearchPlan,
                     result: SearchResult, choice: Choice, n_jobs: int = -1) -> Trained:
        """Train the chosen configuration on the training split; save stage 4."""
        ...

    def calibrate(self, model: Any, oof: pd.DataFrame, spec: ProblemSpec) -> CalibrationResult:
        """Calibrate ``model`` on stage 4's validation scores (``oof_predictions``) if it helps."""
        ...

    def score_test(self, cat: Catalog, model: Any, spec: ProblemSpec,
                   threshold: float) -> Tested:
        """Score the test split once with ``model`` at ``threshold``."""
        ...

    def term_weights(self, model: Any) -> pd.DataFrame | None:
        """The terms that push ``model`` most toward each class (None for a forest)."""
        ...


class InMemory:
    """Every stage holds its data in pandas and fits scikit-learn on all of it."""

    name = MEMORY

    def collect(self, cat: Catalog, spec: ProblemSpec, dataset: str, text_column: str = "text",
                label_column: str = "label", positive_label: str | None = None) -> Collected:
        """Load the whole data set, validate it, and write the snapshot and the quarantine."""
        from shared.data import sources, validation

        loaded = sources.load_dataset(dataset, spec.task, text_column, label_column,
                                      positive_label=positive_label)
        report = validation.save_collection(cat, loaded, validation.validate(loaded, spec), spec)
        return Collected(loaded.frame.head(), report)

    def prepare(self, cat: Catalog, spec: ProblemSpec,
                hash_split: Sequence[str] | None = None) -> Prepared:
        """Clean, de-duplicate, make the stratified split (``hash_split``: see
        ``shared.data.preparation.split``) and write all three."""
        from shared.data import preparation

        clean, report = preparation.clean_and_deduplicate(cat.read("raw_snapshot"))
        splits = preparation.split(clean, spec, hash_split)
        preparation.save(cat, clean, report, splits)
        return Prepared(report, splits, splits["train"])

    def plan_search(self, cat: Catalog, spec: ProblemSpec, budget: str = "auto",
                    search: str = "auto", n_iter: int = 4) -> SearchPlan:
        """The whole training split and the spec's five families; ``auto`` resolved."""
        from shared.model import models, training

        train = cat.read("train")
        budget_used = training.resolve_budget(budget, len(train))
        return SearchPlan(train, models.for_spec(spec, len(train)), budget_used, search,
                          training.resolve_search(search, budget_used), n_iter)

    def search(self, spec: ProblemSpec, plan: SearchPlan, n_jobs: int = -1) -> SearchResult:
        """``shared.model.training.run_search``: the grid, then past its edges."""
        from shared.model import training

        return training.run_search(plan.candidates, plan.train, spec, plan.budget, plan.search,
                                   plan.n_iter, n_jobs)

    def fit_and_save(self, cat: Catalog, spec: ProblemSpec, plan: SearchPlan,
                     result: SearchResult, choice: Choice, n_jobs: int = -1) -> Trained:
        """The learning curve from the search (or refits on growing parts of each fold), then
        the fit on the whole split, saved with the baseline and the out-of-fold scores."""
        from shared.model import training

        curve = training.learning_curve(result, choice.row, choice.candidate, plan.train, spec,
                                        n_jobs)
        settings = {"budget": plan.budget, "method": plan.method, "n_iter": plan.n_iter,
                    "selection": choice.rule, "folds": spec.cv_folds, "seed": spec.seed}
        report = training.fit_and_save(cat, choice.model, choice.candidate, choice.row,
                                       choice.reason, result, plan.train,
                                       result.oof[choice.index], settings, spec)
        return Trained(report, curve)

    def calibrate(self, model: Any, oof: pd.DataFrame, spec: ProblemSpec) -> CalibrationResult:
        """``shared.model.calibration.calibrate`` on the out-of-fold scores of every text."""
        from shared.model import calibration

        return calibration.calibrate(model, oof["label"], oof["score"].to_numpy(), spec)

    def score_test(self, cat: Catalog, model: Any, spec: ProblemSpec,
                   threshold: float) -> Tested:
        """Read the test split and score it whole."""
        from shared.model import evaluation
        from shared.model.scoring import positive_scores

        test = cat.read("test")
        scores = positive_scores(model, test["text"], spec.positive_label)
        return Tested(
            labels=test["label"].to_numpy(dtype=object), scores=scores,
            worst=evaluation.worst_errors(test["text"], test["label"], scores, threshold, spec),
            slices=evaluation.slice_metrics(test, scores, threshold, spec),
            reference=evaluation.reference_predictions(test, scores, threshold, spec))

    def term_weights(self, model: Any) -> pd.DataFrame | None:
        """``shared.model.models.term_weights``: the weights at the TF-IDF columns."""
        from shared.model import models

        return models.term_weights(model)


class OutOfCore:
    """Stages 2 to 5 in chunks and Parquet parts, never the whole data set in memory.

    ``sample_rows``: the stage-4 search sample; ``epochs``: the most passes of
    ``partial_fit`` over the training parts (None: ``shared.scale.incremental``'s
    defaults); ``dask``: the scheduler (None: ``DASK_SCHEDULER_ADDRESS`` if set; ``""``:
    none; ``local``: a LocalCluster for each call that uses one).
    """

    name = OUT_OF_CORE

    def __init__(self, sample_rows: int | None = None, epochs: int | None = None,
                 dask: str | None = None) -> None:
        self.sample_rows, self.epochs, self.dask = sample_rows, epochs, dask

    def collect(self, cat: Catalog, spec: ProblemSpec, dataset: str, text_column: str = "text",
                label_column: str = "label", positive_label: str | None = None) -> Collected:
        """``shared.scale.chunk_validation.collect``: load, validate and write in one pass
        (a Parquet input on the cluster's workers)."""
        from shared.data import partitions
        from shared.scale import chunk_validation

        with cluster.connect(self.dask) as client:
            report = chunk_validation.collect(cat, spec, dataset, text_column, label_column,
                                              positive_label, client=client)
        first = partitions.part_files(cat.path("raw_parts"))[0]
        return Collected(partitions.read_part(first).head(), report)

    def prepare(self, cat: Catalog, spec: ProblemSpec,
                hash_split: Sequence[str] | None = None) -> Prepared:
        """``shared.scale.prepare_parts.prepare``; every row's label and a sample of the
        training texts for the figures. Refuses a ``hash_split`` before writing anything."""
        from shared.data import preparation
        from shared.scale import prepare_parts

        preparation.refuse_hash_split(hash_split)
        report = prepare_parts.prepare(cat, spec)
        return Prepared(report, prepare_parts.label_frames(cat),
                        prepare_parts.eda_sample(cat, spec))

    def plan_search(self, cat: Catalog, spec: ProblemSpec, budget: str = "auto",
                    search: str = "auto", n_iter: int = 4) -> SearchPlan:
        """A stratified sample of the training parts without near-duplicates
        (``shared.scale.incremental.sample``) and the incremental candidates with the spec's
        text path and feature groups, whose one grid is searched whole (``budget`` and
        ``search`` do not apply)."""
        from shared.model.models import text_normaliser
        from shared.scale import incremental

        rows = incremental.SAMPLE_ROWS if self.sample_rows is None else self.sample_rows
        return SearchPlan(incremental.sample(cat, spec, rows),
                          incremental.candidates(spec.seed, text_normaliser(spec),
                                                 spec.feature_groups),
                          incremental.GRID, "grid", "grid", n_iter)

    def search(self, spec: ProblemSpec, plan: SearchPlan, n_jobs: int = -1) -> SearchResult:
        """Stage 4's search as in memory (the grid, then past its edges) on the sample, its
        processes on the cluster when there is one."""
        from shared.scale import incremental

        with cluster.connect(self.dask) as client, cluster.joblib_backend(client):
            return incremental.run_search(plan.candidates, plan.train, spec, n_jobs=n_jobs)

    def fit_and_save(self, cat: Catalog, spec: ProblemSpec, plan: SearchPlan,
                     result: SearchResult, choice: Choice, n_jobs: int = -1) -> Trained:
        """``partial_fit`` over every training part, holding a seeded share of its rows out as
        stage 5's validation data; the curve is the sample's score, then the held-out score
        as training goes on."""
        from shared.model import training
        from shared.scale import incremental

        sample = plan.train
        train_rows = int(incremental.majority_counts(cat).sum())
        passes = incremental.epochs_for(choice.model, train_rows,
                                        incremental.EPOCHS if self.epochs is None else self.epochs)
        stream = incremental.train_stream(
            choice.model, cat, spec, passes,
            incremental.sample_point(choice.row, len(sample), spec.cv_folds),
            n_jobs=n_jobs, sample_texts=sample["text"], sample_labels=sample["label"])
        settings = {"engine": OUT_OF_CORE, "method": plan.method, "budget": plan.budget,
                    "sample_rows": len(sample), "sample_pool": sample.attrs.get("pool"),
                    "near_duplicates": sample.attrs.get("near_duplicates"),
                    "epochs": passes, "selection": choice.rule,
                    "holdout_rows": len(stream.holdout), "batch_rows": incremental.BATCH_ROWS,
                    "folds": spec.cv_folds, "seed": spec.seed,
                    # where the search ran (the runner exports its cluster's full address)
                    "dask": cluster.resolve_address(self.dask)}
        report = training.search_report(
            choice.row, choice.reason, result.table, settings, choice.candidate,
            CollectionReport.load(cat).origin, train_rows,
            sorted(set(choice.row["convergence_warnings"]) | set(stream.convergence_warnings)))
        incremental.save(cat, stream, incremental.majority_baseline(cat), result, report)
        return Trained(report, stream.curve)

    def calibrate(self, model: Any, oof: pd.DataFrame, spec: ProblemSpec) -> CalibrationResult:
        """``shared.scale.streaming_eval.calibrate``: the fitted classifier, frozen, calibrated
        on the held-out rows' texts."""
        from shared.scale import streaming_eval

        return streaming_eval.calibrate(model, oof, spec)

    def score_test(self, cat: Catalog, model: Any, spec: ProblemSpec,
                   threshold: float) -> Tested:
        """Score the test parts one at a time (on the cluster, a task per part); the slices
        from each part's confusion counts."""
        from shared.scale import streaming_eval

        with cluster.connect(self.dask) as client:
            tested = streaming_eval.score_test(cat, model, spec, threshold, client)
        return Tested(tested.labels, tested.scores, tested.worst,
                      streaming_eval.slice_metrics(tested.slices, threshold, spec),
                      tested.reference)

    def term_weights(self, model: Any) -> pd.DataFrame | None:
        """``shared.scale.streaming_eval.term_weights``: the weights at the TF-IDF columns
        (NB-SVM), or at the hashed columns of the known words."""
        from shared.scale import streaming_eval

        return streaming_eval.term_weights(model)


def for_name(engine: str) -> StageEngine:
    """The stage engine called ``engine`` (``shared.data.engines``: memory or out_of_core)."""
    engines: dict[str, type[InMemory] | type[OutOfCore]] = {MEMORY: InMemory,
                                                             OUT_OF_CORE: OutOfCore}
    if engine not in engines:
        raise ValueError(f"engine={engine!r}: choose {MEMORY!r} or {OUT_OF_CORE!r}")
    return engines[engine]()
