"""The floor under the runner: the seven notebooks' code cells, in order, in ONE Python process.

    python benchmarks/floor.py --root /tmp/floor [--task spam] [-p NAME VALUE ...] [--json out.json]

No kernels, no papermill, no outputs stored: each notebook's code cells run in
one interpreter (a fresh namespace per notebook, as a fresh kernel would give,
with the parameters applied after the ``parameters`` cell, as papermill
injects them), with the working folder set to ``notebooks/`` as the runner
sets it. The figures a cell draws are rendered to PNG as the notebook's inline
backend renders them (same size and dpi), since that is work a notebook does.
What is left is the work itself plus one import of the libraries, so
``runner total / floor`` is what the notebook machinery costs.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")


def code_cells(notebook: Path) -> list[tuple[list[str], str]]:
    """(tags, source) of every code cell of a notebook, in order."""
    document = json.loads(notebook.read_text(encoding="utf-8"))
    return [(cell.get("metadata", {}).get("tags", []), "".join(cell["source"]))
            for cell in document["cells"] if cell["cell_type"] == "code"]


def run_notebook(notebook: Path, parameters: dict[str, object]) -> float:
    """Execute the notebook's code cells in a fresh namespace; return the seconds taken."""
    import matplotlib.pyplot as plt

    namespace: dict[str, object] = {"__name__": "__main__"}
    start = time.perf_counter()
    for tags, source in code_cells(notebook):
        exec(compile(source, f"{notebook.name}", "exec"), namespace)  # noqa: S102
        if "parameters" in tags:
            namespace.update({k: v for k, v in parameters.items() if k in namespace})
        for number in plt.get_fignums():  # as the inline backend does after each cell
            plt.figure(number).savefig(io.BytesIO(), format="png", bbox_inches="tight",
                                       metadata={"Software": None})
        plt.close("all")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the seven notebooks' code in this process and print the time of each."""
    from shared.core.catalog import NOTEBOOKS, NOTEBOOKS_DIR

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="where data/ and models/ go")
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--dataset", default="builtin")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"))
    parser.add_argument("--json", type=Path, help="also write the times here")
    args = parser.parse_args(argv)
    parameters: dict[str, object] = {"task": args.task, "dataset": args.dataset,
                                     "project_dir": str(args.root.resolve())}
    for name, value in args.parameter:
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value
    start = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    times = {}
    os.chdir(NOTEBOOKS_DIR)
    for notebook in NOTEBOOKS:
        times[notebook] = run_notebook(NOTEBOOKS_DIR / notebook, parameters)
        print(f"{notebook:<30} {times[notebook]:6.1f} s", flush=True)
    total = time.perf_counter() - start
    print(f"{'total (with imports)':<30} {total:6.1f} s")
    if args.json:
        args.json.write_text(json.dumps({"stages": times, "total": total}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
