"""What the notebooks share beyond the stage logic: display settings and small demonstrations.

Every notebook starts with :func:`setup`, so that a re-run prints and draws
exactly the same (nbval compares every output, figures included).
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from IPython.display import Markdown, display
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:  # the stage-1 and stage-2 kernels import no scikit-learn
    from sklearn.base import BaseEstimator

from shared.core.catalog import Catalog, stage


def setup() -> None:
    """Plain-text estimator reprs, one BLAS thread, reproducible PNG figures, rounded
    tables, one theme.

    It configures the libraries the notebook has imported by the time it is called
    (every notebook imports everything in its first code cell, then calls it), and
    imports none itself: a notebook that draws nothing need not load matplotlib and
    seaborn, nor the first two (problem, data) scikit-learn. Imports are most of what a
    fresh kernel costs. ``tests/run/test_notebook.py`` checks that each notebook that shows a
    figure has loaded both by then.

    sklearn's HTML repr is shown only where a cell asks for it (the chosen
    pipeline in stage 4). Figures are PNG, drawn by Agg at a fixed size and dpi,
    without the "Software" text chunk matplotlib would otherwise write into
    each file: the same figure is then the same bytes, which nbval compares.
    """
    loaded = sys.modules
    if "sklearn" in loaded:
        loaded["sklearn"].set_config(display="text")
    # One BLAS thread (threadpoolctl limits the BLAS libraries loaded so far: numpy's,
    # which pandas brings, and scipy's with scikit-learn). The models here are small, and
    # OpenBLAS's second thread costs more than it brings: a logistic regression on the
    # built-in training split (768 texts, 40,000 word and character n-grams) fits in
    # 0.033 s with one thread and 0.19 s with two, and threads left waiting take CPU from
    # the search's worker processes (which joblib already holds to one thread each). The
    # models come out byte for byte the same.
    threadpool_limits(limits=1, user_api="blas")
    if "matplotlib" in loaded:
        loaded["matplotlib"].rcParams.update({"figure.dpi": 80})
        try:  # only inside a kernel with the inline backend
            from matplotlib_inline.backend_inline import set_matplotlib_formats

            set_matplotlib_formats("png", metadata={"Software": None})
        except (ImportError, AttributeError):
            pass
    if "shared.model.embedding" in loaded:
        # sentence vectors kept on disk: stage 4 encodes the training texts once, and stages
        # 5 to 7 and later runs find them (SENTENCE_VECTOR_STORE=off keeps them in memory)
        loaded["shared.model.embedding"].remember_on_disk()
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_colwidth", 90)
    pd.set_option("display.width", 120)
    if "seaborn" in loaded:
        loaded["seaborn"].set_theme(style="whitegrid", context="notebook")


def show_written(cat: Catalog, stage_number: int) -> None:
    """Print every artifact the stage declares as its output, as the catalog names it (those
    of the engine that ran: the in-memory files or the out-of-core Parquet parts)."""
    for name in stage(stage_number).writes:
        if cat.path(name).exists():
            print("wrote", cat.relative(cat.path(name)))


def tampered_copy(deployed_dir: Path, copy_dir: Path) -> Path:
    """Copy the deployed folder to ``copy_dir`` and change one byte of its model file.

    The manifest still lists the original SHA-256, so loading the copy must be refused.
    """
    shutil.copytree(deployed_dir, copy_dir)
    model = Path(copy_dir) / "model.skops"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    return Path(copy_dir)


def alert_banner(window: str, alert_table: pd.DataFrame) -> Markdown:
    """A heading saying whether any alert fired in ``window`` (rows of
    ``shared.monitoring.alerts.monitor``)."""
    fired = alert_table[(alert_table["window"] == window) & alert_table["fired"]]
    if len(fired):
        return Markdown(f"### ALERT in {window} ({', '.join(fired['metric'])})")
    return Markdown(f"### OK: {window}: no alert, it looks like the reference")


def show_pipeline(model: BaseEstimator) -> None:
    """Display an estimator's configuration with scikit-learn's HTML diagram (its text form
    beside it): its steps and settings, unfitted. The diagram of a fitted estimator also
    lists fitted attributes, such as a calibrator's fitted classifiers by memory address,
    which differ from run to run.

    Only here: the diagram's element ids count up per process, which a fresh
    kernel (papermill's run, nbval's re-run) starts from the same value.
    """
    import sklearn
    from sklearn.base import clone

    with sklearn.config_context(display="diagram"):
        display(clone(model))


def run_command(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    """Run a command's ``main`` in this process, as the shell would; its exit code and output.

    The same code path as ``python -m ...``, without a new process that would only
    import the libraries again.
    """
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(argv)
    return code, printed.getvalue()
