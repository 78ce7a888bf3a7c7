"""Challenger against champion: stage 6's comparison with the live model, on the same texts.

Stage 6 (``shared.deploy.deployment``) asks :func:`compare_with_live` for the release
checks beyond stage 5's gate. Each compares the candidate (the challenger) with
another model on the SAME texts, by a paired bootstrap of the primary metric
(:func:`paired_bootstrap`): both models' predictions are resampled together, so
that only the texts on which they differ move the difference. The candidate
passes when, with ``regression_confidence`` (95%, one-sided), its primary metric
is at most ``max_metric_regression`` (0.02) below the other model's.

1. **The live model (the champion), re-scored on the candidate's test split.**
   Texts the live model was trained on are left out (a release keeps the
   hashes of its training texts, :data:`TRAINING_KEYS`): a model graded on
   what it memorised would look better than it is. Whatever the two test
   splits are, the comparison is made; it is never skipped silently. A live
   release that cannot be loaded is named in the check, which then passes:
   a broken release must not block the release that replaces it.
2. **The frozen test set**, once a retrain (``shared.run.retrain``) has kept one
   (:func:`freeze`): the test split of the model that was live before any
   feedback was learnt, with that model's scores, in ``models/<task>/frozen/``
   and checked against its SHA-256 on every use. Feedback can never reach it:
   a retrain quarantines feedback on its texts, and stage 3 keeps it in the
   test split (``preparation.split``'s ``hash_split``). The candidate is
   compared with that first model's stored scores, not with the current
   champion, so that retrains cannot each give up a little and add up to a
   lot. Someone who relabels their own spam as ham through ``POST /feedback``
   may make the candidate look better on the fresh split (which holds their
   labels); on the frozen set it is graded against labels they never touched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.core import storage
from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import EvaluationReport, GateCheck
from shared.core.text_rules import dedup_key
from shared.model.metrics import confusion, rates, roc_auc_rows

#: the file of a release folder holding the hashes of its model's training texts
TRAINING_KEYS = "training_keys.txt"
#: the frozen test set's table and its record, in ``models/<task>/frozen/``
FROZEN_TABLE, FROZEN_RECORD = "test.csv", "frozen.json"
N_RESAMPLES = 1000
BLOCK = 25


class FrozenSetError(RuntimeError):
    """The frozen test set is not what was frozen (its SHA-256 differs) or cannot be read."""


@dataclass(frozen=True)
class Comparison:
    """A paired bootstrap of ``challenger - champion`` on the primary metric."""

    metric: str
    texts: int
    difference: float
    lower_bound: float
    confidence: float
    tolerance: float

    @property
    def passed(self) -> bool:
        """Not worse than the champion by more than the tolerance, with the confidence."""
        return self.lower_bound >= -self.tolerance - 1e-12

    def describe(self) -> str:
        return (f"difference {self.difference:+.3f}, one-sided {self.confidence:.0%} lower "
                f"bound {self.lower_bound:+.3f} (at least {-self.tolerance:+.3f} needed; paired "
                f"bootstrap, {N_RESAMPLES:,} resamples)")


def text_key(text: str) -> str:
    """16 hex digits of the SHA-256 of a text's de-duplication key: how texts are matched."""
    return key_of_dedup(dedup_key(text))


def key_of_dedup(dedup: str) -> str:
    """:func:`text_key` of a text whose de-duplication key ``dedup`` is already known."""
    return hashlib.sha256(dedup.encode("utf-8")).hexdigest()[:16]


def _metric_rows(metric: str, actual: np.ndarray, scores: np.ndarray, threshold: float
                 ) -> np.ndarray:
    """``metric`` of every row of resampled labels and scores."""
    if metric == "roc_auc":
        return roc_auc_rows(actual, scores)
    return rates(*confusion(actual, scores >= threshold))[metric]


def paired_bootstrap(
    y_true: np.ndarray, challenger: np.ndarray, champion: np.ndarray,
    challenger_threshold: float, champion_threshold: float, spec: ProblemSpec,
    n_resamples: int = N_RESAMPLES,
) -> Comparison:
    """Resample the texts (seeded from the spec) and take both models' primary metric on
    each resample; the lower bound is the ``1 - regression_confidence`` quantile of the
    differences. ``y_true`` holds booleans (True: the positive label)."""
    metric = spec.primary_metric
    actual = np.asarray(y_true, dtype=bool)
    mine, theirs = (np.asarray(s, dtype=float) for s in (challenger, champion))
    point = (float(_metric_rows(metric, actual[None], mine[None], challenger_threshold)[0])
             - float(_metric_rows(metric, actual[None], theirs[None], champion_threshold)[0]))
    rng = np.random.default_rng(spec.seed)
    differences = []
    for start in range(0, n_resamples, BLOCK):
        index = rng.integers(0, len(actual), size=(min(BLOCK, n_resamples - start), len(actual)))
        differences.append(_metric_rows(metric, actual[index], mine[index], challenger_threshold)
                           - _metric_rows(metric, actual[index], theirs[index],
                                          champion_threshold))
    found = np.concatenate(differences)
    found = found[~np.isnan(found)]  # a resample of one class has no ROC-AUC
    return Comparison(metric, len(actual), round(point, 6),
                      round(float(np.quantile(found, 1 - spec.regression_confidence)), 6),
                      spec.regression_confidence, spec.max_metric_regression)


# --- what a release was trained on --------------------------------------------------------

def write_training_keys(folder: Path, texts: pd.Series | None) -> str | None:
    """Write the sorted hashes of the training texts into a release folder; the file's name,
    or None when the texts are not at hand (the out-of-core engine's parts)."""
    if texts is None:
        return None
    keys = sorted({text_key(t) for t in texts})
    storage.write_text(folder / TRAINING_KEYS, "".join(f"{k}\n" for k in keys))
    return TRAINING_KEYS


def read_training_keys(folder: Path) -> set[str] | None:
    """The hashes of a release's training texts, or None when it did not record them."""
    path = Path(folder) / TRAINING_KEYS
    if not path.is_file():
        return None
    return set(path.read_text(encoding="utf-8").split())


def training_texts(cat: Catalog) -> pd.Series | None:
    """The texts of this run's training split (None on the out-of-core engine)."""
    return cat.read("train")["text"] if cat.path("train").is_file() else None


# --- the frozen test set ------------------------------------------------------------------

def frozen_dir(cat: Catalog) -> Path:
    """``models/<task>/frozen/``, beside the releases."""
    return cat.deployed_dir.parent / "frozen"


@dataclass(frozen=True)
class FrozenSet:
    """The frozen test set: texts, labels and the anchor model's scores, and its record."""

    table: pd.DataFrame
    record: dict[str, Any]

    @property
    def keys(self) -> set[str]:
        return set(self.table["key"])


def freeze(cat: Catalog, reference: pd.DataFrame, release_name: str, threshold: float,
           dataset: str, skip_datasets: tuple[str, ...] = ()) -> FrozenSet:
    """Keep ``reference`` (a live release's test-split predictions; rows of ``skip_datasets``
    left out) as the task's frozen test set, with the release's scores and threshold.

    Refuses to replace a frozen set that exists: it is frozen once."""
    folder = frozen_dir(cat)
    if (folder / FROZEN_RECORD).exists():
        raise FrozenSetError(f"{folder} already holds a frozen test set; it is never replaced "
                             "(delete the folder to start again from the live release)")
    rows = reference
    if skip_datasets and "dataset" in rows.columns:
        rows = rows[~rows["dataset"].isin(skip_datasets)]
    table = pd.DataFrame({"key": rows["text"].map(text_key), "text": rows["text"],
                          "label": rows["label"], "score": rows["score"].astype(float)})
    table = table.drop_duplicates("key").reset_index(drop=True)
    folder.mkdir(parents=True, exist_ok=True)
    storage.write_csv(folder / FROZEN_TABLE, table)
    record = {"sha256": storage.sha256_file(folder / FROZEN_TABLE), "rows": len(table),
              "release": release_name, "threshold": float(threshold), "dataset": dataset,
              "frozen_at": datetime.now(UTC).isoformat(timespec="seconds")}
    storage.write_json(folder / FROZEN_RECORD, record)
    return FrozenSet(table, record)


def load_frozen(cat: Catalog) -> FrozenSet | None:
    """The frozen test set, or None when none was kept; FrozenSetError when it changed."""
    folder = frozen_dir(cat)
    if not (folder / FROZEN_RECORD).exists():
        return None
    try:
        record = storage.read_json(folder / FROZEN_RECORD)
        found = storage.sha256_file(folder / FROZEN_TABLE)
    except (OSError, ValueError) as error:
        raise FrozenSetError(f"the frozen test set in {folder} cannot be read: {error}") from None
    if found != record.get("sha256"):
        raise FrozenSetError(f"the frozen test set {folder / FROZEN_TABLE} is not what was "
                             f"frozen: SHA-256 {found[:16]}..., recorded "
                             f"{str(record.get('sha256'))[:16]}...")
    table = pd.read_csv(folder / FROZEN_TABLE, encoding="utf-8", keep_default_na=False,
                        dtype={"key": str, "text": str, "label": str, "score": float})
    return FrozenSet(table, record)


# --- stage 6's checks ---------------------------------------------------------------------

def compare_with_live(
    cat: Catalog, spec: ProblemSpec, evaluation: EvaluationReport,
) -> list[GateCheck]:
    """The release checks of the candidate of ``cat`` (stage 5's model, its reference
    predictions and training split) against the live release and the frozen test set;
    empty when nothing is live and nothing is frozen."""
    from shared.core.manifest import load_deployed  # the model file loader: stage 6 only

    checks = []
    reference = cat.read("reference_predictions")
    trained_on = {text_key(t) for t in texts} if (texts := training_texts(cat)) is not None \
        else set()
    live_name = None
    if (cat.deployed_dir / "manifest.json").exists():
        try:
            live_model, manifest = load_deployed(cat.deployed_dir)
        except Exception as error:  # noqa: BLE001 - any reason the live model cannot serve
            checks.append(GateCheck(
                f"compared with the live release: it cannot be loaded ({type(error).__name__}: "
                f"{error}), so there is nothing to compare with; replacing it is allowed",
                0.0, True))
        else:
            live_name = manifest.release or manifest.model_version
            checks.append(_live_check(spec, evaluation, reference, live_model,
                                      manifest.metrics.threshold, live_name,
                                      read_training_keys(cat.deployed_dir)))
    try:
        frozen = load_frozen(cat)
    except FrozenSetError as error:
        checks.append(GateCheck(f"frozen test set: {error}", 0.0, False))
    else:
        if frozen is not None:
            checks.append(_frozen_check(cat, spec, evaluation, frozen, trained_on))
    return checks


def _live_check(spec: ProblemSpec, evaluation: EvaluationReport, reference: pd.DataFrame,
                live_model: Any, live_threshold: float, live_name: str,
                live_keys: set[str] | None) -> GateCheck:
    from shared.model.scoring import positive_scores

    primary = spec.primary_metric
    keys = reference["text"].map(text_key)
    unseen = ~keys.isin(live_keys) if live_keys is not None else pd.Series(True, keys.index)
    rows = reference[unseen.to_numpy()]
    what = (f"{primary} at most {spec.max_metric_regression:.3f} below the live release "
            f"{live_name} with {spec.regression_confidence:.0%} confidence")
    if live_keys is None:
        scope = (f"on all {len(rows)} texts of this test split (the live release does not "
                 "record its training texts)")
    else:
        scope = (f"on the {len(rows)} texts of this test split the live release was not "
                 f"trained on ({len(reference) - len(rows)} left out)")
    if rows.empty:
        return GateCheck(f"{what}: no text of this test split is new to the live release, so "
                         "the two cannot be compared", 0.0, False)
    result = paired_bootstrap(
        (rows["label"] == spec.positive_label).to_numpy(), rows["score"].to_numpy(dtype=float),
        positive_scores(live_model, rows["text"], spec.positive_label), evaluation.threshold,
        live_threshold, spec)
    return GateCheck(f"{what}, {scope}: {result.describe()}", round(result.lower_bound, 4),
                     result.passed)


def _frozen_check(cat: Catalog, spec: ProblemSpec, evaluation: EvaluationReport,
                  frozen: FrozenSet, trained_on: set[str]) -> GateCheck:
    from shared.model.scoring import positive_scores

    table = frozen.table
    leaked = table["key"].isin(trained_on).to_numpy()
    rows = table[~leaked]
    what = (f"on the frozen test set ({frozen.record['rows']} texts, SHA-256 "
            f"{frozen.record['sha256'][:12]}, frozen from release {frozen.record['release']}): "
            f"{spec.primary_metric} at most {spec.max_metric_regression:.3f} below that release "
            f"with {spec.regression_confidence:.0%} confidence")
    left_out = (f"; {int(leaked.sum())} frozen texts this model was trained on left out"
                if leaked.any() else "")
    if rows.empty:
        return GateCheck(f"{what}: this model was trained on every frozen text", 0.0, False)
    model = cat.read("final_model")
    result = paired_bootstrap(
        (rows["label"] == spec.positive_label).to_numpy(),
        positive_scores(model, rows["text"], spec.positive_label), rows["score"].to_numpy(),
        evaluation.threshold, float(frozen.record["threshold"]), spec)
    return GateCheck(f"{what}: {result.describe()}{left_out}", round(result.lower_bound, 4),
                     result.passed)
