"""The runner: executes the seven notebooks in order with papermill, skipping what is current.

    python -m shared.runner                      # sentiment on its built-in data
    python -m shared.runner --task spam
    python -m shared.runner -p target 0.85       # any notebook parameter
    python -m shared.runner --from 05            # stages 05 to 07, whatever their state
    python -m shared.runner --only 07            # one stage, once its inputs are current
    python -m shared.runner --force              # every stage
    python -m shared.runner --regenerate-notebooks   # refresh the committed outputs

(``python -m shared.pipeline`` is the same command under its older name.)

Everything is checked before the first notebook starts: the task, the data
set and every parameter name. A stage whose inputs did not change since it
last succeeded, and whose outputs are still there, is skipped ("04 up to
date"; see ``shared.run.run_record``). Each executed notebook is written
(atomically) to ``reports/<task>/`` with an HTML copy and an index page; the
run stops at the first failing notebook and says which notebook, which cell
and what went wrong.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.core import catalog, command_line
from shared.core.catalog import NOTEBOOKS, NOTEBOOKS_DIR, PROJECT_DIR, STAGES, Catalog, Stage
from shared.core.records import DataSourceError, EvaluationReport, RecordError
from shared.data.sources import check_dataset_name, source_files
from shared.data.tasks import TASKS, UnknownTaskError, get_task
from shared.run import html_reports, tracking
from shared.run.kernels import Kernels, RunError, execute
from shared.run.run_record import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    Fingerprints,
    RunRecord,
    StageRecord,
    now,
    producers_of,
    why_not_current,
)
from shared.scale import cluster

__all__ = ["RunError", "main", "run"]


@dataclass
class StageResult:
    """What the run did with one stage."""

    stage: Stage
    action: str  # "ran", "skipped" or "not selected"
    seconds: float | None
    output: Path


def notebook_parameters(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, dict[str, Any]]:
    """Each notebook's parameters and their defaults, read from its ``parameters`` cell.

    Read with ``ast`` rather than papermill's inspector: the runner then needs
    no heavy import to decide that nothing has to run.
    """
    declared = {}
    for notebook in NOTEBOOKS:
        document = json.loads((notebooks_dir / notebook).read_text(encoding="utf-8"))
        cell = next(c for c in document["cells"]
                    if "parameters" in c.get("metadata", {}).get("tags", []))
        tree = ast.parse("".join(cell["source"]))
        declared[notebook] = {
            node.targets[0].id: ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        }
    return declared


def parse_value(text: str) -> Any:
    """A command-line value as Python: numbers, booleans, None, lists; else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def plan(
    task: str, dataset: str, overrides: dict[str, Any], root: Path,
    declared: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """The parameters for each notebook, after refusing anything unknown."""
    try:
        get_task(task)
        check_dataset_name(dataset, task)
    except (UnknownTaskError, DataSourceError) as error:
        raise RunError(str(error)) from None
    valid = sorted({name for params in declared.values() for name in params})
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise RunError(
            f"unknown notebook parameter(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    wanted = {"task": task, "dataset": dataset, "project_dir": str(root), **overrides}
    return {
        nb: {name: value for name, value in wanted.items() if name in params}
        for nb, params in declared.items()
    }


def selected_stages(start: str | None, only: str | None) -> list[Stage]:
    """The stages ``--from`` / ``--only`` ask for (all of them when neither is given)."""
    try:
        if only is not None:
            return [catalog.stage(only)]
        first = catalog.stage(start).number if start is not None else 1
    except KeyError as error:
        raise RunError(str(error.args[0])) from None
    return [s for s in STAGES if s.number >= first]


def check_inputs_current(
    first: Stage, record: RunRecord, fingerprints: Fingerprints,
    parameters: dict[str, dict[str, Any]], dataset_files: list[Path],
) -> None:
    """Refuse to start at ``first`` unless every stage that writes its inputs is current."""
    for writer in producers_of(first):
        fingerprint = fingerprints.stage(writer, parameters[writer.notebook], dataset_files)
        reason = why_not_current(record, writer, fingerprint, fingerprints)
        if reason is not None:
            raise RunError(
                f"stage {first.key} reads what stage {writer.key} ({writer.notebook}) writes, "
                f"and stage {writer.key} is not up to date: {reason}. Run it first: "
                f"`python -m shared.runner --task {fingerprints.cat.task} --from {writer.key}`."
            )


def run(
    task: str = "sentiment", dataset: str = "builtin", overrides: dict[str, Any] | None = None,
    root: Path = PROJECT_DIR, regenerate: bool = False, force: bool = False,
    start: str | None = None, only: str | None = None, log: Any = print,
    tracking_uri: str | None = None,
) -> list[StageResult]:
    """Run the stages in order, skipping up-to-date ones unless told otherwise.

    ``force`` runs every stage; ``start`` runs that stage and the ones after it;
    ``only`` runs that one stage. The last two first check that the stages
    writing their inputs are current. Stops at the first failing notebook.
    With ``tracking_uri``, the run is recorded in that MLflow store
    (``shared.run.tracking``); without it, nowhere.
    """
    os.environ.setdefault("PYTHONHASHSEED", "0")
    root = Path(root).resolve()
    declared = notebook_parameters()
    parameters = plan(task, dataset, overrides or {}, root, declared)
    if regenerate:
        if task != "sentiment" or dataset != "builtin" or overrides or root != PROJECT_DIR:
            raise RunError("--regenerate-notebooks runs the default run only: drop other options")
        return _regenerate(log)
    cat = Catalog.for_task(task, root)
    chosen = selected_stages(start, only)
    explicit = start is not None or only is not None
    fingerprints = Fingerprints(cat)
    dataset_files = source_files(dataset, task)
    record = RunRecord.read(cat)
    if explicit:
        check_inputs_current(chosen[0], record, fingerprints, parameters, dataset_files)
    for stale in cat.reports_dir.glob("FAILED_*.ipynb"):
        stale.unlink()
    progress = sys.stdout.isatty()
    pages = ThreadPoolExecutor(max_workers=1)  # HTML is written while the next stage runs
    written: list[Future] = []
    results: list[StageResult] = []
    this_run: dict[str, str] = {}  # what this run did with each stage, for the index page
    kernels = Kernels(NOTEBOOKS_DIR, [stage.number for stage in chosen])
    tracker = None
    if tracking_uri:  # every parameter each notebook ran with, its defaults included
        tracker = tracking.Tracker(tracking_uri, cat, dataset, {
            nb: {**declared[nb], **parameters[nb]} for nb in declared}, overrides or {})
    status = "KILLED"  # until the loop ends or a notebook fails
    try:
        for position, stage in enumerate(chosen):
            output = cat.reports_dir / stage.notebook
            fingerprint = fingerprints.stage(stage, parameters[stage.notebook], dataset_files)
            reason = why_not_current(record, stage, fingerprint, fingerprints)
            if reason is None and not (force or explicit):
                log(f"{stage.key} up to date")
                record = record.with_stage(stage, StageRecord.from_dict(
                    {**record.stages[stage.key].to_dict(), "last_action": "skipped"}))
                results.append(StageResult(stage, "skipped", None, output))
                this_run[stage.key] = "skipped"
                if tracker is not None:
                    kept = record.stages[stage.key]
                    tracker.stage(stage, "skipped", produced_by=kept.tracking_run,
                                  produced_in=kept.tracking_store)
                continue
            # on a terminal papermill draws a bar of the stage's cells on the next line
            log(f"[{stage.number}/{len(STAGES)}] {stage.notebook} ...", end="\n" if progress else "",
                flush=True)
            record = record.with_stage(stage, StageRecord(fingerprint, RUNNING, now(),
                                                          dataset=dataset))
            record.write(cat)
            this_run[stage.key] = "failed"  # until it ends well (a kill counts as a failure)
            kernel = kernels.take(later=len(chosen) - position - 1)
            try:
                seconds = execute(NOTEBOOKS_DIR / stage.notebook, output,
                                  parameters[stage.notebook], kernel, progress)
            except RunError:
                log(" FAILED")
                record = record.with_stage(stage, StageRecord(fingerprint, FAILED, now(),
                                                              dataset=dataset))
                record.write(cat)
                status = "FAILED"
                if tracker is not None:
                    tracker.stage(stage, "failed")
                raise
            log(f" {seconds:5.1f} s")
            record = record.with_stage(stage, StageRecord(
                fingerprint, SUCCEEDED, record.stages[stage.key].started_at, round(seconds, 2),
                fingerprints.outputs(stage), dataset=dataset))
            record.write(cat)
            this_run[stage.key] = "ran"
            written.append(pages.submit(html_reports.notebook_page, output,
                                        html_reports.html_path(cat, stage.notebook)))
            results.append(StageResult(stage, "ran", seconds, output))
            if tracker is not None:
                tracker.stage(stage, "ran", seconds)
        status = "FINISHED"
    finally:
        kernels.close()
        for page in written:
            page.result()
        pages.shutdown()
        tracked = tracker.finish(status) if tracker is not None else None
        if tracked is not None:
            record = tracking.link(cat, record, tracked)
            log(f"run history: MLflow run {tracked.name!r} ({tracked.run_id[:8]}) in "
                f"{tracked.uri} (its recorder used {tracked.cpu_seconds:.1f} s of CPU beside the "
                f"stages; the runner waited {tracked.waited_seconds:.2f} s)")
        record.write(cat)
        html_reports.index_page(cat, record, f"Run of task {task!r} ({dataset})", this_run,
                                tracked.standing if tracked is not None else None)
    return results


def _regenerate(log: Any) -> list[StageResult]:
    """The default run, executed into ``notebooks/`` itself: the committed outputs."""
    results = []
    kernels = Kernels(NOTEBOOKS_DIR, [stage.number for stage in STAGES])
    try:
        for position, stage in enumerate(STAGES):
            output = NOTEBOOKS_DIR / stage.notebook
            log(f"[{stage.number}/{len(STAGES)}] {stage.notebook} ...", end="", flush=True)
            kernel = kernels.take(later=len(STAGES) - position - 1)
            seconds = execute(output, output, {}, kernel, clean_metadata=True)
            log(f" {seconds:5.1f} s")
            results.append(StageResult(stage, "ran", seconds, output))
    finally:
        kernels.close()
    return results


def summary(task: str, root: Path, results: list[StageResult]) -> str:
    """Per-stage time, key metrics, the gate and where every artifact is."""
    cat = Catalog.for_task(task, Path(root))
    lines = ["", f"Run of task {task!r} finished.", "", "Stage times:"]
    for result in results:
        shown = f"{result.seconds:6.1f} s" if result.seconds is not None else "up to date"
        lines.append(f"  {result.stage.notebook:<30} {shown}")
    ran = [r.seconds for r in results if r.seconds is not None]
    lines.append(f"  {'total':<30} {sum(ran):6.1f} s")
    try:
        metrics = EvaluationReport.load(cat)
    except (FileNotFoundError, RecordError):
        metrics = None
    if metrics is not None:
        lines += ["", "Held-out test metrics:"]
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc",
                     "false_positive_rate"):
            lines.append(f"  {name:<20} {metrics.test[name]:.3f}")
        lines += ["", f"Gate: {metrics.gate.verdict} ({metrics.problem['primary_metric']} target "
                      f"{metrics.problem['target']:.2f})"]
    lines += ["", "Artifacts:"]
    for label, path in (
        ("problem spec", cat.path("problem_spec")),
        ("raw snapshot", cat.existing("raw_snapshot", "raw_parts")[1]),
        ("quarantine", cat.path("quarantine")), ("splits", cat.path("train").parent),
        ("trained pipeline", cat.path("trained_model")), ("metrics", cat.path("metrics")),
        ("deployed model", cat.deployed_dir), ("prediction log", cat.path("prediction_log")),
        ("executed notebooks", cat.reports_dir),
        ("HTML report", cat.reports_dir / "index.html"),
    ):
        lines.append(f"  {label:<20} {cat.relative(path)}")
    if cat.tracking_dir.exists():  # python -m shared runs; make ui
        lines.append(f"  {'run history':<20} {cat.relative(cat.tracking_dir)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.runner``: exit 0 when the run finished, 1 when a notebook failed,
    2 when the run was refused before it started."""
    parser = command_line.parser("run", "Run the seven workflow notebooks in order.", [
        "python -m shared run                                  # sentiment, built-in data",
        "python -m shared run --task spam --dataset sms-spam",
        "python -m shared run --dataset reviews.csv --text-column review --label-column stars"
        " --positive-label 5",
        "python -m shared run --dataset big.csv -p engine out_of_core",
        "python -m shared run --from 4                         # re-run stages 4-7",
    ])
    parser.add_argument("--task", default="sentiment", help=f"one of {', '.join(TASKS)}")
    parser.add_argument("--dataset", default="builtin",
                        help="a data set name for the task, or a path to your own file; join "
                             "several with '+' (sms-spam+builtin+my.csv:text=review,label=stars,"
                             "positive=5; see shared/data/sources.py)")
    parser.add_argument("--text-column", help="your file's text column (stage 2)")
    parser.add_argument("--label-column", help="your file's label column (stage 2)")
    parser.add_argument("--positive-label",
                        help="the value in your file's label column that means the positive class")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="set a notebook parameter")
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help="folder that receives data/, models/ and reports/")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--force", action="store_true", help="run every stage")
    which.add_argument("--from", dest="start", metavar="NN",
                       help="run stage NN and every stage after it")
    which.add_argument("--only", metavar="NN", help="run stage NN alone")
    which.add_argument("--regenerate-notebooks", action="store_true",
                       help="re-run the default run and store its outputs in notebooks/")
    tracking.add_options(parser)
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="a Dask scheduler for the kernels (search, validation, scoring), or "
                             "'local' for a LocalCluster during the run; default: "
                             "DASK_SCHEDULER_ADDRESS when set")
    args = parser.parse_args(argv)
    overrides = {name: parse_value(value) for name, value in args.parameter}
    for name in ("text_column", "label_column", "positive_label"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    try:
        with cluster.for_run(args.dask):  # the kernels inherit DASK_SCHEDULER_ADDRESS
            results = run(args.task, args.dataset, overrides, args.root,
                          args.regenerate_notebooks, args.force, args.start, args.only,
                          tracking_uri=tracking.uri_from(args, args.root))
    except cluster.ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1 if "failed in cell" in str(error) else 2
    if not args.regenerate_notebooks:
        print(summary(args.task, args.root, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
