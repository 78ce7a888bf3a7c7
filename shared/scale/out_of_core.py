"""The out-of-core path of stages 4 and 5 as one function each, for scripts and tests.

Each function runs one stage's steps on the out-of-core engine
(``shared.scale.stage_engines.OutOfCore``) in the order the stage's notebook calls
them, without the notebook's tables and figures, and returns what it measured.
Stages 2 and 3 are one engine call each (``collect``, ``prepare``).
``benchmarks/scale.py`` runs these functions, one process per stage, as the runner
runs one kernel per notebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import EvaluationReport, TrainingReport
from shared.model import behaviour, evaluation, search, sensitivity, training
from shared.model.behaviour import BehaviourResult
from shared.model.calibration import CalibrationResult
from shared.model.decision import choose_threshold
from shared.model.metrics import binary_metrics
from shared.scale.stage_engines import OutOfCore, SearchPlan, Tested, Trained


@dataclass
class Stage4:
    """What stage 4 searched, chose and trained."""

    plan: SearchPlan
    result: search.SearchResult
    choice: training.Choice
    trained: Trained


def stage4(cat: Catalog, spec: ProblemSpec, sample_rows: int | None = None,
           epochs: int | None = None, selection: str = "best", n_jobs: int = -1,
           dask: str | None = None) -> Stage4:
    """Search on a stratified sample (on the cluster when there is one), then train the
    chosen configuration on every training part with ``partial_fit``; save stage 4.

    ``sample_rows``, ``epochs``, ``dask``: see :class:`~shared.scale.stage_engines.OutOfCore`.
    """
    engine = OutOfCore(sample_rows, epochs, dask)
    plan = engine.plan_search(cat, spec)
    result = engine.search(spec, plan, n_jobs)
    choice = training.choose_configuration(result, plan.candidates, selection, spec.cv_folds)
    return Stage4(plan, result, choice, engine.fit_and_save(cat, spec, plan, result, choice,
                                                            n_jobs))


@dataclass
class Stage5:
    """What stage 5 measured."""

    calibrated: CalibrationResult
    holdout: pd.DataFrame
    threshold: float
    tested: Tested
    test_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    intervals: pd.DataFrame
    slices: pd.DataFrame
    terms: pd.DataFrame | None
    behaviour: BehaviourResult
    report: EvaluationReport


def stage5(cat: Catalog, spec: ProblemSpec, dask: str | None = None) -> Stage5:
    """Calibrate and choose the threshold on held-out scores, score the test parts in a
    stream (on the cluster when there is one), measure, and save stage 5."""
    engine = OutOfCore(dask=dask)
    model, baseline = cat.read("trained_model"), cat.read("baseline_model")
    holdout = cat.read("oof_predictions")
    calibrated = engine.calibrate(model, holdout, spec)
    threshold = choose_threshold(holdout["label"], calibrated.oof_scores, spec)
    tested = engine.score_test(cat, calibrated.model, spec, threshold)
    test_metrics = binary_metrics(tested.labels, tested.scores, threshold, spec.positive_label)
    baseline_metrics = evaluation.baseline_metrics(baseline, tested.labels, threshold, spec)
    intervals = evaluation.bootstrap_intervals(tested.labels, tested.scores, threshold, spec)
    checked = behaviour.run(calibrated.model, behaviour.load_cases(
        cat.require("behaviour_cases"), spec), threshold, spec)
    slices = pd.concat([tested.slices, evaluation.behaviour_slices(checked, threshold, spec)])
    terms = engine.term_weights(calibrated.model)
    checks = sensitivity.run_all(calibrated.model, sensitivity.load_templates(
        cat.require("sensitivity_templates")), threshold, spec)
    report = evaluation.report(spec, threshold, test_metrics, baseline_metrics, intervals,
                               calibrated, tested.labels, tested.scores, slices, terms,
                               TrainingReport.load(cat), checked, checks)
    evaluation.save(cat, calibrated.model, report, tested.reference)
    return Stage5(calibrated, holdout, threshold, tested, test_metrics, baseline_metrics,
                  intervals, slices, terms, checked, report)
