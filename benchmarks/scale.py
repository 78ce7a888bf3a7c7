"""Throughput of the out-of-core path: the seven stages on 100k, 300k and 1M texts.

    python benchmarks/scale.py --work /tmp/scale [--sizes 100000 300000 1000000] [--json out.json]
    python benchmarks/scale.py --work /tmp/scale --sizes 1000000 --batch   # + batch scoring

The data sets are THROUGHPUT sets, not quality sets: each text joins one to
three sentences of the same label drawn (seeded) from the offline copy of
rt-polarity (``--task sentiment``) or sms-spam (``--task spam``) in
``DATA_CACHE_DIR`` (``../shared/datasets`` beside the project). Resampled
sentences repeat, so their scores say nothing about a model's quality.

Each stage runs in its own process, as the runner runs each notebook in its own
kernel: stage 1 writes the spec (``engine=out_of_core``), stages 2 and 3 run the
out-of-core collection and preparation, stages 4 and 5 ``shared.scale.stages`` on the
out-of-core engine, and stages 6 and 7 are the committed notebooks, executed unchanged by
papermill. This process samples the resident memory of every
stage process and its children (psutil, every 0.2 s) and prints per stage the
seconds, rows per second and peak memory. ``--batch`` then scores the largest
set with the in-process batch command and with ``--dask local``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("DATA_CACHE_DIR", str(ROOT.parent / "shared" / "datasets"))
PY = sys.executable


def sentences(task: str) -> pd.DataFrame:
    """The public set's sentences and labels (rt-polarity: cp1252 lines; sms-spam: TSV)."""
    cache = Path(os.environ["DATA_CACHE_DIR"])
    if task == "sentiment":
        frames = [pd.DataFrame({"text": (cache / "rt-polarity" / f"rt-polarity.{ext}")
                                .read_bytes().decode("cp1252").splitlines(), "label": label})
                  for ext, label in (("pos", "positive"), ("neg", "negative"))]
        return pd.concat(frames, ignore_index=True)
    lines = (cache / "sms-spam" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines()
    label, text = zip(*(line.split("\t", 1) for line in lines if "\t" in line), strict=True)
    return pd.DataFrame({"text": text, "label": label})


def build_set(task: str, size: int, path: Path, seed: int = 0) -> Path:
    """``size`` texts of 1-3 same-label sentences each, as CSV (a throughput set)."""
    if path.exists():
        return path
    pool = sentences(task)
    pool = pool[pool["text"].str.strip() != ""]
    rng = np.random.default_rng(seed)
    by_label = {label: group["text"].to_numpy(dtype=object)
                for label, group in pool.groupby("label")}
    labels = rng.choice(pool["label"].to_numpy(dtype=object), size=size)
    counts = rng.integers(1, 4, size=size)
    texts = np.empty(size, dtype=object)
    for label, options in by_label.items():
        where = np.flatnonzero(labels == label)
        picks = rng.integers(0, len(options), size=(len(where), 3))
        for i, row, count in zip(where, picks, counts[where], strict=True):
            texts[i] = " ".join(options[row[:count]])
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


STAGE_CODE = {
    1: "from shared.core import problem; from shared.data.tasks import get_task; "
       "problem.save(get_task(TASK).spec.with_overrides(engine='out_of_core'), cat)",
    2: "from shared.core import problem; from shared.scale import chunk_validation; "
       "chunk_validation.collect(cat, problem.load(cat), DATASET)",
    3: "from shared.core import problem; from shared.scale import prepare_parts; "
       "prepare_parts.prepare(cat, problem.load(cat))",
    4: "from shared.core import problem; from shared.scale import stage_engines, stages; "
       "stages.train_stage(cat, problem.load(cat), stage_engines.OutOfCore())",
    5: "from shared.core import problem; from shared.scale import stage_engines, stages; "
       "stages.evaluate_stage(cat, problem.load(cat), stage_engines.OutOfCore())",
}


def stage_command(stage: int, task: str, root: Path, dataset: Path) -> list[str]:
    """The command that runs one stage in a fresh process."""
    if stage in STAGE_CODE:
        code = (f"import os; os.chdir({str(ROOT / 'notebooks')!r}); "
                f"from shared.core.catalog import Catalog; TASK={task!r}; DATASET={str(dataset)!r}; "
                f"cat = Catalog.for_task(TASK, {str(root)!r}); " + STAGE_CODE[stage])
        return [PY, "-c", code]
    notebook = ROOT / "notebooks" / ("06_deployment.ipynb" if stage == 6 else "07_monitoring.ipynb")
    return [PY, "-m", "papermill", str(notebook), str(root / f"{notebook.stem}.out.ipynb"),
            "-p", "task", task, "-p", "project_dir", str(root), "--cwd", str(ROOT / "notebooks"),
            "--no-progress-bar", "--log-level", "WARNING"]


def run_measured(command: list[str]) -> dict[str, float]:
    """Run ``command``; its seconds and the peak RSS of its largest process and whole tree."""
    peak = {"process": 0, "tree": 0}
    start = time.perf_counter()
    child = psutil.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                procs = [child, *child.children(recursive=True)]
                sizes = []
                for proc in procs:
                    with contextlib.suppress(psutil.Error):
                        sizes.append(proc.memory_info().rss)
                peak["process"] = max(peak["process"], max(sizes, default=0))
                peak["tree"] = max(peak["tree"], sum(sizes))
            except psutil.Error:
                pass
            done.wait(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    output, _ = child.communicate()
    done.set()
    watcher.join()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed:\n{output.decode()[-3000:]}")
    return {"seconds": time.perf_counter() - start, "peak_process_mb": peak["process"] / 2**20,
            "peak_tree_mb": peak["tree"] / 2**20}


def run_pipeline(task: str, size: int, work: Path) -> dict[str, object]:
    """All seven stages on a set of ``size`` texts; one row per stage and the total."""
    dataset = work / f"{task}-{size}.csv"
    if not dataset.exists():  # built in a process of its own: the runner's memory is its own
        subprocess.run([PY, __file__, "--work", str(work), "--task", task, "--build", str(size)],
                       check=True)
    root = work / f"run-{task}-{size}"
    stages = {}
    for stage in range(1, 8):
        stages[stage] = run_measured(stage_command(stage, task, root, dataset))
        shown = stages[stage]
        print(f"  {size:>9,} stage {stage}: {shown['seconds']:7.1f} s "
              f"{size / shown['seconds']:>10,.0f} rows/s  peak {shown['peak_process_mb']:6.0f} MB "
              f"(tree {shown['peak_tree_mb']:6.0f} MB)", flush=True)
    total = sum(s["seconds"] for s in stages.values())
    return {"size": size, "stages": stages, "total_seconds": total,
            "runner_peak_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (the runner of the stage processes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_batch(task: str, size: int, work: Path) -> dict[str, dict[str, float]]:
    """Batch scoring of the set with the in-process command and with --dask local."""
    dataset = work / f"{task}-{size}.csv"
    root = work / f"run-{task}-{size}"
    base = [PY, "-m", "shared.predict", "--task", task, str(dataset), "--root", str(root)]
    results = {}
    for name, extra in (("in-process", ["-o", str(work / "scored.csv")]),
                        ("dask local", ["--dask", "local", "-o", str(work / "scored.parquet")])):
        results[name] = run_measured(base + extra)
        results[name]["rows_per_second"] = size / results[name]["seconds"]
        print(f"  batch {name:<11} {results[name]['seconds']:7.1f} s "
              f"{results[name]['rows_per_second']:>9,.0f} rows/s peak "
              f"{results[name]['peak_process_mb']:6.0f} MB (tree "
              f"{results[name]['peak_tree_mb']:6.0f} MB)", flush=True)
    return results


def table(runs: list[dict[str, object]]) -> str:
    """The Markdown table docs/benchmarks.md quotes."""
    head = "| texts | " + " | ".join(f"stage {i}" for i in range(1, 8)) + \
        " | total | peak RSS, largest process | runner |"
    lines = [head, "|" + "---|" * 11]
    for run in runs:
        size = run["size"]
        cells = [f"{s['seconds']:.0f} s ({size / s['seconds']:,.0f}/s)"
                 for s in run["stages"].values()]
        peak = max(s["peak_process_mb"] for s in run["stages"].values())
        lines.append(f"| {size:,} | " + " | ".join(cells) +
                     f" | {run['total_seconds']:.0f} s ({size / run['total_seconds']:,.0f}/s) "
                     f"| {peak:,.0f} MB | {run['runner_peak_mb']:,.0f} MB |")
    return "\n".join(lines)


def medians(results: list[dict]) -> str:
    """The per-stage and batch tables of the medians of several runs (each figure on its own)."""
    runs = []
    for index, first in enumerate(results[0]["runs"]):
        stages = {stage: {key: float(np.median([r["runs"][index]["stages"][stage][key]
                                                for r in results]))
                          for key in first["stages"][stage]}
                  for stage in first["stages"]}
        runs.append({"size": first["size"], "stages": stages,
                     "total_seconds": float(np.median([r["runs"][index]["total_seconds"]
                                                       for r in results])),
                     "runner_peak_mb": float(np.median([r["runs"][index]["runner_peak_mb"]
                                                        for r in results]))})
    lines = [f"medians of {len(results)} runs", table(runs)]
    if len(runs) > 1:
        lines.append(f"time({runs[-1]['size']:,}) / time({runs[0]['size']:,}) = "
                     f"{runs[-1]['total_seconds'] / runs[0]['total_seconds']:.1f}")
    batches = [r["batch"] for r in results if r.get("batch")]
    for name in batches[0] if batches else []:
        seconds = float(np.median([b[name]["seconds"] for b in batches]))
        peak = float(np.median([b[name]["peak_process_mb"] for b in batches]))
        lines.append(f"batch {name}: {seconds:.0f} s, {runs[-1]['size'] / seconds:,.0f} rows/s, "
                     f"peak {peak:,.0f} MB (largest process)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the sets, run the pipeline on each, optionally the batch comparison; print tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="where sets and runs go")
    parser.add_argument("--task", default="sentiment", choices=("sentiment", "spam"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--batch", action="store_true",
                        help="also score the largest set in-process and with --dask local")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--build", type=int, metavar="SIZE", help="only build the set of SIZE texts")
    parser.add_argument("--median", type=Path, nargs="+", metavar="JSON",
                        help="only print the tables of the medians of earlier runs' --json files")
    args = parser.parse_args(argv)
    if args.median:
        print(medians([json.loads(path.read_text()) for path in args.median]))
        return 0
    if args.build:
        build_set(args.task, args.build, args.work / f"{args.task}-{args.build}.csv")
        return 0
    runs = []
    for size in args.sizes:
        print(f"{size:,} texts ({args.task}):", flush=True)
        runs.append(run_pipeline(args.task, size, args.work))
    print("\n" + table(runs))
    if len(runs) > 1:
        ratio = runs[-1]["total_seconds"] / runs[0]["total_seconds"]
        print(f"\ntime({runs[-1]['size']:,}) / time({runs[0]['size']:,}) = {ratio:.1f} "
              f"(sizes x{runs[-1]['size'] / runs[0]['size']:.0f})")
    batch = run_batch(args.task, max(args.sizes), args.work) if args.batch else None
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "batch": batch}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
