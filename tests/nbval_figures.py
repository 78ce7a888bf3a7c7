"""A pytest plugin that makes nbval compare the notebooks' PNG figures too.

nbval leaves ``image/png`` out of its comparison unless it runs with ``--nbdime``,
and that option's reporter fails under the pinned pytest ("hook call must
provide argument 'config'"). The figures are drawn reproducibly (Agg, fixed
size and dpi, no "Software" text chunk, seeded jitter; ``shared.run.notebook.setup``),
so they can be compared byte for byte: this plugin takes ``image/png`` off
nbval's list of outputs it does not compare. ``pyproject.toml`` loads it for every
pytest run (``-p tests.nbval_figures``), so plain ``pytest --nbval notebooks/`` compares
figures too.
"""

from __future__ import annotations

COMPARED = ("image/png",)


def pytest_collection_modifyitems(items: list) -> None:
    """Compare the figures of every collected notebook."""
    for item in items:
        notebook = item.parent
        if hasattr(notebook, "skip_compare"):
            notebook.skip_compare = tuple(k for k in notebook.skip_compare if k not in COMPARED)
