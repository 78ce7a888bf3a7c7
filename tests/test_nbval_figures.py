"""nbval with tests/nbval_figures.py compares figures: a changed PNG fails, as it must."""

import subprocess
import sys

import nbformat
import pytest

from shared.core.catalog import PROJECT_DIR

CELL = """
import matplotlib.pyplot as plt
from shared.run.notebook import setup
setup()
plt.plot([0, 1], [0, 1])
plt.show()
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A one-cell notebook that draws a figure, executed as the runner would execute it."""
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    return notebook


def nbval(path, *plugins):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(path), "-p", "no:cacheprovider", "-q",
         *[arg for plugin in plugins for arg in ("-p", plugin)]],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300,
    )


def test_an_unchanged_figure_passes_and_a_changed_one_fails(executed, tmp_path):
    same = tmp_path / "same.ipynb"
    nbformat.write(executed, same)
    assert nbval(same, "tests.nbval_figures").returncode == 0
    changed = nbformat.from_dict(executed)
    output = next(o for o in changed.cells[0].outputs if "image/png" in o.get("data", {}))
    figure = output["data"]["image/png"]
    output["data"]["image/png"] = figure[:200] + ("A" if figure[200] != "A" else "B") + figure[201:]
    path = tmp_path / "changed.ipynb"
    nbformat.write(changed, path)
    failed = nbval(path, "tests.nbval_figures")
    assert failed.returncode == 1 and "image/png" in failed.stdout
    assert nbval(path).returncode == 0, "without the plugin nbval does not look at figures"
