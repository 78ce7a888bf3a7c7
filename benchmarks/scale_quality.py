"""rt-polarity, 10-fold accuracy: the out-of-core model against the in-memory model.

    DATA_CACHE_DIR=../shared/datasets python benchmarks/scale_quality.py [--search] [--json out.json]

The protocol of ``benchmarks/quality.py`` for both engines: choose a
configuration on the whole set with the engine's own stage-4 search, then
score it by 10-fold stratified CV accuracy (threshold 0.5, as the sentiment
spec decides).

- In memory: by default the configuration ``benchmarks/quality.py`` chose
  with the full search (NB-SVM, C=3, word + character n-grams; the README
  quotes it), refitted on each fold; ``--search`` runs that search again
  (about 450 s on this machine).
- Out of core: the incremental search on its stratified sample
  (``shared.scale.incremental``), then in every fold the stage-4 training itself:
  the fold's training texts written as Parquet parts, ``train_stream`` with its
  held-out share and its passes of ``partial_fit``, scored on the fold's rest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATA_CACHE_DIR", str(ROOT.parent / "shared" / "datasets"))

from shared.core.catalog import Catalog  # noqa: E402
from shared.data import partitions  # noqa: E402
from shared.data.sources import load_dataset  # noqa: E402
from shared.data.tasks import get_task  # noqa: E402
from shared.model import models, training  # noqa: E402
from shared.model.features import binned_lexicon, char_tfidf  # noqa: E402
from shared.model.metrics import binary_metrics  # noqa: E402
from shared.model.scoring import positive_scores  # noqa: E402
from shared.model.search import folds  # noqa: E402
from shared.scale import incremental  # noqa: E402


def in_memory(data: pd.DataFrame, spec, search: bool) -> dict[str, object]:
    """10-fold accuracy of the in-memory stage-4 choice."""
    if search:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from quality import select

        model, info, _ = select(data["text"], data["label"], spec, "auto")
        name = f"{info['model']} ({info['params']})"
    else:
        candidate = next(c for c in models.for_spec(spec, len(data)) if c.name == "NB-SVM")
        model = training.configured(candidate, {"clf__C": 3.0, "features__char": char_tfidf(),
                                                "features__lexicon": binned_lexicon()})
        name = "NB-SVM (C=3, word+char n-grams, lexicon; benchmarks/quality.py's choice)"
    ten = spec.with_overrides(cv_folds=10)
    cv, _ = training.cross_validate("in memory", model, data["text"], data["label"], ten)
    return {"model": name, "folds": cv["accuracy"].tolist()}


def out_of_core(data: pd.DataFrame, spec, work: Path) -> dict[str, object]:
    """10-fold accuracy of the out-of-core search's choice, trained as stage 4 trains it."""
    candidates = incremental.candidates(spec.seed, models.text_normaliser(spec),
                                        spec.feature_groups)
    result = incremental.run_search(candidates, incremental_sample(data, spec, work), spec)
    choice = training.choose_configuration(result, candidates, "best", spec.cv_folds)
    chosen, candidate = choice.row, choice.candidate
    scores = []
    ten = spec.with_overrides(cv_folds=10)
    labels = data["label"].to_numpy()
    for number, (train, test) in enumerate(folds(ten).split(np.zeros(len(labels)), labels)):
        cat = Catalog.for_task("sentiment", work / f"fold{number}")
        with partitions.PartWriter(cat.path("train_parts"), part_rows=3000) as writer:
            writer.write(data.iloc[train].sample(frac=1, random_state=number)[["text", "label"]])
        model = training.configured(candidate, chosen["raw_params"])
        stream = incremental.train_stream(
            model, cat, spec, incremental.epochs_for(model, len(train)))
        scored = positive_scores(stream.model, data["text"].iloc[test], spec.positive_label)
        scores.append(binary_metrics(labels[test], scored, 0.5, spec.positive_label)["accuracy"])
    return {"model": f"{chosen['model']} ({chosen['params']})", "folds": scores}


def incremental_sample(data: pd.DataFrame, spec, work: Path) -> pd.DataFrame:
    """The search sample stage 4 draws (``shared.scale.incremental.sample``: up to
    ``SAMPLE_ROWS`` texts, no two of them near-duplicates) from the whole set as its parts."""
    cat = Catalog.for_task("sentiment", work / "all")
    with partitions.PartWriter(cat.path("train_parts")) as writer:
        writer.write(data[["text", "label"]])
    return incremental.sample(cat, spec)


def main(argv: list[str] | None = None) -> int:
    """Print both engines' 10-fold accuracy and their difference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search", action="store_true",
                        help="re-run the in-memory full search instead of quality.py's choice")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    data = load_dataset("rt-polarity", "sentiment").frame[["text", "label"]]
    spec = get_task("sentiment").spec.with_overrides(primary_metric="accuracy")
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for name, run in (("in memory", lambda: in_memory(data, spec, args.search)),
                          ("out of core", lambda: out_of_core(data, spec, Path(work)))):
            began = time.perf_counter()
            results[name] = run() | {"seconds": time.perf_counter() - began}
            folds_ = np.array(results[name]["folds"])
            print(f"{name:<12} {results[name]['model']}: 10-fold accuracy "
                  f"{folds_.mean() * 100:.1f} ± {folds_.std(ddof=1) * 100:.1f} "
                  f"({results[name]['seconds']:.0f} s)", flush=True)
    gap = (np.mean(results["in memory"]["folds"]) - np.mean(results["out of core"]["folds"])) * 100
    print(f"difference: {gap:.1f} points (target: at most 2)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
