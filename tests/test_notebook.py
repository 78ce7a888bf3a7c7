"""The notebooks' shared settings (``shared.notebook``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from shared.catalog import PROJECT_DIR


def test_setup_leaves_one_blas_thread_and_plain_text_estimators():
    # in a child process: the settings are global to the process that calls setup()
    code = ("import json, sklearn\n"
            "from threadpoolctl import threadpool_info\n"
            "from shared.notebook import setup\n"
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
