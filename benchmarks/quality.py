"""Quality benchmark: the project's own model on two public data sets, beside published results.

Runs the project's pipeline code as it is (``shared.data.sources`` loaders, the
stage-4 model search ``shared.model.training.run_search`` over ``shared.model.models.candidates``
with the full budget, ``shared.model.training.cross_validate`` and the
``shared.model.metrics`` and the ``shared.model.decision`` threshold rule) with the protocol each
publication used. The model is the one the stage-4 search chooses ("best"
rule) on the data the protocol trains on; its search time is printed.
For rt-polarity the search's 5 folds and the 10 evaluation folds come from the
same 10,662 snippets, as in the published work, which also tuned on the data
it cross-validated on.

- rt-polarity (sentence polarity v1.0, "MR"): 10-fold stratified
  cross-validation accuracy on all 10,662 snippets. Published: MNB 79.0,
  NBSVM-bi 79.4 (Wang & Manning 2012), CNN-static 81.0, CNN-non-static 81.5
  (Kim 2014).
- sms-spam (SMS Spam Collection v.1): stratified hold-out, 30% of the 5,574
  messages for training and 70% for testing (fixed seed). The decision
  threshold is chosen on the training part only, from 5-fold out-of-fold
  scores with the spam task's rule and ``max_false_positive_rate`` 0.005; the
  test part is scored once. Published best (linear SVM, Almeida et al. 2011):
  accuracy 97.64%, spam caught 83.10%, ham blocked 0.18%, MCC 0.893.

Both protocols use every row as published (no de-duplication, no quarantine),
as the publications did. The data come from the cache the loaders use
(``DATA_CACHE_DIR``, else data/external/, downloading when missing).

Usage::

    python benchmarks/quality.py [--json PATH] [--only rt-polarity|sms-spam] [--groups char,lexicon]
        [--no-text-path]

It is a benchmark, not a test: it prints a table and takes several minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from shared.core.problem import ProblemSpec
from shared.core.records import DataSourceError
from shared.data.sources import load_dataset
from shared.data.tasks import get_task
from shared.data.validation import validate
from shared.model import models, training
from shared.model.decision import choose_threshold
from shared.model.metrics import binary_metrics
from shared.model.scoring import positive_scores

MODEL = "this project"
RT_PUBLISHED = {
    "MNB (Wang & Manning 2012)": 0.790,
    "NBSVM-bi (Wang & Manning 2012)": 0.794,
    "CNN-static (Kim 2014)": 0.810,
    "CNN-non-static (Kim 2014)": 0.815,
}
SMS_PUBLISHED = {"accuracy": 0.9764, "spam_caught": 0.8310, "ham_blocked": 0.0018, "mcc": 0.893}
SMS_MAX_HAM_BLOCKED = 0.005


def _announce(data, spec) -> None:
    validated = validate(data, spec)
    print(
        f"  {data.name}: {data.rows_read:,} rows from {data.origin} "
        f"({', '.join(f'{k} {v:,}' for k, v in data.details['label_counts'].items())}); "
        f"all used, as published (validation would quarantine {len(validated.quarantined)})"
    )


def select(
    texts: pd.Series, labels: pd.Series, spec: ProblemSpec, method: str
) -> tuple[object, dict, np.ndarray]:
    """Stage 4's full-budget search (over the spec's feature groups) and 'best' choice: the
    unfitted chosen pipeline, what was chosen, and its out-of-fold scores from the search."""
    began = time.perf_counter()
    # the groups stage 4 searches on this many training texts (not the encoder's, over 5,000)
    candidates = models.for_spec(spec, len(texts))
    train = pd.DataFrame({"text": list(texts), "label": list(labels)})
    result = training.run_search(candidates, train, spec, "full", method)
    choice = training.choose_configuration(result, candidates, "best", spec.cv_folds)
    chosen = choice.row
    seconds = time.perf_counter() - began
    for _, row in result.extensions.iterrows():
        print(f"  {row['model']}, {row['parameter']}: best {row['best']} ({row['outcome']})")
    print(f"  search ({training.resolve_search(method, 'full')}): "
          f"{result.table['config'].nunique()} configurations, {len(result.table)} scored x "
          f"{spec.cv_folds} folds in {seconds:.0f} s; chosen {chosen['model']} "
          f"({chosen['params']}), CV {spec.primary_metric} {chosen['mean']:.4f}")
    info = {"model": chosen["model"], "params": chosen["params"], "search_seconds": seconds}
    return choice.model, info, result.oof[choice.index]


#: stage-1 values that switch the text path off (``--no-text-path``): no normalisation, no
#: name blinding, no gender augmentation, to measure what they cost or gain
NO_TEXT_PATH = {"text_normalisation": False, "name_blinding": "off", "gender_augmentation": False}


def rt_polarity(method: str, groups: tuple[str, ...] | None = None,
                overrides: dict | None = None) -> dict[str, float]:
    """10-fold stratified CV accuracy of the chosen model on rt-polarity."""
    data = load_dataset("rt-polarity", "sentiment")
    spec = get_task("sentiment").spec.with_overrides(primary_metric="accuracy",
                                                     feature_groups=groups, **(overrides or {}))
    _announce(data, spec)
    model, info, _ = select(data.frame["text"], data.frame["label"], spec, method)
    ten_fold = spec.with_overrides(cv_folds=10)
    cv, _ = training.cross_validate(
        MODEL, model, data.frame["text"], data.frame["label"], ten_fold
    )
    return {
        "accuracy_mean": float(cv["accuracy"].mean()),
        "accuracy_std": float(cv["accuracy"].std()),
        "model": f"{info['model']} ({info['params']})",
        "search_seconds": info["search_seconds"],
    }


def sms_spam(
    method: str, groups: tuple[str, ...] | None = None, overrides: dict | None = None
) -> tuple[dict[str, float], dict[str, float], float]:
    """Hold-out 30% train / 70% test on sms-spam; threshold chosen on the train part only.

    Returns the metrics at the chosen threshold, the metrics at 0.5 for
    comparison, and the chosen threshold.
    """
    data = load_dataset("sms-spam-only", "spam")  # the published corpus alone, as published
    spec = get_task("spam").spec.with_overrides(
        max_false_positive_rate=SMS_MAX_HAM_BLOCKED, primary_metric="mcc", feature_groups=groups,
        **(overrides or {})
    )
    _announce(data, spec)
    frame = data.frame
    train, test = train_test_split(
        frame, train_size=0.3, stratify=frame["label"], random_state=spec.seed
    )
    model, info, oof = select(train["text"], train["label"], spec, method)
    threshold = choose_threshold(train["label"].to_numpy(), oof, spec)
    model.fit(list(train["text"]), list(train["label"]))
    scores = positive_scores(model, test["text"], spec.positive_label)

    def summary(at: float) -> dict[str, float]:
        m = binary_metrics(test["label"].to_numpy(), scores, at, spec.positive_label)
        return {
            "model": f"{info['model']} ({info['params']})",
            "accuracy": float(m["accuracy"]),
            "spam_caught": float(m["recall"]),
            "ham_blocked": float(m["false_positive_rate"]),
            "mcc": float(m["mcc"]),
        }

    print(
        f"  sms-spam split: {len(train):,} train / {len(test):,} test (seed {spec.seed}); "
        f"threshold {threshold:.3f} chosen on out-of-fold train scores "
        f"(ham blocked <= {SMS_MAX_HAM_BLOCKED:.1%})"
    )
    return summary(threshold), summary(0.5), threshold


def rt_table(result: dict[str, float]) -> pd.DataFrame:
    rows = [
        {"model": f"{MODEL}: {result['model']}", "accuracy %": f"{100 * result['accuracy_mean']:.1f} "
                                       f"± {100 * result['accuracy_std']:.1f}"},
        *({"model": name, "accuracy %": f"{100 * value:.1f}"} for name, value in
          RT_PUBLISHED.items()),
    ]
    return pd.DataFrame(rows).set_index("model")


def sms_table(chosen: dict[str, float], at_half: dict[str, float], threshold: float
              ) -> pd.DataFrame:
    def row(name: str, m: dict[str, float]) -> dict[str, str]:
        return {
            "model": name,
            "accuracy %": f"{100 * m['accuracy']:.2f}",
            "spam caught %": f"{100 * m['spam_caught']:.2f}",
            "ham blocked %": f"{100 * m['ham_blocked']:.2f}",
            "MCC": f"{m['mcc']:.3f}",
        }

    return pd.DataFrame(
        [
            row(f"{MODEL}: {chosen['model']}, threshold {threshold:.3f}", chosen),
            row(f"{MODEL}: same model, threshold 0.5", at_half),
            row("linear SVM, best published (Almeida et al. 2011)", SMS_PUBLISHED),
        ]
    ).set_index("model")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, optionally write the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", type=Path, help="write the results (fractions) to this file")
    parser.add_argument("--search", default="auto", choices=training.SEARCHES,
                        help="stage 4's search method (auto: successive halving for these sets)")
    parser.add_argument("--only", choices=("rt-polarity", "sms-spam"),
                        help="run one data set only")
    parser.add_argument("--groups", type=lambda text: tuple(filter(None, text.split(","))),
                        help="the optional feature groups to search, comma-separated (default: "
                             "the task's feature_groups; '' for none)")
    parser.add_argument("--no-text-path", action="store_true",
                        help="switch the text path off: no normalisation, name blinding or "
                             "gender augmentation (to measure what they cost or gain)")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, float]] = {}
    start = time.perf_counter()
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        try:
            if args.only in (None, "rt-polarity"):
                began = time.perf_counter()
                print("rt-polarity: 10-fold stratified cross-validation accuracy")
                overrides = NO_TEXT_PATH if args.no_text_path else None
                results["rt-polarity"] = rt_polarity(args.search, args.groups, overrides)
                print(rt_table(results["rt-polarity"]).to_string())
                print(f"  ({time.perf_counter() - began:.1f} s)\n")
            if args.only in (None, "sms-spam"):
                began = time.perf_counter()
                print("sms-spam: hold-out, 30% train / 70% test")
                chosen, at_half, threshold = sms_spam(
                    args.search, args.groups, NO_TEXT_PATH if args.no_text_path else None)
                results["sms-spam"] = chosen
                print(sms_table(chosen, at_half, threshold).to_string())
                print(f"  ({time.perf_counter() - began:.1f} s)\n")
        except DataSourceError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(f"time taken: {time.perf_counter() - start:.1f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
