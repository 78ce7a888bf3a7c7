"""Time-ordered evaluation: train on the past, test on the future, beside the random split.

A random split mixes old and new texts on both sides, so it cannot show what a model trained
last year misses this year: spam moves on (parcel fees, "hi mum", task scams), and a model
deployed today meets only messages written after it. Where some rows carry a ``date`` (a
data set with a date column, such as ``data/builtin/spam/recent.csv``), stage 5 takes the
newest ``FUTURE_SHARE`` of the dated rows of the test split as "the future", fits the chosen
pipeline again on the training rows dated before the first of them (and every undated row,
which cannot be placed in time), and scores the future rows with both models: the one stage 4
trained on the random split, and the one that saw only the past. Both are compared before
calibration (which stage 5 fitted on the random split's scores), by ROC-AUC, which needs no
threshold, and at the 0.5 threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from shared.core.problem import ProblemSpec
from shared.model.metrics import binary_metrics
from shared.model.scoring import positive_scores

#: the newest share of the test split's dated rows that stands for the future
FUTURE_SHARE = 0.3
#: fewer future rows of either label than this, and the comparison is not made
MIN_FUTURE_ROWS = 5


def _dates(frame: pd.DataFrame) -> pd.Series:
    if "date" not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index)
    return pd.to_datetime(frame["date"].replace("", None), errors="coerce", format="ISO8601")


def future_cutoff(test: pd.DataFrame, share: float = FUTURE_SHARE) -> pd.Timestamp | None:
    """The first date of "the future": the newest ``share`` of the test split's dated rows."""
    dates = _dates(test).dropna()
    if dates.empty:
        return None
    return dates.quantile(1 - share, interpolation="higher")


def compare(trained: Any, train: pd.DataFrame, test: pd.DataFrame, spec: ProblemSpec,
            share: float = FUTURE_SHARE) -> pd.DataFrame | None:
    """The future rows scored by ``trained`` (fitted on the random split's training rows) and
    by a copy fitted on the past alone; None when no rows are dated or the future holds too
    few rows of either label. With the spec's gender augmentation, as stage 4 trains."""
    from shared.model.training import fit_final  # training imports the search: only when needed

    cutoff = future_cutoff(test, share)
    if cutoff is None:
        return None
    future = test[_dates(test) >= cutoff]
    labels = future["label"].to_numpy(dtype=object)
    if min((labels == spec.positive_label).sum(), (labels != spec.positive_label).sum()) \
            < MIN_FUTURE_ROWS:
        return None
    train_dates = _dates(train)
    past = train[train_dates.isna() | (train_dates < cutoff)]
    past_model = clone(trained)
    fit_final(past_model, past["text"], past["label"], spec)
    rows = []
    for name, model, rows_trained in (("random split (stage 4's model)", trained, len(train)),
                                      ("trained on the past only", past_model, len(past))):
        scores = positive_scores(model, future["text"], spec.positive_label)
        metrics = binary_metrics(labels, scores, 0.5, spec.positive_label)
        rows.append({"training": name, "training rows": rows_trained,
                     "future rows": len(future), "roc_auc": metrics["roc_auc"],
                     "recall": metrics["recall"],
                     "false_positive_rate": metrics["false_positive_rate"],
                     spec.primary_metric: metrics[spec.primary_metric]})
    table = pd.DataFrame(rows).set_index("training")
    table.attrs["cutoff"] = cutoff.date().isoformat()
    return table


def describe(table: pd.DataFrame | None) -> str:
    """One sentence on what the comparison shows, or why there is none."""
    if table is None:
        return ("No time-ordered evaluation: no row of the test split carries a date, or its "
                f"newest {FUTURE_SHARE:.0%} holds fewer than {MIN_FUTURE_ROWS} texts of a label.")
    gap = float(np.diff(table["roc_auc"].to_numpy())[0])
    return (f"The future: test rows dated {table.attrs['cutoff']} or later "
            f"({int(table['future rows'].iloc[0])} texts). Trained on the past only, ROC-AUC on "
            f"them moves by {gap:+.3f} against the random split's model.")


def evaluate(cat: Any, trained: Any, spec: ProblemSpec) -> pd.DataFrame | None:
    """:func:`compare` on stage 3's splits; None out of core, where the splits are parts on
    disk (the comparison refits the model in memory)."""
    from shared.data import engines

    if engines.engine_of(cat) != engines.MEMORY:
        return None
    return compare(trained, cat.read("train"), cat.read("test"), spec)
