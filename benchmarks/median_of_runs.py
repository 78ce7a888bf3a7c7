"""The median of several runs of ``benchmarks/serving.py --json``, as the table of docs/benchmarks.md.

    python benchmarks/median_of_runs.py run1.json run2.json run3.json

Each cell is the median of that figure over the runs (the machine is shared,
so one run alone is noise); answered and logged are summed over the runs.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def median_table(runs: list[dict]) -> list[str]:
    """Markdown rows: one per burst, then the in-process figures."""
    def med(values: list[float]) -> float:
        return statistics.median(values)

    rows = ["| burst | clients | requests/s | predictions/s | p50 ms | p99 ms | answered | logged |",
            "|---|---|---|---|---|---|---|---|"]
    for name, first in runs[0]["bursts"].items():
        cells = [run["bursts"][name] for run in runs]
        logged = "-" if "logged" not in first else f"{sum(c['logged'] for c in cells):,}"
        rows.append(
            f"| {name} | {first.get('concurrency', 64)} "
            f"| {med([c['requests_per_second'] for c in cells]):,.0f} "
            f"| {med([c['predictions_per_second'] for c in cells]):,.0f} "
            f"| {med([c['latency_ms_p50'] for c in cells]):.1f} "
            f"| {med([c['latency_ms_p99'] for c in cells]):.1f} "
            f"| {sum(c['answered'] for c in cells):,} | {logged} |")
    raw = [run["in_process"]["raw"] for run in runs]
    rows.append("")
    rows.append(f"in-process predict_proba: one text {med([r['single_text_ms'] for r in raw]):.2f} ms, "
                f"batch of 100 {med([r['batch_ms'] for r in raw]):.1f} ms "
                f"({med([r['batch_texts_per_second'] for r in raw]):,.0f} texts/s)")
    for name in ("score", "predict"):
        key = f"predictor_{name}_vs_raw"
        if key in runs[0]["in_process"]:
            rows.append(f"Predictor.{name}, one text: "
                        f"{med([r['in_process'][key] for r in runs]):.2f}x predict_proba")
    return rows


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__)
        return 2
    print("\n".join(median_table([json.loads(p.read_text()) for p in paths])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
