"""Stage 4's search on a public data set: the default, successive halving, and the full grid.

    DATA_CACHE_DIR=../shared/datasets python benchmarks/search.py --task sentiment --dataset rt-polarity
    DATA_CACHE_DIR=../shared/datasets python benchmarks/search.py --task spam --dataset sms-spam

For one data set it prepares the training split as stages 1 to 3 do (the
task's spec, validation, de-duplication, the seeded split), then runs stage
4's search over the ``full`` grids three ways: ``auto`` (what stage 4 does:
every linear configuration on every text, the forest by successive halving),
``halving`` (every family by successive halving) and ``grid`` (everything on
every text; ``--grid-without "random forest"`` leaves out its minute-long
fits). For each it prints the time, the number of classifier fits, the chosen
configuration and its cross-validated score, and the best configuration of
each model; then whether ``auto`` and ``halving`` keep the grid's choice. Run
it on a quiet machine; it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.data import preparation, sources, validation  # noqa: E402
from shared.data.tasks import get_task  # noqa: E402
from shared.model import models, training  # noqa: E402


def training_split(task: str, dataset: str):  # noqa: ANN201 (a DataFrame)
    """The training split stages 1 to 3 would write for this task and data set."""
    spec = get_task(task).spec
    loaded = sources.load_dataset(dataset, task)
    kept = validation.validate(loaded, spec).kept
    clean, _ = preparation.clean_and_deduplicate(kept)
    return preparation.split(clean, spec)["train"], spec


def main(argv: list[str] | None = None) -> int:
    """Run both searches and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--dataset", default="rt-polarity")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--grid-without", action="append", default=[], metavar="MODEL",
                        help="leave a model out of the grid run, e.g. 'random forest' (on "
                             "rt-polarity each forest fit on all texts takes a minute)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    train, spec = training_split(args.task, args.dataset)
    candidates = models.candidates(spec.seed)
    print(f"{args.dataset}: {len(train):,} training texts, {spec.cv_folds} folds, "
          f"{spec.primary_metric}; full grids")
    found = {}
    for method in ("auto", "halving", "grid"):
        began = time.perf_counter()
        searched = [c for c in candidates if method != "grid" or c.name not in args.grid_without]
        result = training.run_search(searched, train, spec, "full", method, n_jobs=args.n_jobs)
        seconds = time.perf_counter() - began
        chosen = training.choose_configuration(result, searched, "best", spec.cv_folds).row
        fits = int(len(result.table) * spec.cv_folds)
        found[method] = {"seconds": round(seconds, 1), "fits": fits,
                         "chosen": f"{chosen['model']} ({chosen['params']})",
                         "cv": round(float(chosen["mean"]), 4)}
        print(f"\n{method}: {seconds:.0f} s, {fits} classifier fits; chosen "
              f"{found[method]['chosen']}, CV {spec.primary_metric} {chosen['mean']:.4f}")
        print(training.best_per_model(result.table)[["model", "params", "texts", "mean", "std"]]
              .round(4).to_string(index=False))
    if args.grid_without:
        print(f"(the grid left out: {', '.join(args.grid_without)})")
    for method in ("auto", "halving"):
        found[method]["same_choice_as_grid"] = found[method]["chosen"] == found["grid"]["chosen"]
        print(f"{method} keeps the grid's choice: "
              f"{'yes' if found[method]['same_choice_as_grid'] else 'NO'}; "
              f"time {found[method]['seconds']:.0f} s against {found['grid']['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"dataset": args.dataset, **found}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
