"""Executing one notebook with papermill, on a kernel started ahead of time.

A fresh kernel per notebook is what makes each stage honest (only files carry
state between stages), but starting one and importing pandas, scikit-learn
and matplotlib into it takes seconds. So the runner starts the next stages'
kernels, and has each import what its notebook imports, while the current stage
runs: :class:`Kernel` does that, :class:`Kernels` keeps them coming. Its warm-up runs
silently (no output, no execution count), so the notebook's outputs are the same
as on a cold kernel.

Kernels talk to the runner over Unix sockets: nothing listens on the network.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.core import catalog, storage
from shared.core.catalog import NOTEBOOKS_DIR

# jsonschema, which nbformat (hence papermill and nbconvert) imports in this process, also
# imports the optional rfc3987-syntax package when it is installed (jupyterlab's
# jupyter-events installs it), and that package builds a parser for RFC 3987 IRIs as it is
# imported: 1.3 s of this 2-core machine in every run, for a string format that no notebook
# schema uses. Marked absent here, jsonschema leaves out that one format checker, as it does
# wherever the package is not installed. (The kernels are other processes: untouched.)
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]

KERNEL_NAME = "python3"
#: the first stage whose texts go through the text path (stage 3 shows it; later ones run it)
TEXT_PATH_FROM = 3


def notebook_imports(notebook: Path) -> str:
    """Every import statement of the notebook's code cells, in order, as one block of code.

    The notebooks import everything in their first code cell, so this is what a fresh
    kernel loads before the notebook's own work begins.
    """
    statements = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:  # IPython syntax, say: the kernel reports it when the cell runs
            continue
        statements += [ast.unparse(node) for node in tree.body
                       if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(statements)


def warm_up_for(stage_number: int) -> str:
    """What the kernel of stage ``stage_number`` imports while it waits for its turn.

    What its notebook imports, and no more: a stage that draws nothing does not load
    matplotlib and seaborn, the first two not even scikit-learn (imports are most of
    a kernel's cost, and the kernels warm up on the same two cores as the running
    stage). A stage that reads or writes a model file also loads the model-file code,
    which the catalog imports only when it first reads or writes one: skops alone
    takes 0.8 s, as it lists every scikit-learn estimator when it is imported. A stage from
    :data:`TEXT_PATH_FROM` on also reads the name lists the text path blinds with (0.3 s),
    binding no name in the notebook's namespace.
    """
    chosen = catalog.stage(stage_number)
    code = notebook_imports(NOTEBOOKS_DIR / chosen.notebook)
    if any(catalog.artifact(name).format == "skops" for name in chosen.reads + chosen.writes):
        code += "\nimport shared.core.modelfile"
    if chosen.number >= TEXT_PATH_FROM:
        code += "\n__import__('shared.core.names').core.names.blinding_names()"
    return code


class RunError(RuntimeError):
    """The run was refused or stopped; the message says why and what to do."""


def _kernel_manager_class() -> type:
    """A kernel manager that talks to kernels over Unix sockets, not TCP ports.

    Nothing listens on the network while notebooks run, and the kernel has no
    reason to warn about unencrypted TCP traffic.
    """
    from jupyter_client.manager import KernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(KernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    return IPCKernelManager


class Kernel:
    """A kernel started in the background, in ``cwd``, warming up while other work goes on."""

    def __init__(self, cwd: Path, warm_up: str) -> None:
        # Unix sockets are named after ``ip``: an absolute path, since the kernel runs in
        # ``cwd`` and the runner elsewhere (a relative name would point them apart)
        sockets = Path(tempfile.gettempdir()) / f"ml-workflow-{uuid.uuid4().hex[:12]}-ipc"
        self.manager = _kernel_manager_class()(kernel_name=KERNEL_NAME, ip=str(sockets))
        self._error: BaseException | None = None
        self._stopping: threading.Thread | None = None
        self._thread = threading.Thread(target=self._start, args=(cwd, warm_up), daemon=True,
                                        name="kernel-warm-up")
        self._thread.start()

    def _start(self, cwd: Path, warm_up: str) -> None:
        try:
            self.manager.start_kernel(cwd=str(cwd))
            client = self.manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=120)
            client.execute(warm_up, silent=True, store_history=False)
            client.stop_channels()
        except BaseException as error:  # reported by ready(), in the runner's thread
            self._error = error

    def ready(self) -> Any:
        """The kernel manager, once its kernel is up (its warm-up may still be running)."""
        self._thread.join()
        if self._error is not None:
            raise RunError(f"the notebook kernel did not start: {self._error}")
        return self.manager

    def shutdown(self) -> None:
        """Stop the kernel now (the notebook has finished with it)."""
        self._thread.join()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)

    def shutdown_soon(self) -> None:
        """Stop the kernel in the background: the next notebook need not wait for it
        (about 0.1 s a kernel). :meth:`stopped` waits until it is gone."""
        self._stopping = threading.Thread(target=self.shutdown, daemon=True,
                                          name="kernel-shutdown")
        self._stopping.start()

    def stopped(self) -> None:
        """Wait for a :meth:`shutdown_soon` to finish (at once if none was asked for)."""
        if self._stopping is not None:
            self._stopping.join()


class Kernels:
    """Kernels started ahead of the notebooks that will use them.

    Up to ``ahead`` kernels warm up while a notebook runs: the first stages are
    short, shorter than one kernel's warm-up, so one kernel ahead is not enough.
    """

    def __init__(self, cwd: Path, stage_numbers: Sequence[int], ahead: int = 2) -> None:
        """Kernels for the stages ``stage_numbers``, in the order they will be taken (a
        skipped stage takes none, so a later kernel may warm up as for another stage:
        only a matter of speed)."""
        self.cwd = cwd
        self.ahead = ahead
        self._warm_ups = [warm_up_for(number) for number in stage_numbers]
        self._waiting: deque[Kernel] = deque()
        self._taken: list[Kernel] = []

    def _start_next(self) -> Kernel:
        started = len(self._taken) + len(self._waiting)
        return Kernel(self.cwd, self._warm_ups[min(started, len(self._warm_ups) - 1)])

    def take(self, later: int) -> Kernel:
        """A kernel for the next notebook; ``later`` notebooks may follow it."""
        kernel = self._waiting.popleft() if self._waiting else self._start_next()
        self._taken.append(kernel)
        while len(self._waiting) < min(self.ahead, later):
            self._waiting.append(self._start_next())
        return kernel

    def close(self) -> None:
        """Stop the kernels no notebook took, and wait for the others to have stopped."""
        while self._waiting:
            self._waiting.popleft().shutdown()
        for kernel in self._taken:
            kernel.stopped()


def tidy_outputs(path: Path, clean_metadata: bool) -> None:
    """Join each cell's consecutive stream outputs into one, as nbval compares them: a kernel
    under load sends one printed line in pieces ("wrote", " models/..."), and the notebook
    and its web page should show it whole. With ``clean_metadata``, also drop papermill's
    timing metadata, so that committed notebooks diff only on content."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = clean_metadata
    for cell in nb.cells:
        joined: list = []
        for out in cell.get("outputs", []):
            previous = joined[-1] if joined else None
            if (out.get("output_type") == "stream" and previous is not None
                    and previous.get("output_type") == "stream"
                    and previous.get("name") == out.get("name")):
                previous["text"] = "".join(previous["text"]) + "".join(out["text"])
                changed = True
            else:
                joined.append(out)
        if "outputs" in cell:
            cell["outputs"] = joined
    if clean_metadata:
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
    if changed:  # most runs print each line whole: no second write of the notebook
        nbformat.write(nb, path)


def execute(
    notebook: Path, output: Path, parameters: dict[str, Any], kernel: Kernel,
    progress: bool = False, clean_metadata: bool = False,
) -> float:
    """Run ``notebook`` on ``kernel`` into ``output`` (atomically); return its seconds.

    A failing cell stops it: the executed notebook is kept beside ``output`` as
    ``FAILED_<name>``, and RunError names the notebook, the cell and the error.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    with storage.atomic_path(output) as tmp:
        try:
            papermill.execute_notebook(
                str(notebook), str(tmp), parameters=parameters, cwd=str(notebook.parent),
                kernel_name=KERNEL_NAME, progress_bar=progress, log_output=False,
                request_save_on_cell_execute=False, km=kernel.ready(),
            )
        except PapermillExecutionError as error:
            failed = output.with_name(f"FAILED_{output.name}")
            os.replace(tmp, failed)
            raise RunError(
                f"{notebook.name} failed in cell {error.cell_index + 1} "
                f"(code cell [{error.exec_count}]): {error.ename}: {error.evalue}\n"
                f"The executed notebook, with the traceback, is {failed}"
            ) from None
        finally:
            kernel.shutdown_soon()  # the caller's Kernels.close() waits for it
        tidy_outputs(tmp, clean_metadata)
    return time.perf_counter() - start
