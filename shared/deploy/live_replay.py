"""Models replayed on labelled live traffic: does the offline metric predict the online one,
and how fast does a model go stale?

Two questions of Google's ML Test Score (Breck et al. 2017) that need the feedback labels
of the prediction log:

* **Offline and online metrics agree** (:func:`degradation_study`, test M2). The paper's
  method is a deliberately weaker model. Here the chosen configuration is refitted on
  shrinking shares of the training split; each model is scored offline on the test split,
  as stage 5 scores, and online through the serving path: predicted by a
  :class:`~shared.serving.predictor.Predictor`, appended to a scratch prediction log, labelled by
  feedback and measured by the monitor's own :func:`shared.monitoring.drift.live_metrics`. When the
  two rankings disagree, the offline metric is no proxy for what users see.
* **The impact of staleness** (:func:`replay_releases`, test M4). Every kept release is
  scored on the same recent labelled traffic. Releases trained on data of different dates
  show how much a model loses with age, which says how often to retrain. Replays are
  what-ifs: nothing is appended to the log.

    python -m shared.live_replay study --task sentiment
    python -m shared.live_replay releases --task spam --last 500
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import clone

from shared.core import command_line
from shared.core.catalog import PROJECT_DIR, Catalog, MissingArtifactError
from shared.core.manifest import ManifestMismatchError
from shared.core.modelfile import UntrustedModelError
from shared.deploy import release
from shared.model.metrics import binary_metrics
from shared.model.scoring import positive_scores
from shared.monitoring import drift
from shared.serving import prediction_log
from shared.serving.predictor import Predictor

#: shares of the training split the weaker models of the study are refitted on: spread
#: widely, because an online metric over tens of labelled texts resolves only large
#: differences (on the built-in new batch of 60 texts, F1 moves by about 0.1 between two
#: models within 0.04 of each other offline)
FRACTIONS = (0.02, 0.05, 0.15, 0.4)
#: the least Spearman correlation between the offline and the online metric for them to agree
MIN_RANK_CORRELATION = 0.8


@dataclass(frozen=True)
class MetricStudy:
    """The degradation study: one row per model, offline and online metric side by side."""

    metric: str
    table: pd.DataFrame
    rank_correlation: float
    min_rank_correlation: float = MIN_RANK_CORRELATION

    @property
    def agrees(self) -> bool:
        """Whether the offline metric ranks the models as the online one does."""
        return bool(self.rank_correlation >= self.min_rank_correlation)


def online_metrics(predictor: Predictor, texts: list[str], labels: list[str],
                   log_path: str | Path) -> dict[str, float]:
    """What the monitor would report for ``texts`` served by ``predictor`` and labelled
    ``labels`` by feedback: predicted, logged and joined with the feedback in ``log_path``."""
    result, batch_id = predictor.predict_and_log(texts, log_path, "live_replay")
    answered = result["prediction_id"] != ""
    prediction_log.add_feedback_many(
        log_path, zip(result.loc[answered, "prediction_id"],
                      np.asarray(labels, dtype=object)[answered.to_numpy()], strict=True))
    window = prediction_log.read(log_path, batch_id, with_feedback=True)
    return drift.live_metrics(window, predictor.spec)


def weaker_models(cat: Catalog, seed: int,
                  fractions: tuple[float, ...] = FRACTIONS) -> dict[str, object]:
    """Stage 4's configuration refitted on a stratified share of the training split drawn
    with ``seed``, for each of ``fractions``; keyed by a description ('5% of training
    (38 texts)')."""
    trained = cat.read("trained_model")
    train = cat.read("train")
    models: dict[str, object] = {}
    for fraction in fractions:
        part = train.groupby("label", group_keys=False).sample(frac=fraction, random_state=seed)
        model = clone(trained).fit(part["text"], part["label"])
        models[f"{fraction:.0%} of training ({len(part)} texts)"] = model
    return models


def degradation_study(cat: Catalog, fractions: tuple[float, ...] = FRACTIONS,
                      live: pd.DataFrame | None = None,
                      min_rank_correlation: float = MIN_RANK_CORRELATION) -> MetricStudy:
    """The deployed model and weaker ones, each scored offline (the test split) and online
    (``live``, texts with their true labels, through the serving path; by default the
    labelled new batch of stage 7), at the deployed threshold."""
    deployed = Predictor.from_deployed(cat.deployed_dir)
    spec = deployed.spec
    metric = spec.primary_metric
    test = cat.read("test")
    live = cat.read("new_batch") if live is None else live
    models = {"deployed model": deployed.model, **weaker_models(cat, spec.seed, fractions)}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        log_path = Path(scratch) / "study.sqlite"
        for index, (name, model) in enumerate(models.items()):
            offline = binary_metrics(test["label"], positive_scores(model, test["text"],
                                     spec.positive_label), deployed.threshold,
                                     spec.positive_label)[metric]
            predictor = dataclasses.replace(deployed, model=model,
                                            model_version=f"study-{index}")
            online = online_metrics(predictor, list(live["text"]), list(live["label"]),
                                    log_path)
            rows.append({"model": name, f"offline {metric}": float(offline),
                         f"online {metric}": online[f"live_{metric}"],
                         "online texts": online["feedback_count"]})
    table = pd.DataFrame(rows)
    correlation = float(spearmanr(table[f"offline {metric}"], table[f"online {metric}"])[0])
    return MetricStudy(metric, table, correlation, min_rank_correlation)


def replay_releases(cat: Catalog, batch: str | None = None,
                    last: int | None = None) -> pd.DataFrame:
    """Every kept release scored on the labelled predictions of the log (one batch, the
    ``last`` rows, or all): offline metric from its manifest, online metric on that
    traffic, and its age at the traffic's newest prediction. Newest release first."""
    window = prediction_log.read(cat.path("prediction_log"), batch, last, with_feedback=True)
    window = window[window["true_label"] != ""]
    if window.empty:
        raise ValueError(f"{cat.relative(cat.path('prediction_log'))} holds no prediction with "
                         "feedback in that window: send labels with POST /feedback first")
    if window["text"].isna().any():
        raise ValueError(f"{int(window['text'].isna().sum())} labelled predictions were logged "
                         "with --hash-texts (the text is not kept), so they cannot be replayed")
    live = release.live_release(cat)
    rows = []
    for name in reversed(release.release_names(cat)):
        predictor = Predictor.from_deployed(cat.releases_dir / name)
        metric = predictor.spec.primary_metric
        scored = predictor.score(list(window["text"]))
        replayed = pd.DataFrame({"label": scored.label, "score": scored.score,
                                 "true_label": window["true_label"].to_numpy()})
        online = drift.live_metrics(replayed, predictor.spec)
        rows.append({
            "release": name, "live": name == live, "deployed_at": predictor.manifest.deployed_at,
            "age_days": drift.model_age_days(predictor.manifest.deployed_at, window),
            "metric": metric, "offline": float(predictor.manifest.metrics.test[metric]),
            "online": online[f"live_{metric}"], "texts": online["feedback_count"],
        })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """The command: ``study`` exits 1 when the offline and online metrics disagree, and
    either exits 2 when it cannot run (nothing deployed, no labelled traffic)."""
    parser = command_line.parser("replay", __doc__, [
        "python -m shared replay study --task sentiment",
        "python -m shared replay releases --last 500",
    ])
    parser.add_argument("action", choices=["study", "releases"])
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--root", default=str(PROJECT_DIR), help="the project folder")
    parser.add_argument("--batch", help="releases: replay one logged batch")
    parser.add_argument("--last", type=int, help="releases: replay the newest N predictions")
    parser.add_argument("--min-rank-correlation", type=float, default=MIN_RANK_CORRELATION)
    args = parser.parse_args(argv)
    cat = Catalog.for_task(args.task, args.root)
    try:
        if args.action == "releases":
            replayed = replay_releases(cat, args.batch, args.last)
        else:
            study = degradation_study(cat, min_rank_correlation=args.min_rank_correlation)
    except (MissingArtifactError, ManifestMismatchError, UntrustedModelError,
            ValueError) as error:
        print(f"live_replay: {error}", file=sys.stderr)
        return 2
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        if args.action == "releases":
            print(replayed.round(4).to_string(index=False))
            return 0
        print(study.table.round(4).to_string(index=False))
        verdict = "agree" if study.agrees else "DISAGREE"
        print(f"Spearman correlation of offline and online {study.metric}: "
              f"{study.rank_correlation:.3f} (at least {study.min_rank_correlation}): {verdict}")
        return 0 if study.agrees else 1


if __name__ == "__main__":
    sys.exit(main())
