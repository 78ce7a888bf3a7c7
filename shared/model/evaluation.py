"""Stage 5's evaluation: held-out metrics with intervals, the gate, and error analysis
(worst mistakes, slices, reliability, the threshold curve)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import Calibration, EvaluationReport, Gate, GateCheck, TrainingReport
from shared.model import interval_gate
from shared.model.behaviour import KINDS, BehaviourResult
from shared.model.metrics import (
    METRIC_NAMES,
    binary_metrics,
    brier_score,
    confusion,
    rates,
    roc_auc_rows,
)
from shared.model.scoring import confidence, positive_scores, predict_labels

if TYPE_CHECKING:
    from shared.model.calibration import CalibrationResult
    from shared.model.sensitivity import SensitivityResult


def threshold_curve(y_true: Sequence[str], scores: np.ndarray, spec: ProblemSpec) -> pd.DataFrame:
    """Precision, recall, F1 and ham/negatives blocked at 101 evenly spaced thresholds."""
    thresholds = np.linspace(0, 1, 101)
    actual = np.asarray(y_true) == spec.positive_label
    predicted = np.asarray(scores, dtype=float)[None, :] >= thresholds[:, None]
    values = rates(*confusion(np.broadcast_to(actual, predicted.shape), predicted))
    return pd.DataFrame({"threshold": thresholds, **{
        name: values[name] for name in ("precision", "recall", "f1", "false_positive_rate")}})


def gate(
    metrics: dict[str, float], baseline: dict[str, float], spec: ProblemSpec,
    slices: pd.DataFrame | None = None, behaviour: BehaviourResult | None = None,
    sensitivity: dict[str, SensitivityResult] | None = None,
    intervals: pd.DataFrame | None = None,
) -> Gate:
    """PASS when the primary metric meets the target, beats the baseline's, and (where the
    spec sets one) the false-positive rate stays within its limit; with ``intervals`` (from
    :func:`bootstrap_intervals`), the low end of the primary metric's interval (or of its
    Wilson interval, when lower) reaches ``target - interval_margin``; with ``slices``
    (from :func:`slice_metrics`), every slice of both labels reaches ``target -
    slice_margin``, a small one judged by its Wilson interval (:func:`gated_slices`,
    ``shared.model.interval_gate``); with ``behaviour``, each kind of behavioural test passes
    at least ``min_behaviour_pass_rate`` of its cases and every case of a protected
    capability (``protected_capabilities``) passes; with ``sensitivity``, each check of a
    protected capability (names; gender for sentiment) has at most ``max_name_flips`` flips
    and a mean spread of at most ``max_name_spread`` (gender: ``max_gender_spread``). The one
    place PASS/FAIL is decided."""
    primary = spec.primary_metric
    checks = [
        GateCheck(f"{primary} >= {spec.target:.2f}", round(metrics[primary], 4),
                  bool(metrics[primary] >= spec.target)),
        GateCheck("beats the majority baseline on the primary metric",
                  round(metrics[primary] - baseline[primary], 4),
                  bool(metrics[primary] > baseline[primary])),
    ]
    if intervals is not None:
        checks.append(interval_gate.interval_check(intervals, spec, metrics))
    if spec.max_false_positive_rate is not None:
        checks.append(GateCheck(
            f"false_positive_rate <= {spec.max_false_positive_rate:.3f}",
            round(metrics["false_positive_rate"], 4),
            bool(metrics["false_positive_rate"] <= spec.max_false_positive_rate),
        ))
    if behaviour is not None:
        for kind, row in behaviour.pass_rates().iterrows():
            checks.append(GateCheck(
                f"behavioural {kind} pass rate >= {spec.min_behaviour_pass_rate:.2f} "
                f"({int(row['passed'])} of {int(row['cases'])} cases)",
                round(float(row["pass_rate"]), 4),
                bool(row["pass_rate"] >= spec.min_behaviour_pass_rate)))
        checks.extend(_protected_checks(behaviour, spec))
    for kind, result in (sensitivity or {}).items():
        if kind not in spec.protected_capabilities:
            continue  # measured and reported; judged once the spec protects it
        checks.append(GateCheck(
            f"{kind} check: at most {spec.max_name_flips} flips and mean spread <= "
            f"{result.spread_limit(spec):.2f} ({result.flips} flips of {len(result.table)} "
            f"templates, max spread {result.max_spread:.3f})",
            round(result.mean_spread, 4), result.passed(spec)))
    if slices is not None:
        check = interval_gate.slice_check(slices, spec)
        if check is not None:
            checks.append(check)
    return Gate.of(checks)


def _protected_checks(behaviour: BehaviourResult, spec: ProblemSpec) -> list[GateCheck]:
    """One check per protected capability: every one of its cases passes, whatever the
    pass rate of its kind (one name that changes the answer is one too many)."""
    table = behaviour.by_capability().reset_index()
    checks = []
    for capability in spec.protected_capabilities:
        rows = table[table["capability"] == capability]
        cases, passed = int(rows["cases"].sum()), int(rows["passed"].sum())
        if not cases:
            checks.append(GateCheck(f"every behavioural {capability!r} case passes: there are "
                                    "none in behaviour.csv (add some, or drop it from "
                                    "protected_capabilities)", 0.0, False))
            continue
        checks.append(GateCheck(f"every behavioural {capability!r} case passes ({passed} of "
                                f"{cases})", round(passed / cases, 4), passed == cases))
    return checks


def gated_slices(slices: pd.DataFrame, spec: ProblemSpec) -> pd.DataFrame:
    """The slices the gate judges, with their limit, rule and verdict (``passed``).

    Every slice holding both labels (no single-label slice has a recall, F1 or
    ROC-AUC worth the name) must reach ``target - slice_margin`` on the primary
    metric: one of at least ``min_slice_texts`` texts by its point estimate, a
    smaller one by the upper end of its 95% Wilson interval
    (``shared.model.interval_gate.judge_slices``).
    """
    return interval_gate.judge_slices(slices, spec)


def worst_errors(
    texts: Sequence[str], y_true: Sequence[str], scores: np.ndarray, threshold: float,
    spec: ProblemSpec, n: int = 8,
) -> pd.DataFrame:
    """The misclassified texts the model was most confident about."""
    frame = pd.DataFrame(
        {
            "text": list(texts),
            "true": list(y_true),
            "predicted": predict_labels(scores, threshold, spec.positive_label,
                                        spec.negative_label),
            "confidence": confidence(scores, threshold),
        }
    )
    wrong = frame[frame["true"] != frame["predicted"]]
    return wrong.sort_values(["confidence", "text"], ascending=[False, True]).head(n).reset_index(
        drop=True
    )


#: bootstrap resamples drawn at a time: memory holds BOOTSTRAP_BLOCK x n indices, not 1000 x n
BOOTSTRAP_BLOCK = 25


def bootstrap_intervals(
    y_true: Sequence[str], scores: np.ndarray, threshold: float, spec: ProblemSpec,
    n_resamples: int = 1000, level: float = 0.95, block: int = BOOTSTRAP_BLOCK,
) -> pd.DataFrame:
    """Point estimate and percentile bootstrap interval of each headline metric.

    The test split is resampled with replacement ``n_resamples`` times (seeded
    from the spec); the interval shows how much the score could move with
    another test set of the same size. The resamples are drawn ``block`` at a
    time (the generator's stream is the same whatever the block, so are the
    intervals), which keeps a test split of millions of rows within memory.
    """
    y = np.asarray(y_true) == spec.positive_label
    scores = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(spec.seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in METRIC_NAMES}
    for start in range(0, n_resamples, block):
        index = rng.integers(0, len(y), size=(min(block, n_resamples - start), len(y)))
        resampled = y[index]
        values = rates(*confusion(resampled, scores[index] >= threshold))
        auc = roc_auc_rows(resampled, scores[index])
        values["roc_auc"] = auc[~np.isnan(auc)]  # a resample with one class has no ROC-AUC
        for name in METRIC_NAMES:
            parts[name].append(np.atleast_1d(values[name]))
    point = binary_metrics(y_true, scores, threshold, spec.positive_label)
    tail = (1 - level) / 2 * 100
    rows = []
    for name in METRIC_NAMES:
        samples = np.concatenate(parts[name])
        rows.append({"metric": name, "value": point[name],
                     "low": float(np.percentile(samples, tail)),
                     "high": float(np.percentile(samples, 100 - tail))})
    return pd.DataFrame(rows).set_index("metric")


def baseline_metrics(baseline: Any, y_true: Sequence[str], threshold: float,
                     spec: ProblemSpec) -> dict[str, float]:
    """The majority baseline's test metrics: it gives every text the same score, so one text
    stands for all (no need to read the test texts again)."""
    constant = positive_scores(baseline, ["-"], spec.positive_label)[0]
    return binary_metrics(y_true, np.full(len(y_true), constant), threshold,
                          spec.positive_label)


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
    frame: pd.DataFrame, scores: np.ndarray, threshold: float, spec: ProblemSpec,
    behaviour: BehaviourResult | None = None,
) -> pd.DataFrame:
    """Accuracy, F1 and the primary metric by text length (words) and by source, with the
    slice sizes and positives; by data set too when the run mixed several (``dataset``,
    ``shared.data.sources``: one slice each); with ``behaviour``, also per behavioural kind
    whose cases carry labels (MFT texts; INV texts and variants)."""
    words = frame["text"].str.split().str.len()
    labels = ["<= 10 words", "11-25 words", "26-50 words", "> 50 words"]
    lengths = pd.cut(words, LENGTH_BUCKETS, labels=labels)
    parts = [("length", lengths, labels, frame["label"], np.asarray(scores)),
             ("source", frame["source"], sorted(frame["source"].unique()), frame["label"],
              np.asarray(scores))]
    if "dataset" in frame.columns and frame["dataset"].nunique() > 1:
        parts.append(("dataset", frame["dataset"], sorted(frame["dataset"].unique()),
                      frame["label"], np.asarray(scores)))
    table = _slice_rows(parts, threshold, spec)
    if behaviour is not None:
        table = pd.concat([table, behaviour_slices(behaviour, threshold, spec)])
    return table


def behaviour_slices(behaviour: BehaviourResult, threshold: float, spec: ProblemSpec
                     ) -> pd.DataFrame:
    """The slice rows of the behavioural kinds whose cases carry labels (MFT texts; INV
    texts and variants), as :func:`slice_metrics` shows them."""
    cases = behaviour.labelled()
    return _slice_rows([("behaviour", cases["kind"], [k for k in KINDS if k in set(cases["kind"])],
                         cases["label"], cases["score"].to_numpy())], threshold, spec)


def _slice_rows(parts: list, threshold: float, spec: ProblemSpec) -> pd.DataFrame:
    rows = []
    for kind, keys, values, truth, part_scores in parts:
        for key in values:
            mask = (keys == key).to_numpy()
            if not mask.any():
                continue
            m = binary_metrics(truth[mask], part_scores[mask], threshold, spec.positive_label)
            low, high = interval_gate.slice_bounds(
                spec.primary_metric, *(m[f"{name}s"] for name in (
                    "true_positive", "false_positive", "false_negative", "true_negative")))
            rows.append({"slice": kind, "value": str(key), "texts": int(mask.sum()),
                         "positives": int((truth[mask] == spec.positive_label).sum()),
                         "accuracy": m["accuracy"], "f1": m["f1"],
                         spec.primary_metric: m[spec.primary_metric],
                         "wilson_low": float(low), "wilson_high": float(high)})
    return pd.DataFrame(rows).set_index(["slice", "value"])


def report(
    spec: ProblemSpec, threshold: float, test_metrics: dict, baseline_metrics: dict,
    intervals: pd.DataFrame, calibrated: CalibrationResult, y_test: Sequence[str],
    scores: np.ndarray, slices: pd.DataFrame, terms: pd.DataFrame | None,
    training: TrainingReport, behaviour: BehaviourResult | None = None,
    sensitivity: dict[str, SensitivityResult] | None = None,
) -> EvaluationReport:
    """Everything stage 5 concluded, with the gate decided on the test metrics, the slices
    and (when run) the behavioural tests and the name and gender checks."""
    return EvaluationReport(
        threshold=float(threshold),
        test=test_metrics,
        baseline=baseline_metrics,
        intervals=intervals[["low", "high"]].to_dict("index"),
        calibration=Calibration(
            method=calibrated.method,
            validation_brier=calibrated.brier.set_index("method")["brier"].to_dict(),
            test_brier=brier_score(y_test, scores, spec.positive_label),
        ),
        slices=slices.reset_index().to_dict("records"),
        terms=[] if terms is None else terms.to_dict("records"),
        training=training,
        problem=spec.to_dict(),
        gate=gate(test_metrics, baseline_metrics, spec, slices, behaviour, sensitivity,
                  intervals),
        behaviour=behaviour.summary() if behaviour is not None else {},
        sensitivity={kind: r.summary() for kind, r in (sensitivity or {}).items()},
    )


def reference_predictions(
    test: pd.DataFrame, scores: np.ndarray, threshold: float, spec: ProblemSpec
) -> pd.DataFrame:
    """The test split with the model's score, label and confidence: monitoring's reference."""
    return test.assign(
        score=scores,
        predicted=predict_labels(scores, threshold, spec.positive_label, spec.negative_label),
        confidence=confidence(scores, threshold),
    )


def save(
    cat: Catalog, model: object, evaluation: EvaluationReport, reference: pd.DataFrame
) -> None:
    """Write stage 5's outputs: the evaluated model, ``metrics.json`` and the reference."""
    cat.write("final_model", model)
    evaluation.save(cat)
    cat.write("reference_predictions", reference)
