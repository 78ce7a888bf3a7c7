"""Stages 4 and 5 as one function each, on either engine.

:func:`train_stage` searches, chooses and trains; :func:`evaluate_stage` calibrates, picks
the threshold, scores the test split once, runs the behavioural and sensitivity checks and
the gate. Notebooks 04 and 05 call them and then show what they return; ``benchmarks/scale.py``
and the out-of-core test fixture call the same functions, so each stage's sequence of steps
is written once. The engine (:mod:`shared.scale.stage_engines`) is the one thing that
differs: in memory or out of core, each step is one of its methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import EvaluationReport, TrainingReport
from shared.model import behaviour, evaluation, sensitivity, training
from shared.model.behaviour import BehaviourResult
from shared.model.calibration import CalibrationResult
from shared.model.decision import choose_threshold
from shared.model.metrics import binary_metrics
from shared.model.search import SearchResult
from shared.model.sensitivity import SensitivityResult
from shared.scale.stage_engines import SearchPlan, StageEngine, Tested


@dataclass
class Stage4:
    """What stage 4 searched, chose and trained."""

    plan: SearchPlan
    result: SearchResult
    choice: training.Choice
    report: TrainingReport  # saved with the models
    curve: pd.DataFrame  # the chosen configuration's learning curve


def train_stage(cat: Catalog, spec: ProblemSpec, engine: StageEngine, budget: str = "auto",
                search_method: str = "auto", n_iter: int = 4, selection: str = "best",
                n_jobs: int = -1) -> Stage4:
    """Search the engine's candidates with cross-validation (``budget``, ``search_method`` and
    ``n_iter``: ``StageEngine.plan_search``'s ``budget``, ``search`` and ``n_iter``), choose
    one by the ``selection`` rule, train it on the whole training split (out of core: every
    part) and save stage 4."""
    plan = engine.plan_search(cat, spec, budget, search_method, n_iter)
    result = engine.search(spec, plan, n_jobs)
    choice = training.choose_configuration(result, plan.candidates, selection, spec.cv_folds)
    fitted = engine.fit_and_save(cat, spec, plan, result, choice, n_jobs)
    return Stage4(plan, result, choice, fitted.report, fitted.curve)


@dataclass
class Stage5:
    """What stage 5 measured, and the model it judged."""

    model: Any  # stage 4's trained pipeline, before calibration
    holdout: pd.DataFrame  # stage 4's validation scores (out of fold, or held out)
    calibrated: CalibrationResult  # its ``model`` is the one deployed
    threshold: float
    tested: Tested
    test_metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    intervals: pd.DataFrame
    behaviour: BehaviourResult
    sensitivity: dict[str, SensitivityResult]
    slices: pd.DataFrame  # by length and source, then by behavioural capability
    terms: pd.DataFrame | None
    report: EvaluationReport


def evaluate_stage(cat: Catalog, spec: ProblemSpec, engine: StageEngine) -> Stage5:
    """Calibrate stage 4's model on its validation scores if that helps, choose the threshold
    by the spec's rule on the same scores, score the test split once, measure (intervals,
    slices, behaviour, sensitivity, the gate) and save stage 5."""
    model, baseline = cat.read("trained_model"), cat.read("baseline_model")
    holdout = cat.read("oof_predictions")
    calibrated = engine.calibrate(model, holdout, spec)
    threshold = choose_threshold(holdout["label"], calibrated.oof_scores, spec)
    final = calibrated.model
    tested = engine.score_test(cat, final, spec, threshold)
    test_metrics = binary_metrics(tested.labels, tested.scores, threshold, spec.positive_label)
    baseline_metrics = evaluation.baseline_metrics(baseline, tested.labels, threshold, spec)
    intervals = evaluation.bootstrap_intervals(tested.labels, tested.scores, threshold, spec)
    checked = behaviour.run(final, behaviour.load_cases(cat.require("behaviour_cases"), spec),
                            threshold, spec)
    checks = sensitivity.run_all(final, sensitivity.load_templates(
        cat.require("sensitivity_templates")), threshold, spec)
    slices = pd.concat([tested.slices, evaluation.behaviour_slices(checked, threshold, spec)])
    terms = engine.term_weights(final)
    report = evaluation.report(spec, threshold, test_metrics, baseline_metrics, intervals,
                               calibrated, tested.labels, tested.scores, slices, terms,
                               TrainingReport.load(cat), checked, checks)
    evaluation.save(cat, final, report, tested.reference)
    return Stage5(model, holdout, calibrated, threshold, tested, test_metrics, baseline_metrics,
                  intervals, checked, checks, slices, terms, report)
