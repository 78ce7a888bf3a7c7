"""Serving benchmark: the service under bounded bursts, against the model's own in-process cost.

Starts ``python -m shared.serve`` for the deployed model of a task on a free
port of 127.0.0.1 (its prediction log in a temporary file, so counts are exact)
and reports, in one run:

- the model's raw ``predict_proba`` in this process, one text and a batch of
  100 (``shared.deploy.model_cost``, median of repeats): the limit;
- the in-process ``Predictor`` on one text (checks and unknown-word share
  included), fast path (``score``) and DataFrame (``predict``);
- the load generator driving a trivial endpoint (``GET /health``) at the
  highest concurrency: what the client alone can send;
- single-text requests at 1, 8, 32 and 64 concurrent clients: requests/s,
  p50, p99, answered, logged;
- requests of 100 texts from 2 clients: predictions/s, answered, logged.

A release switched under load (a rollback and a deploy, hot reload) is measured by
``benchmarks/reload.py``.

Each burst is bounded in count (``--requests``) and time (``--max-seconds``);
traffic goes to 127.0.0.1 only. The client is ``benchmarks/loadgen.py`` (asyncio,
one process), on the same 2 cores as the service.

Usage::

    python benchmarks/serving.py [--task sentiment] [--root DIR] [--requests 3000]
                                 [--workers 1] [--serve-args "--batch-wait-ms 2"] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

from loadgen import http_request, python_burst

# the tests' harness starts the real command on a free port: python -m shared.serve
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from service_harness import Service  # noqa: E402

from shared.core import command_line
from shared.core.catalog import Catalog
from shared.core.manifest import load_deployed
from shared.data.tasks import TASKS
from shared.deploy.model_cost import median_ms, predict_cost
from shared.model.embedding import forgetting
from shared.serving import prediction_log

MAX_REQUESTS = 20_000
LEVELS = (1, 8, 32, 64)
BATCH = 100


def in_process(cat: Catalog, texts: list[str], repeats: int = 15) -> dict:
    """Raw predict_proba (single, batch of 100) and the Predictor on one text, in this process.

    The Predictor's one-text calls are timed interleaved with the raw model's
    on the same texts, so a slower spell of the shared machine hits both alike. Every call
    costs what a new text costs: the sentence vectors this process would remember between
    repeats are forgotten (``forgetting``), as the service forgets them.
    """
    model, _ = load_deployed(cat.deployed_dir)
    figures = {"raw": predict_cost(model, texts, BATCH).as_dict()}
    try:
        from shared.serving.predictor import Predictor
    except ImportError:  # an older tree without the predictor
        return figures
    predictor = Predictor.from_deployed(cat.deployed_dir)
    singles = [[texts[i % len(texts)]] for i in range(20)]
    calls = {"raw": lambda t: model.predict_proba(t)}
    calls.update({name: getattr(predictor, name) for name in ("score", "predict")
                  if hasattr(predictor, name)})
    times: dict[str, list[float]] = {name: [] for name in calls}
    with forgetting():
        for _ in range(repeats):
            for name, call in calls.items():
                cycle = iter(singles)
                times[name].append(median_ms(lambda c=call, i=cycle: c(next(i)), 1,
                                             len(singles)))
    raw = statistics.median(times.pop("raw"))
    for name, values in times.items():
        figures[f"predictor_{name}_ms"] = round(statistics.median(values), 3)
        figures[f"predictor_{name}_vs_raw"] = round(statistics.median(values) / raw, 2)
    figures["raw_single_interleaved_ms"] = round(raw, 3)
    return figures


def run_bursts(service: Service, log: Path, texts: list[str], requests: int,
               max_seconds: float) -> dict:
    """Every burst against the running service; logged counted from the log around each."""
    host = service.url.removeprefix("http://")
    key = getattr(service, "api_key", None)
    singles = [http_request("POST", "/predict", host, key, {"texts": [t]}) for t in texts]
    batches = [http_request("POST", "/predict", host, key,
                            {"texts": [texts[(i * BATCH + k) % len(texts)] for k in range(BATCH)]})
               for i in range(20)]
    health = [http_request("GET", "/health", host, None)]
    python_burst(service.url, singles, 200, 8, max_seconds)  # warm-up, not counted
    results = {"trivial_endpoint": python_burst(service.url, health, requests, max(LEVELS),
                                                max_seconds).summary()}
    for name, pool, total, clients in (
        *((f"single_text_{c}_clients", singles, requests, c) for c in LEVELS),
        ("batch_of_100_2_clients", batches, max(requests // 50, 20), 2),
    ):
        before = prediction_log.count(log)
        figures = python_burst(service.url, pool, total, clients, max_seconds).summary()
        figures["logged"] = prediction_log.count(log) - before
        figures["concurrency"] = clients
        results[name] = figures
    return results


def report(task: str, figures: dict) -> None:
    """The figures as the table rows of docs/benchmarks.md."""
    raw = figures["in_process"]["raw"]
    print(f"serving benchmark, task {task}, client {figures['bursts']['trivial_endpoint']['client']}"
          f", service args: {figures['serve_args'] or '(defaults)'}")
    print(f"  in-process predict_proba: one text {raw['single_text_ms']:.3f} ms "
          f"({raw['single_texts_per_second']:.0f}/s), batch of {raw['batch_size']} "
          f"{raw['batch_ms']:.2f} ms ({raw['batch_texts_per_second']:.0f} texts/s)")
    for name in ("score", "predict"):
        if f"predictor_{name}_ms" in figures["in_process"]:
            value = figures["in_process"][f"predictor_{name}_ms"]
            ratio = figures["in_process"][f"predictor_{name}_vs_raw"]
            print(f"  in-process Predictor.{name}, one text: {value:.3f} ms ({ratio:.2f}x "
                  "predict_proba timed alongside)")
    print("  | burst | clients | requests | requests/s | predictions/s | p50 ms | p99 ms | "
          "answered | logged | statuses |")
    for name, row in figures["bursts"].items():
        print(f"  | {name} | {row.get('concurrency', max(LEVELS))} | {row['requests']} | "
              f"{row['requests_per_second']} | {row['predictions_per_second']} | "
              f"{row['latency_ms_p50']} | {row['latency_ms_p99']} | {row['answered']} | "
              f"{row.get('logged', '-')} | {row['statuses']} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/serving.py",
                                     description=__doc__.split("\n\n")[0])
    command_line.add_task_and_root(parser, TASKS, holds="models/<task>/deployed")
    parser.add_argument("--requests", type=int, default=3000, help="requests per burst")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="stop a burst after this long, whatever is left")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--serve-args", default="", help="more options for shared.serving.serve")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1-{MAX_REQUESTS:,}")
    cat = Catalog.for_task(args.task, args.root)
    if not cat.path("manifest").exists():
        print(f"error: no deployed model in {cat.deployed_dir}; run `make run` (or the runner "
              "with --root) first", file=sys.stderr)
        return 2
    texts = list(cat.read("new_batch")["text"])
    extra = shlex.split(args.serve_args) + (["--workers", str(args.workers)]
                                           if args.workers > 1 else [])
    figures = {"task": args.task, "serve_args": " ".join(extra),
               "in_process": in_process(cat, texts)}
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "predictions.sqlite"
        options = ("--log", str(log), "--max-texts", str(BATCH),
                   "--max-concurrency", str(2 * max(LEVELS)), *extra)
        with Service(args.task, cat.root, options) as service:
            figures["bursts"] = run_bursts(service, log, texts, args.requests, args.max_seconds)
    report(args.task, figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    bursts = [row for name, row in figures["bursts"].items() if name != "trivial_endpoint"]
    return 0 if all(row["answered"] == row["logged"] for row in bursts) else 1


if __name__ == "__main__":
    sys.exit(main())
