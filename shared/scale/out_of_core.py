"""The out-of-core path of stages 4 and 5, stage by stage, as the notebooks run it.

Each function is one stage's work on the out-of-core engine, made of the
functions the notebook cells call (``shared.scale.incremental``,
``shared.scale.streaming_eval``), and returns what the notebook shows. Stages 2 and 3
are one call each (``shared.scale.chunk_validation.collect``,
``shared.scale.prepare_parts.prepare``), which the notebooks make directly: the data
stages load no scikit-learn. ``benchmarks/scale.py`` runs these same functions,
one process per stage, as the runner runs one kernel per notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import CollectionReport, EvaluationReport, TrainingReport
from shared.model import behaviour, evaluation, search, sensitivity, training
from shared.model.behaviour import BehaviourResult
from shared.model.calibration import CalibrationResult
from shared.model.decision import choose_threshold
from shared.model.metrics import binary_metrics
from shared.model.models import text_normaliser
from shared.scale import cluster, incremental, streaming_eval


@dataclass
class Stage4:
    """What stage 4 found and trained."""

    sample: pd.DataFrame
    result: search.SearchResult
    chosen: pd.Series
    reason: str
    stream: incremental.StreamResult
    report: TrainingReport


def stage4(cat: Catalog, spec: ProblemSpec, sample_rows: int = incremental.SAMPLE_ROWS,
           epochs: int = incremental.EPOCHS, selection: str = "best", n_jobs: int = -1,
           client: Any = None, search_sample: pd.DataFrame | None = None) -> Stage4:
    """Search on a stratified sample (on the cluster when there is one), then train the
    chosen configuration on every training part with ``partial_fit``; save stage 4.

    ``search_sample``: the sample when the caller has drawn it already."""
    sample = incremental.sample(cat, spec, sample_rows) if search_sample is None \
        else search_sample
    candidates = incremental.candidates(spec.seed, text_normaliser(spec))
    with cluster.joblib_backend(client):
        result = incremental.run_search(candidates, sample, spec, n_jobs=n_jobs)
    final = training.best_per_model(result.final())
    index, reason = training.choose(final, selection, spec.cv_folds)
    chosen = final.loc[index]
    candidate = next(c for c in candidates if c.name == chosen["model"])
    model = training.configured(candidate, chosen["raw_params"])
    train_rows = int(incremental.majority_counts(cat).sum())
    passes = incremental.epochs_for(model, train_rows, epochs)
    stream = incremental.train_stream(
        model, cat, spec, passes, incremental.sample_point(chosen, len(sample), spec.cv_folds),
        n_jobs=n_jobs, sample_texts=sample["text"])
    settings = {"engine": "out_of_core", "method": "grid", "budget": incremental.GRID,
                "sample_rows": len(sample), "epochs": passes, "selection": selection,
                "holdout_rows": len(stream.holdout), "batch_rows": incremental.BATCH_ROWS,
                "folds": spec.cv_folds, "seed": spec.seed,
                "dask": client.scheduler.address if client is not None else None}
    report = training.search_report(
        chosen, reason, result.table, settings, candidate, CollectionReport.load(cat).origin,
        train_rows, sorted(set(chosen["convergence_warnings"]) | set(stream.convergence_warnings)))
    incremental.save(cat, stream, incremental.majority_baseline(cat), result, report)
    return Stage4(sample, result, chosen, reason, stream, report)


@dataclass
class Stage5:
    """What stage 5 measured."""

    calibrated: CalibrationResult
    holdout: pd.DataFrame
    threshold: float
    tested: streaming_eval.TestScores
    test_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    intervals: pd.DataFrame
    slices: pd.DataFrame
    terms: pd.DataFrame | None
    behaviour: BehaviourResult
    report: EvaluationReport


def stage5(cat: Catalog, spec: ProblemSpec, client: Any = None) -> Stage5:
    """Calibrate and choose the threshold on held-out scores, score the test parts in a
    stream (on the cluster when there is one), measure, and save stage 5."""
    model, baseline = cat.read("trained_model"), cat.read("baseline_model")
    holdout = cat.read("oof_predictions")
    calibrated = streaming_eval.calibrate(model, holdout, spec)
    threshold = choose_threshold(holdout["label"], calibrated.oof_scores, spec)
    tested = streaming_eval.score_test(cat, calibrated.model, spec, threshold, client)
    test_metrics = binary_metrics(tested.labels, tested.scores, threshold, spec.positive_label)
    baseline_metrics = evaluation.baseline_metrics(baseline, tested.labels, threshold, spec)
    intervals = evaluation.bootstrap_intervals(tested.labels, tested.scores, threshold, spec)
    checked = behaviour.run(calibrated.model, behaviour.load_cases(
        cat.require("behaviour_cases"), spec), threshold, spec)
    slices = streaming_eval.slice_metrics(tested.slices, threshold, spec, checked)
    terms = streaming_eval.term_weights(calibrated.model)
    checks = sensitivity.run_all(calibrated.model, sensitivity.load_templates(
        cat.require("sensitivity_templates")), threshold, spec)
    report = evaluation.report(spec, threshold, test_metrics, baseline_metrics, intervals,
                               calibrated, tested.labels, tested.scores, slices, terms,
                               TrainingReport.load(cat), checked, checks)
    evaluation.save(cat, calibrated.model, report, tested.reference)
    return Stage5(calibrated, holdout, threshold, tested, test_metrics, baseline_metrics,
                  intervals, slices, terms, checked, report)
