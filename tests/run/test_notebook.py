"""The notebooks' shared settings (``shared.run.notebook``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from shared.core.catalog import NOTEBOOKS, NOTEBOOKS_DIR, PROJECT_DIR
from shared.run import kernels


def test_setup_leaves_one_blas_thread_and_plain_text_estimators():
    # in a child process: the settings are global to the process that calls setup()
    code = ("import json, sklearn\n"
            "from threadpoolctl import threadpool_info\n"
            "from shared.run.notebook import setup\n"
            "before = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "setup()\n"
            "after = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
            "print(json.dumps([before, after, sklearn.get_config()['display']]))")
    before, after, display = json.loads(subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, check=True, capture_output=True,
        text=True, env={"OPENBLAS_NUM_THREADS": "2", "MPLBACKEND": "Agg",
                        "PATH": "/usr/bin:/bin"}).stdout)
    assert after and set(after) == {1}
    if (os.cpu_count() or 1) >= 2:
        assert max(before) == 2  # the limit is setup's doing, not the environment's
    assert display == "text"


def _display_settings_after_setup(notebook) -> dict:
    """In a fresh process, as in a fresh kernel: the notebook's imports, then setup()."""
    code = (kernels.notebook_imports(notebook) + "\nimport json, sys\nsetup()\n"
            "import pandas as pd\n"
            "loaded = {name: name in sys.modules for name in ('matplotlib', 'seaborn', 'sklearn')}\n"
            "dpi = sys.modules['matplotlib'].rcParams['figure.dpi'] if loaded['matplotlib'] else None\n"
            "display = sys.modules['sklearn'].get_config()['display'] if loaded['sklearn'] else None\n"
            "print(json.dumps({**loaded, 'dpi': dpi, 'display': display,\n"
            "                  'precision': pd.get_option('display.precision')}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=NOTEBOOKS_DIR, check=True,
                            capture_output=True, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg"})
    return json.loads(result.stdout.splitlines()[-1])


def test_setup_configures_what_each_notebook_has_imported_and_imports_nothing_heavy():
    notebooks = [NOTEBOOKS_DIR / name for name in NOTEBOOKS]
    with ThreadPoolExecutor(max_workers=2) as pool:
        settings = dict(zip(NOTEBOOKS, pool.map(_display_settings_after_setup, notebooks),
                            strict=True))
    for name, found in settings.items():
        cells = json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))["cells"]
        draws = any("image/png" in output.get("data", {})
                    for cell in cells for output in cell.get("outputs", []))
        if draws:  # its figures come out at the project's dpi, theme and PNG settings
            assert found["matplotlib"] and found["seaborn"] and found["dpi"] == 80, name
        if found["sklearn"]:
            assert found["display"] == "text", name
        assert found["precision"] == 3, name
    # the data stages before preparation draw nothing and fit nothing: their kernels load
    # neither library
    for name in NOTEBOOKS[:2]:
        found = settings[name]
        assert not (found["matplotlib"] or found["seaborn"] or found["sklearn"]), name


def test_no_notebook_cell_branches_on_the_engine():
    # one orchestration per stage: the engine's differences live behind
    # shared.scale.stage_engines, not in the cells
    branching = re.compile(r"\bengine\s*[!=]=|\bif\s+engine\b")
    found = []
    for name in NOTEBOOKS:
        cells = json.loads((NOTEBOOKS_DIR / name).read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        found += [f"{name} code cell {i}: {line.strip()}" for i, cell in enumerate(code)
                  for line in "".join(cell["source"]).splitlines() if branching.search(line)]
    assert not found, "cells that branch on the engine (call shared.scale.stage_engines):\n" + \
        "\n".join(found)
