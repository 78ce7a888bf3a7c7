"""What a kernel imports ahead of its notebook (``shared.run.kernels``)."""

from __future__ import annotations

import json

from shared.run import kernels


def _notebook(path, *sources):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "import not_code"}]
    cells += [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
               "source": source} for source in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}), encoding="utf-8")
    return path


def test_notebook_imports_are_every_import_statement_of_the_code_cells(tmp_path):
    notebook = _notebook(tmp_path / "n.ipynb",
                         "task = 'spam'",
                         "import json\nfrom shared.core import problem\n\nproblem.load(task)",
                         "%time x = 1",  # IPython syntax: left to the kernel to report
                         "def f():\n    import os\nfrom pathlib import Path as P")
    assert kernels.notebook_imports(notebook).splitlines() == [
        "import json", "from shared.core import problem", "from pathlib import Path as P"]


def test_each_kernel_warms_up_with_its_notebooks_imports_and_the_model_code_it_needs():
    first, training, deployment = (kernels.warm_up_for(n) for n in (1, 4, 6))
    assert "from shared.run.notebook import setup" in first
    assert "matplotlib" not in first and "modelfile" not in first  # stage 1 draws, fits nothing
    assert "import matplotlib.pyplot as plt" in training
    assert "import shared.core.modelfile" in training  # it writes the trained model
    assert "blinding_names()" in training and "blinding_names" not in first
    assert "from shared.deploy import deployment" in deployment
    for stage in range(1, 8):  # each warm-up is code a kernel can run
        compile(kernels.warm_up_for(stage), f"warm-up {stage}", "exec")


def test_a_line_printed_in_pieces_is_saved_whole(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('wrote models/spam/problem.json')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="wrote"),
                    nbformat.v4.new_output("stream", name="stdout", text=" models/x.json\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="a warning\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="done\n")]
    nb.cells.append(cell)
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    kernels.tidy_outputs(path, clean_metadata=False)
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert [(o.name, o.text) for o in outputs] == [
        ("stdout", "wrote models/x.json\n"), ("stderr", "a warning\n"), ("stdout", "done\n")]
