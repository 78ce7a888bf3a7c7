"""Serving benchmark: a bounded burst of concurrent requests to a locally started service.

Starts ``python -m shared.serve`` for the deployed model of a task on a free
port of 127.0.0.1 (its prediction log in a temporary file, so the count is
exact), sends ``--requests`` POST /predict requests of ``--texts`` texts each
from ``--concurrency`` threads (each with its own keep-alive connection), stops
the service and reports:

- requests and predictions per second over the burst;
- p50, p90 and p99 latency of a request, as the client saw it;
- the status of every answer;
- that the number of predictions in the log equals the number answered.

Traffic goes to 127.0.0.1 only; the burst is bounded in count (``--requests``,
at most 10,000) and in time (``--max-seconds``): it stops by itself.

Usage::

    python benchmarks/serving.py [--task sentiment] [--root DIR] [--requests 400]
                                 [--concurrency 8] [--texts 4] [--json PATH]

The deployed model comes from ``--root`` (default: the project, after ``make run``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from shared import prediction_log
from shared.catalog import PROJECT_DIR, Catalog
from shared.service_client import Service
from shared.tasks import TASKS

MAX_REQUESTS = 10_000


def burst(
    service: Service, texts: list[str], requests: int, concurrency: int, per_request: int,
    max_seconds: float,
) -> dict:
    """Send the burst; per request its latency and status, and the prediction ids answered."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    answered: list[str] = []
    lock = threading.Lock()
    next_request = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        client = service.client(timeout=60)
        try:
            while time.monotonic() < deadline:
                with lock:
                    number = next(next_request, None)
                if number is None:
                    return
                start = (number * per_request) % len(texts)
                batch = [texts[(start + k) % len(texts)] for k in range(per_request)]
                began = time.perf_counter()
                try:
                    answer = client.post("/predict", {"texts": batch})
                    status = answer.status
                except OSError as error:
                    status = type(error).__name__
                    answer = None
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1
                    if answer is not None and status == 200:
                        answered.extend(p["prediction_id"] for p in answer.body["predictions"])
        finally:
            client.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 60)
    wall = time.perf_counter() - began
    return {"latencies": latencies, "statuses": statuses, "answered": answered, "seconds": wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/serving.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sentiment", choices=sorted(TASKS))
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help="folder that holds models/<task>/deployed (default: the project)")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--texts", type=int, default=4, help="texts per request")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop sending after this long, whatever is left")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= MAX_REQUESTS or not 1 <= args.concurrency <= 64:
        parser.error(f"--requests must be 1-{MAX_REQUESTS:,} and --concurrency 1-64")
    cat = Catalog.for_task(args.task, args.root)
    if not cat.path("manifest").exists():
        print(f"error: no deployed model in {cat.deployed_dir}; run `make run` (or the runner "
              "with --root) first", file=sys.stderr)
        return 2
    texts = list(cat.read("new_batch")["text"])
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "predictions.sqlite"
        options = ("--log", str(log), "--max-texts", str(max(args.texts, 1)))
        with Service(args.task, cat.root, options) as service:
            client = service.client()
            client.post("/predict", {"texts": texts[:1]})  # warm-up, not counted
            client.close()
            warm = prediction_log.count(log)
            result = burst(service, texts, args.requests, args.concurrency, args.texts,
                           args.max_seconds)
        logged = prediction_log.count(log) - warm
    latencies = np.asarray(result["latencies"]) * 1000
    ok = result["statuses"].get(200, 0)
    figures = {
        "task": args.task,
        "requests": int(len(latencies)),
        "concurrency": args.concurrency,
        "texts_per_request": args.texts,
        "seconds": round(result["seconds"], 3),
        "requests_per_second": round(len(latencies) / result["seconds"], 1),
        "predictions_per_second": round(len(result["answered"]) / result["seconds"], 1),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p90": round(float(np.percentile(latencies, 90)), 1),
        "latency_ms_p99": round(float(np.percentile(latencies, 99)), 1),
        "statuses": {str(k): v for k, v in sorted(result["statuses"].items(), key=str)},
        "predictions_answered": len(result["answered"]),
        "predictions_logged": logged,
        "logged_equals_answered": logged == len(result["answered"]),
    }
    print(f"serving benchmark, task {args.task}: {figures['requests']} requests of "
          f"{args.texts} texts from {args.concurrency} concurrent clients, 127.0.0.1")
    print(f"  {figures['requests_per_second']} requests/s, "
          f"{figures['predictions_per_second']} predictions/s over {figures['seconds']} s")
    print(f"  latency p50 {figures['latency_ms_p50']} ms, p90 {figures['latency_ms_p90']} ms, "
          f"p99 {figures['latency_ms_p99']} ms")
    print(f"  answers: {figures['statuses']} ({ok} OK)")
    print(f"  predictions answered {figures['predictions_answered']}, logged {logged}: "
          f"{'equal' if figures['logged_equals_answered'] else 'NOT EQUAL'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["logged_equals_answered"] and ok == figures["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
