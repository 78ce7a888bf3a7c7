"""Is a change faster? The runner of two checkouts, run in alternation on the same machine.

    git worktree add /tmp/before <commit>
    python benchmarks/alternate.py /tmp/before --task spam --pairs 5
    python benchmarks/alternate.py . --a-option=--no-tracking   # one checkout, with and without

Each pair runs the whole workflow (``python -m shared.runner --force``, in a
fresh folder) once with the other checkout's code, then once with this one's,
and prints both wall times and the CPU the machine spent meanwhile (all
processes: the runner, its kernels and their workers, from ``/proc/stat``).
On a shared 2-core machine the totals drift by 15% from one batch of runs to the
next, which is larger than most changes; runs that alternate see the same drift,
so the differences within pairs (and their median) say more than two batches.

Each run sets ``PYTHONPATH`` to its checkout: the kernels run in ``notebooks/``
and would otherwise import ``shared`` from wherever the editable install points.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from workflow import ROOT, timed  # this folder is on the path when a benchmark runs


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (user, nice, system, irq)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = stat.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def one_run(checkout: Path, task: str, dataset: str,
            options: tuple[str, ...] = ()) -> tuple[float, float]:
    """The wall time and the machine's CPU time of one whole run of ``checkout``'s runner."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "shared.runner", "--task", task, "--dataset", dataset,
                   "--root", scratch, "--force", *options]
        cpu = busy_cpu_seconds()
        wall = timed(command, cwd=checkout, env={"PYTHONPATH": str(checkout)})
        return wall, busy_cpu_seconds() - cpu


def main(argv: list[str] | None = None) -> int:
    """Alternate the two checkouts and print every pair and the median differences."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (say, a git worktree)")
    parser.add_argument("--task", default="spam")
    parser.add_argument("--dataset", default="builtin")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--a-option", action="append", default=[],
                        help="an option of A's runs only (with '.' as the other checkout: the "
                             "same code with and without it); repeat for several")
    args = parser.parse_args(argv)
    other = args.other.resolve()
    if not (other / "shared" / "runner.py").exists():
        parser.error(f"{other} is not a checkout of this project (no shared/run/runner.py)")
    print(f"A: {other} {' '.join(args.a_option)}\nB: {ROOT} (this checkout)\n")
    print("| pair | A wall | B wall | B - A | A CPU | B CPU | B - A |")
    print("|---|---|---|---|---|---|---|")
    walls, cpus = [], []
    for pair in range(1, args.pairs + 1):
        a_wall, a_cpu = one_run(other, args.task, args.dataset, tuple(args.a_option))
        b_wall, b_cpu = one_run(ROOT, args.task, args.dataset)
        walls.append(b_wall - a_wall)
        cpus.append(b_cpu - a_cpu)
        print(f"| {pair} | {a_wall:.1f} s | {b_wall:.1f} s | {walls[-1]:+.1f} s | {a_cpu:.1f} s "
              f"| {b_cpu:.1f} s | {cpus[-1]:+.1f} s |", flush=True)
    faster = sum(1 for difference in walls if difference < 0)
    print(f"\nB faster in {faster} of {len(walls)} pairs; median difference "
          f"{statistics.median(walls):+.1f} s wall, {statistics.median(cpus):+.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
