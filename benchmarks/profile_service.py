"""Where a request's time goes: the service under load, profiled with cProfile, by phase.

Runs the service of a task in this process (one thread, the asyncio event
loop, so cProfile sees everything), drives it from a separate client process
(``benchmarks/loadgen.py``) with single-text POST /predict requests, then sums
the profile by phase, per request:

- parsing: the request body to a list of texts (JSON and the request model);
- validation: ``Predictor.check_text`` (the shared rule for scoreable texts);
- model: ``predict_proba`` (``shared.model.scoring.positive_scores``);
- unknown words: ``Predictor.unknown_word_shares``;
- log: ``prediction_log.append`` / ``append_batches`` (connection, rows, commit);
- pandas: DataFrames built for the answer (the service before this change);
- response: the answer to JSON;
- the rest: HTTP, ASGI, routing, batching: the process's CPU time less the above.

cProfile slows Python code down, so the milliseconds are inflated; the shares
are what to read. Code that runs in the thread pool (a synchronous endpoint) is
profiled too, one profile per thread, added together. Traffic goes to 127.0.0.1 only; the run is bounded.

Usage::

    python benchmarks/profile_service.py [--task sentiment] [--root DIR] [--requests 2000]
                                         [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from shared.core.catalog import PROJECT_DIR, Catalog
from shared.serving.serve import bind, load
from shared.serving.service import Settings, create_app

#: phase -> (file suffix, function name) pairs whose cumulative time is the phase
PHASES = {
    "parsing": [("shared/serving/service.py", "_predict_texts"),
                ("fastapi/dependencies/utils.py", "request_body_to_args"),
                ("starlette/requests.py", "json")],
    "validation": [("shared/serving/predictor.py", "check_text")],
    "model": [("shared/model/scoring.py", "positive_scores")],
    "unknown words": [("shared/serving/predictor.py", "unknown_word_shares")],
    "log": [("shared/serving/prediction_log.py", "append_batches"),
            ("shared/serving/prediction_log.py", "append")],
    "pandas": [("pandas/core/frame.py", "__init__"), ("pandas/core/frame.py", "itertuples"),
               ("pandas/core/frame.py", "__setitem__"), ("pandas/core/frame.py", "__getitem__")],
    "response": [("fastapi/routing.py", "serialize_response"), ("json/__init__.py", "dumps")],
}
CLIENT = """
import sys
sys.path.insert(0, {bench!r})
from loadgen import http_request, python_burst
texts = {texts!r}
requests = [http_request("POST", "/predict", {host!r}, None, {{"texts": [t]}}) for t in texts]
result = python_burst("http://" + {host!r}, requests, {total}, {concurrency}, 120)
print(result.summary())
"""


def phase_times(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each phase's entry points (the outermost call of each counted)."""
    found: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        for phase, entries in PHASES.items():
            if any(filename.endswith(suffix) and name == function for suffix, function in entries):
                found[phase].append(cumulative)
    # append() calls append_batches() in the new log: the larger is the phase, not the sum
    return {phase: (max(times, default=0.0) if phase == "log" else sum(times))
            for phase, times in found.items()}


def profile_worker_threads() -> dict[int, cProfile.Profile]:
    """Profile what runs in the thread pool too (a sync endpoint), one profile per thread."""
    import anyio.to_thread

    profiles: dict[int, cProfile.Profile] = {}
    original = anyio.to_thread.run_sync

    async def run_sync(func, *args, **kwargs):  # noqa: ANN001, ANN202 - anyio's signature
        def profiled(*inner):  # noqa: ANN002, ANN202
            profile = profiles.setdefault(threading.get_ident(), cProfile.Profile(time.thread_time))
            return profile.runcall(func, *inner)

        return await original(profiled, *args, **kwargs)

    anyio.to_thread.run_sync = run_sync
    return profiles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/profile_service.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--root", type=Path, default=PROJECT_DIR)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    import uvicorn

    cat = Catalog.for_task(args.task, args.root)
    texts = list(cat.read("new_batch")["text"])
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(task=args.task, root=cat.root, port=0, max_concurrency=1000,
                            log_path=Path(scratch) / "log.sqlite")
        app = create_app(load(settings), settings)
        sock = bind("127.0.0.1", 0)
        host = f"127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(app, loop="asyncio", log_level="warning",
                                               access_log=False))
        profile = cProfile.Profile(time.thread_time)  # CPU time: waits on locks do not count
        thread_profiles = profile_worker_threads()

        def drive() -> None:
            time.sleep(2)
            script = CLIENT.format(bench=str(Path(__file__).parent), texts=texts, host=host,
                                   total=args.requests, concurrency=args.concurrency)
            subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
            server.should_exit = True

        driver = threading.Thread(target=drive)
        driver.start()
        cpu = time.process_time()
        profile.enable()
        asyncio.run(server.serve(sockets=[sock]))
        profile.disable()
        cpu = time.process_time() - cpu
        driver.join()
    stats = pstats.Stats(profile)
    for other in thread_profiles.values():
        stats.add(other)
    phases = phase_times(stats)
    phases["HTTP, ASGI, routing, batching (the rest)"] = cpu - sum(phases.values())
    print(f"profile of {args.requests} single-text requests from {args.concurrency} clients, "
          f"task {args.task}, {cpu:.2f} s of service CPU (under cProfile)")
    batcher = getattr(app, "batcher", None)  # the service before batching has none
    if batcher is not None:
        print(f"{batcher.stats.batches} batches, {batcher.stats.requests / batcher.stats.batches:.1f}"
              " requests a batch on average")
    print("| phase | ms a request | share |")
    print("|---|---|---|")
    for phase, seconds in phases.items():
        print(f"| {phase} | {1000 * seconds / args.requests:.3f} | {seconds / cpu:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
