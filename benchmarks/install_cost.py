"""What `make install` costs at two commits: time and the size of the environment.

    python benchmarks/install_cost.py 744d5ce HEAD

Each commit is cloned from this repository into a temporary folder and installed there by
``make install`` into a fresh ``.venv``, with pip's cache off (``PIP_NO_CACHE_DIR=1``), one
after the other; the table gives the install's wall time and ``.venv``'s size on disk. The
commits' installs alternate ``--repeats`` times and the table shows medians. Package files come
from wherever pip is configured to find them (on the project's test machine, a local mirror of
the index, so download time is nearly nil).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def folder_mb(path: Path) -> float:
    """Bytes on disk below ``path`` (files only, links not followed), in MB."""
    total = sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def install(commit: str) -> tuple[float, float]:
    """Wall seconds of ``make install`` at ``commit`` in a fresh clone, and .venv's MB."""
    with tempfile.TemporaryDirectory() as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", commit], check=True)
        started = time.perf_counter()
        done = subprocess.run(["make", "install"], cwd=clone, capture_output=True, text=True,
                              env={**os.environ, "PIP_NO_CACHE_DIR": "1"})
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"make install failed at {commit}:\n{done.stderr[-3000:]}")
        return seconds, folder_mb(clone / ".venv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commits", nargs="+", help="commits (or branches) to compare")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    measured: dict[str, list[tuple[float, float]]] = {c: [] for c in args.commits}
    for _ in range(args.repeats):
        for commit in args.commits:
            measured[commit].append(install(commit))
    print(f"| commit | make install (median of {args.repeats}) | .venv size |")
    print("|---|---|---|")
    for commit, runs in measured.items():
        print(f"| {commit} | {statistics.median(s for s, _ in runs):.1f} s | "
              f"{statistics.median(mb for _, mb in runs):,.0f} MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
