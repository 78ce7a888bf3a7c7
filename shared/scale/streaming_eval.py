"""Stage 5 out of core: calibrate on held-out scores, then score the test parts in a stream.

Everything stage 5 shows in memory, computed part by part:

- calibration: stage 4 held a seeded share of training rows out of the final
  fit; their scores are the validation data. Sigmoid and isotonic calibration (for the
  spam rule sigmoid only: ``shared.model.calibration.methods``) of the fitted classifier
  (``CalibratedClassifierCV`` around a ``FrozenEstimator``: the classifier is not refitted)
  are each cross-fitted on those rows (the spec's folds) and kept only if they lower the
  Brier score;
  the threshold is chosen on the (calibrated) held-out scores;
- the test parts are scored one at a time (or on a Dask cluster, one task per
  part): labels and scores are kept (9 bytes a row), the texts are not; slices
  are counted per part; the worst mistakes are merged part by part;
- the bootstrap intervals are ``shared.model.evaluation.bootstrap_intervals``, which
  draws its resamples in blocks, so memory holds one block, not all of them;
- term weights are read from the classifier at the hashed columns of the known
  words (``shared.model.known_words``);
- monitoring's reference is a seeded sample of the test predictions
  (``REFERENCE_ROWS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.data import partitions
from shared.model import models
from shared.model.behaviour import BehaviourResult
from shared.model.calibration import CalibrationResult, methods
from shared.model.evaluation import (
    LENGTH_BUCKETS,
    behaviour_slices,
    reference_predictions,
    worst_errors,
)
from shared.model.interval_gate import slice_bounds
from shared.model.known_words import hashed_columns
from shared.model.metrics import brier_score, confusion, rates
from shared.model.models import linear_weights, strongest_terms
from shared.model.scoring import positive_scores
from shared.model.search import folds

#: test predictions kept as monitoring's reference (a seeded sample of the test split)
REFERENCE_ROWS = 5_000
#: bootstrap resamples drawn at a time
BLOCK = 25
_LENGTHS = ["<= 10 words", "11-25 words", "26-50 words", "> 50 words"]


def calibrate(model: Pipeline, holdout: pd.DataFrame, spec: ProblemSpec) -> CalibrationResult:
    """Keep a calibration of ``model``'s classifier only if it lowers the held-out Brier score.

    ``holdout`` has the held-out rows' ``text``, ``label`` and ``score`` (stage 4).
    """
    labels = holdout["label"].to_numpy(dtype=object)
    features = model[:-1].transform(list(holdout["text"]))
    classifier = model.steps[-1][1]
    column = list(classifier.classes_).index(spec.positive_label)
    oofs = {"none": holdout["score"].to_numpy(dtype=float)}
    splits = list(folds(spec).split(np.zeros(len(labels)), labels))
    for method in methods(spec):
        scores = np.zeros(len(labels))
        for train, valid in splits:
            fitted = _calibrated(classifier, method).fit(features[train], labels[train])
            scores[valid] = fitted.predict_proba(features[valid])[:, column]
        oofs[method] = scores
    table = pd.DataFrame([{"method": m, "brier": brier_score(labels, s, spec.positive_label)}
                          for m, s in oofs.items()])
    chosen = str(table.loc[table["brier"].idxmin(), "method"])
    if chosen == "none":
        return CalibrationResult(model, chosen, table, oofs["none"])
    step = _calibrated(classifier, chosen).fit(features, labels)
    final = Pipeline([*model.steps[:-1], (model.steps[-1][0], step)])
    return CalibrationResult(final, chosen, table, oofs[chosen])


def _calibrated(classifier: Any, method: str) -> CalibratedClassifierCV:
    # frozen: the calibrator learns from the classifier's scores, the classifier stays as trained
    return CalibratedClassifierCV(FrozenEstimator(classifier), method=method)


@dataclass
class PartSummary:
    """What one scored test part contributes to stage 5."""

    labels: np.ndarray
    scores: np.ndarray
    slices: pd.DataFrame
    worst: pd.DataFrame
    reference: pd.DataFrame


def summarise_part(
    frame: pd.DataFrame, model: Any, spec: ProblemSpec, threshold: float, reference_share: float,
) -> PartSummary:
    """Score one test part; count its slices; keep its worst mistakes and reference rows."""
    frame = frame.reset_index(drop=True)
    scores = positive_scores(model, list(frame["text"]), spec.positive_label) if len(frame) \
        else np.zeros(0)
    actual = frame["label"].to_numpy(dtype=object) == spec.positive_label
    predicted = scores >= threshold
    words = frame["text"].str.split().str.len()
    lengths = pd.cut(words, LENGTH_BUCKETS, labels=_LENGTHS).astype(object)
    rows = []
    for kind, keys in (("length", lengths), ("source", frame["source"].astype(str))):
        for key in pd.unique(keys):
            mask = (keys == key).to_numpy()
            tp, fp, fn, tn = (int(v) for v in confusion(actual[mask], predicted[mask]))
            rows.append({"slice": kind, "value": str(key), "tp": tp, "fp": fp, "fn": fn, "tn": tn})
    pick = partitions.unit_interval(partitions.text_hashes(
        frame["text"].to_numpy(dtype=object), "reference", spec.seed)) < reference_share
    return PartSummary(
        labels=frame["label"].to_numpy(dtype=object), scores=scores,
        slices=pd.DataFrame(rows, columns=["slice", "value", "tp", "fp", "fn", "tn"]),
        worst=worst_errors(frame["text"], frame["label"], scores, threshold, spec),
        reference=reference_predictions(frame[pick].reset_index(drop=True), scores[pick],
                                        threshold, spec),
    )


@dataclass
class TestScores:
    """The whole test split's labels and scores, and what the parts contributed."""

    labels: np.ndarray
    scores: np.ndarray
    slices: pd.DataFrame
    worst: pd.DataFrame
    reference: pd.DataFrame


def score_test(
    cat: Catalog, model: Any, spec: ProblemSpec, threshold: float, client: Any = None,
    reference_rows: int = REFERENCE_ROWS,
) -> TestScores:
    """Score every test part, here one at a time or, with a Dask ``client``, on the cluster.

    On a cluster the parts are a ``dask.dataframe`` (one partition per part)
    and each partition is summarised where it is read; this process only
    merges the summaries.
    """
    folder = cat.require("test_parts")
    share = min(1.0, reference_rows / max(partitions.count_rows(folder), 1))
    columns = ["row", "text", "label", "source"]
    if client is None:
        summaries = [summarise_part(part, model, spec, threshold, share)
                     for part in partitions.iter_parts(folder, columns)]
    else:
        import dask
        import dask.dataframe as dd

        frames = dd.read_parquet(partitions.part_files(folder), columns=columns).to_delayed()
        remote = client.scatter(model, broadcast=True)
        tasks = [dask.delayed(summarise_part)(f, remote, spec, threshold, share) for f in frames]
        summaries = client.gather(client.compute(tasks))
    return merge(summaries, spec, threshold)


def merge(summaries: list[PartSummary], spec: ProblemSpec, threshold: float) -> TestScores:
    """The parts' summaries as one: concatenated scores, summed slice counts, top mistakes."""
    worst = pd.concat([s.worst for s in summaries], ignore_index=True)
    worst = worst.sort_values(["confidence", "text"], ascending=[False, True]).head(8)
    counts = pd.concat([s.slices for s in summaries]).groupby(["slice", "value"], sort=False).sum()
    return TestScores(
        labels=np.concatenate([s.labels for s in summaries]),
        scores=np.concatenate([s.scores for s in summaries]),
        slices=counts, worst=worst.reset_index(drop=True),
        reference=pd.concat([s.reference for s in summaries], ignore_index=True),
    )


def slice_metrics(counts: pd.DataFrame, threshold: float, spec: ProblemSpec,
                  behaviour: BehaviourResult | None = None) -> pd.DataFrame:
    """Accuracy, F1 and the primary metric per slice, with the slice sizes and positives, as
    ``shared.model.evaluation.slice_metrics`` shows them, from the parts' confusion ``counts`` (a
    primary metric the counts cannot give, ROC-AUC, is NaN); with ``behaviour``, also per
    behavioural kind."""
    order = {name: i for i, name in enumerate(_LENGTHS)}
    table = counts.reset_index()
    table["order"] = [(0, order.get(v, 0), "") if s == "length" else (1, 0, v)
                      for s, v in zip(table["slice"], table["value"], strict=True)]
    table = table.sort_values("order")
    values = rates(*(table[c].to_numpy() for c in ("tp", "fp", "fn", "tn")))
    slices = pd.DataFrame({
        "slice": table["slice"], "value": table["value"],
        "texts": (table[["tp", "fp", "fn", "tn"]].sum(axis=1)).astype(int),
        "positives": (table["tp"] + table["fn"]).astype(int),
        "accuracy": values["accuracy"], "f1": values["f1"],
        spec.primary_metric: values.get(spec.primary_metric, np.full(len(table), np.nan)),
    })
    slices["wilson_low"], slices["wilson_high"] = slice_bounds(
        spec.primary_metric, *(table[c].to_numpy() for c in ("tp", "fp", "fn", "tn")))
    slices = slices.set_index(["slice", "value"])
    if behaviour is None:
        return slices
    return pd.concat([slices, behaviour_slices(behaviour, threshold, spec)])


def term_weights(model: Pipeline, n: int = 12) -> pd.DataFrame | None:
    """The known words that push predictions most toward each class, or None.

    A word's weight is the classifier's weight (naive Bayes: log-probability
    difference) at the word's hashed column, as ``shared.model.models.term_weights``
    reads it at a TF-IDF column. A model whose word n-grams have a vocabulary (NB-SVM,
    fitted on the search sample) is read as in memory (``shared.model.models.term_weights``).
    """
    word = model.named_steps["features"].transformer_list[0][1]
    if not isinstance(word, HashingVectorizer):
        return models.term_weights(model, n)
    weights = linear_weights(model.steps[-1][1])
    if weights is None:
        return None
    words = list(model.named_steps["vocabulary"].vocabulary_)
    columns, signs = hashed_columns(word, words)
    known = columns >= 0
    series = pd.Series(weights[columns[known]] * signs[known],
                       index=np.asarray(words, dtype=object)[known])
    return strongest_terms(series, list(model.classes_), n)
