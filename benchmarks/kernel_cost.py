"""What each stage's kernel costs before its notebook starts: starting, then its warm-up.

    python benchmarks/kernel_cost.py [--repeats 3]

For a bare kernel and for each stage's kernel (``shared.run.kernels.Kernel`` with
``warm_up_for(stage)``: the notebook's own imports), the CPU time of the kernel
process once it is up and warm, the median of the repeats. The runner pays
this seven times where ``benchmarks/floor.py`` imports the libraries once; on
two cores, that CPU is time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.core.catalog import NOTEBOOKS_DIR, STAGES  # noqa: E402
from shared.run.kernels import Kernel, warm_up_for  # noqa: E402


def kernel_cpu_seconds(warm_up: str) -> float:
    """CPU seconds of a kernel process from its start until ``warm_up`` has run."""
    import psutil

    kernel = Kernel(NOTEBOOKS_DIR, warm_up)
    manager = kernel.ready()
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        client.execute_interactive("pass", timeout=120)  # queued after the warm-up
        times = psutil.Process(manager.provisioner.pid).cpu_times()
    finally:
        client.stop_channels()
        kernel.shutdown()
    return times.user + times.system


def main(argv: list[str] | None = None) -> int:
    """Print each kernel's CPU time, the median of the repeats."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    def median_cpu(warm_up: str) -> float:
        return statistics.median(kernel_cpu_seconds(warm_up) for _ in range(args.repeats))

    print(f"| kernel | CPU seconds, started and warm (median of {args.repeats}) |")
    print("|---|---|")
    print(f"| bare kernel | {median_cpu('pass'):.2f} |", flush=True)
    stages = []
    for stage in STAGES:
        stages.append(median_cpu(warm_up_for(stage.number)))
        print(f"| {stage.label} | {stages[-1]:.2f} |", flush=True)
    print(f"| the seven stages | {sum(stages):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
