"""The runner: executes the seven notebooks in order with papermill.

    python -m shared.runner                      # sentiment on its built-in data
    python -m shared.runner --task spam
    python -m shared.runner -p target 0.85       # any notebook parameter
    python -m shared.runner --regenerate-notebooks   # refresh the committed outputs

(``python -m shared.pipeline`` is the same command under its older name.)

Everything is checked before the first notebook starts: the task, the data
set and every parameter name. Each executed notebook is written (atomically)
to ``reports/<task>/``; the run stops at the first failing notebook and says
which notebook, which cell and what went wrong.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import storage
from shared.catalog import NOTEBOOKS, NOTEBOOKS_DIR, PROJECT_DIR, Catalog
from shared.records import DataSourceError, EvaluationReport
from shared.sources import check_dataset_name
from shared.tasks import TASKS, UnknownTaskError, get_task

KERNEL = "python3"


def _ipc_kernel_manager():
    """A kernel manager that talks to kernels over Unix sockets, not TCP ports.

    Nothing listens on the network while notebooks run, and the kernel has no
    reason to warn about unencrypted TCP traffic.
    """
    from jupyter_client.manager import KernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(KernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IPCKernelManager


class RunError(RuntimeError):
    """The run was refused or stopped; the message says why and what to do."""


@dataclass
class StageResult:
    notebook: str
    seconds: float
    output: Path


def notebook_parameters(notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[str, dict[str, Any]]:
    """Each notebook's parameters (name -> papermill's description), read from its cell."""
    import papermill

    return {nb: papermill.inspect_notebook(str(notebooks_dir / nb)) for nb in NOTEBOOKS}


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


def _strip_run_metadata(path: Path) -> None:
    """Drop papermill's timing metadata so committed notebooks diff only on content."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def execute(
    notebook: str, output: Path, parameters: dict[str, Any], notebooks_dir: Path,
    clean_metadata: bool = False,
) -> float:
    """Run one notebook into ``output`` atomically; return its wall time in seconds."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    with storage.atomic_path(output) as tmp:
        try:
            papermill.execute_notebook(
                str(notebooks_dir / notebook), str(tmp), parameters=parameters,
                cwd=str(notebooks_dir), kernel_name=KERNEL, progress_bar=False,
                log_output=False, request_save_on_cell_execute=False,
                kernel_manager_class=_ipc_kernel_manager(),
            )
        except PapermillExecutionError as error:
            failed = output.with_name(f"FAILED_{output.name}")
            os.replace(tmp, failed)
            raise RunError(
                f"{notebook} failed in cell {error.cell_index + 1} "
                f"(code cell [{error.exec_count}]): {error.ename}: {error.evalue}\n"
                f"The executed notebook, with the traceback, is {failed}"
            ) from None
        if clean_metadata:
            _strip_run_metadata(tmp)
    return time.perf_counter() - start


def run(
    task: str = "sentiment", dataset: str = "builtin", overrides: dict[str, Any] | None = None,
    root: Path = PROJECT_DIR, regenerate: bool = False, log=print,
) -> list[StageResult]:
    """Run all seven notebooks; stop at the first failure."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    root = Path(root).resolve()
    declared = notebook_parameters()
    parameters = plan(task, dataset, overrides or {}, root, declared)
    if regenerate:
        if task != "sentiment" or dataset != "builtin" or overrides or root != PROJECT_DIR:
            raise RunError("--regenerate-notebooks runs the default run only: drop other options")
        parameters = {nb: {} for nb in NOTEBOOKS}
    reports = Catalog.for_task(task, root).reports_dir
    results = []
    for stale in reports.glob("FAILED_*.ipynb"):
        stale.unlink()
    for number, notebook in enumerate(NOTEBOOKS, start=1):
        output = NOTEBOOKS_DIR / notebook if regenerate else reports / notebook
        log(f"[{number}/{len(NOTEBOOKS)}] {notebook} ...", end="", flush=True)
        try:
            seconds = execute(notebook, output, parameters[notebook], NOTEBOOKS_DIR, regenerate)
        except RunError:
            log(" FAILED")
            raise
        log(f" {seconds:5.1f} s")
        results.append(StageResult(notebook, seconds, output))
    return results


def summary(task: str, root: Path, results: list[StageResult]) -> str:
    """Per-stage time, key metrics, the gate and where every artifact is."""
    cat = Catalog.for_task(task, Path(root))
    metrics = EvaluationReport.load(cat)
    spec = metrics.problem
    test = metrics.test
    lines = ["", f"Run of task {task!r} finished.", "", "Stage times:"]
    lines += [f"  {r.notebook:<30} {r.seconds:6.1f} s" for r in results]
    lines.append(f"  {'total':<30} {sum(r.seconds for r in results):6.1f} s")
    lines += ["", "Held-out test metrics:"]
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc", "false_positive_rate"):
        lines.append(f"  {name:<20} {test[name]:.3f}")
    lines += ["", f"Gate: {metrics.gate.verdict} ({spec['primary_metric']} target "
              f"{spec['target']:.2f})", ""]
    lines.append("Artifacts:")
    for label, path in (
        ("problem spec", cat.path("problem_spec")), ("raw snapshot", cat.path("raw_snapshot")),
        ("quarantine", cat.path("quarantine")), ("splits", cat.path("train").parent),
        ("trained pipeline", cat.path("trained_model")), ("metrics", cat.path("metrics")),
        ("deployed model", cat.deployed_dir), ("prediction log", cat.path("prediction_log")),
        ("executed notebooks", results[0].output.parent),
    ):
        lines.append(f"  {label:<20} {cat.relative(path)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.runner", description="Run the seven workflow notebooks in order."
    )
    parser.add_argument("--task", default="sentiment", help=f"one of {', '.join(TASKS)}")
    parser.add_argument("--dataset", default="builtin",
                        help="a data set name for the task, or a path to your own file")
    parser.add_argument("--text-column", help="your file's text column (stage 2)")
    parser.add_argument("--label-column", help="your file's label column (stage 2)")
    parser.add_argument("--positive-label",
                        help="the value in your file's label column that means the positive class")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="set a notebook parameter")
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help="folder that receives data/, models/ and reports/")
    parser.add_argument("--regenerate-notebooks", action="store_true",
                        help="re-run the default run and store its outputs in notebooks/")
    args = parser.parse_args(argv)
    overrides = {name: parse_value(value) for name, value in args.parameter}
    for name in ("text_column", "label_column", "positive_label"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    try:
        results = run(args.task, args.dataset, overrides, args.root, args.regenerate_notebooks)
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1 if "failed in cell" in str(error) else 2
    print(summary(args.task, args.root, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
