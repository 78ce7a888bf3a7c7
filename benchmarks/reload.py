"""Hot-reload benchmark: the service under steady load across a rollback and a deploy.

Starts ``python -m shared.serve`` (``--workers 2`` by default) for the deployed
model of a task on a free port of 127.0.0.1, with a fresh prediction log, and
drives it with 32 keep-alive connections (closed loop, single-text requests)
for the whole run, without a pause:

1. steady state for ``--steady-seconds`` (the first 2 s are warm-up, not counted);
2. a **rollback**: ``shared.deploy.release.rollback`` to the release before the live
   one, exactly what ``python -m shared release rollback`` does (the release's
   files are checked, then the ``deployed`` link is switched in one rename),
   run in this process; then ``--swap-seconds`` of load;
3. a **deploy**: the newer release is made live again with the rename stage 6
   ends with (``shared.deploy.release.activate``); then ``--swap-seconds`` of load.

Every request is recorded: when it was sent, its latency, its status, and the
model version and prediction id of its answer. The client is wrk (one thread a
connection, a Lua script that timestamps each request with CLOCK_MONOTONIC, the
clock of this process, so switch times and requests share one time line) when
it is installed, else the project's asyncio client (``benchmarks/loadgen.py``).
Each connection stops after the answer that crosses the end time, so every
request sent is answered and can be looked up in the log.

It reports: failed requests (non-200 answers and socket errors; target 0),
answered = logged, every answer's model version equal to its log row's, the
swap (first answer from the new model, last from the old one, after the
switch), p99 over the requests sent in the 2 s after each switch against the
steady state's (target: within 2x), and the steady state's requests/s and p99
(target on this machine: at least 3,000 requests/s with p99 at most 20 ms).
The project must keep at least two releases (run stage 6 twice).

Usage::

    python benchmarks/reload.py [--task sentiment] [--root DIR] [--workers 2]
        [--connections 32] [--steady-seconds 10] [--swap-seconds 8] [--client auto]
        [--serve-args "..."] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from loadgen import http_request

from shared.core import command_line
from shared.core.catalog import Catalog
from shared.data.tasks import TASKS
from shared.deploy import release
from shared.serving import prediction_log

# the tests' harness starts the real command on a free port: python -m shared.serve
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from service_harness import Service  # noqa: E402

#: the window after a switch whose requests are "during the swap"
SWAP_WINDOW_S = 2.0
WARM_UP_S = 2.0

#: wrk's Lua side: one connection per thread, each request timestamped with CLOCK_MONOTONIC
WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } timespec_t;
int clock_gettime(int clk_id, timespec_t *tp);
]]
local ts = ffi.new("timespec_t")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

records = {}  -- a global: done() reads each thread's copy with thread:get
local bodies, sent, index, deadline, stopped = {}, 0, 0, 0, false
function init(args)
  for line in io.lines(os.getenv("RELOAD_BODIES")) do table.insert(bodies, line) end
  deadline = tonumber(os.getenv("RELOAD_DEADLINE"))
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("RELOAD_KEY")
  index = (id * 7) % #bodies  -- each connection starts elsewhere in the texts
end

function request()
  index = index % #bodies + 1
  sent = now()
  return wrk.format("POST", "/predict", nil, bodies[index])
end

function response(status, headers, body)
  local t = now()
  local version = string.match(body, '"model_version": "(%x+)"') or ""
  local id = string.match(body, '"prediction_id": "(%x+)"') or ""
  records[#records + 1] = string.format("%.6f %.3f %d %s %s", sent, (t - sent) * 1000,
                                        status, version, id)
  if t >= deadline and not stopped then
    stopped = true
    wrk.thread:stop()  -- nothing more is sent on this connection: no request left unanswered
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("RELOAD_RECORDS"), "w")
  for _, thread in ipairs(threads) do
    for _, line in ipairs(thread:get("records")) do out:write(line, "\n") end
  end
  local e = summary.errors
  out:write(string.format("# errors connect=%d read=%d write=%d status=%d timeout=%d\n",
                          e.connect, e.read, e.write, e.status, e.timeout))
  out:close()
end
"""


@dataclass(frozen=True)
class Record:
    """One request: when it was sent (monotonic seconds), its latency, status and answer."""

    sent: float
    latency_ms: float
    status: int
    model_version: str
    prediction_id: str


def run_wrk(url: str, key: str, bodies: list[bytes], connections: int, seconds: float,
            scratch: Path) -> tuple[subprocess.Popen, Path, float]:
    """Start wrk in the background; (process, records file, deadline)."""
    script = scratch / "reload.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    body_file = scratch / "bodies.txt"
    body_file.write_bytes(b"\n".join(bodies) + b"\n")
    records = scratch / "records.txt"
    deadline = time.monotonic() + seconds
    env = {**os.environ, "RELOAD_BODIES": str(body_file), "RELOAD_RECORDS": str(records),
           "RELOAD_DEADLINE": f"{deadline:.6f}", "RELOAD_KEY": key}  # the key never in argv
    process = subprocess.Popen(
        ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{int(seconds) + 3}s",
         "--timeout", "10s", "-s", str(script), f"{url}/predict"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    return process, records, deadline


def run_python(url: str, key: str, bodies: list[bytes], connections: int, seconds: float,
               scratch: Path) -> tuple[subprocess.Popen, Path, float]:
    """Start the asyncio client (``loadgen.py``) in its own process; as :func:`run_wrk`."""
    host = url.removeprefix("http://")
    requests = scratch / "requests.hex"
    requests.write_text("\n".join(http_request("POST", "/predict", host, key, json.loads(body))
                                   .hex() for body in bodies) + "\n",
                        encoding="utf-8")  # the key is in this private file, never in argv
    records = scratch / "records.txt"
    deadline = time.monotonic() + seconds
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("loadgen.py")), url, str(requests),
         str(connections), f"{deadline:.6f}", str(records)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, records, deadline


def read_records(records: Path) -> tuple[list[Record], dict[str, int]]:
    """The records the client wrote, and its socket errors."""
    rows, errors = [], {}
    for line in records.read_text(encoding="utf-8").splitlines():
        if line.startswith("# errors"):
            errors = {k: int(v) for k, v in (p.split("=") for p in line.split()[2:])}
            continue
        sent, latency, status, *answer = line.split(" ")
        version, prediction_id = (answer + ["", ""])[:2]
        rows.append(Record(float(sent), float(latency), int(status), version, prediction_id))
    return rows, errors


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its children."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            times = process.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def _machine_busy() -> float:
    """CPU seconds every core of the machine spent busy so far (all processes)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def p99(values: list[float]) -> float:
    return round(float(np.percentile(values, 99)), 2) if values else float("nan")


def analyse(records: list[Record], errors: dict[str, int], switches: list[dict],
            steady: tuple[float, float], log: Path) -> dict:
    """The figures of one run (see the module docstring)."""
    records = sorted(records, key=lambda r: r.sent)
    ok = [r for r in records if r.status == 200]
    failed = len(records) - len(ok) + sum(errors.values())
    in_steady = [r for r in ok if steady[0] <= r.sent < steady[1]]
    rows = prediction_log.read(log)
    logged = dict(zip(rows["prediction_id"], rows["model_version"], strict=True))
    mismatched = sum(1 for r in ok if logged.get(r.prediction_id) != r.model_version)
    figures = {
        "requests": len(records), "failed": failed,
        "statuses": {str(s): sum(1 for r in records if r.status == s)
                     for s in sorted({r.status for r in records})},
        "socket_errors": errors, "answered": len(ok), "logged": len(rows),
        "answer_version_differs_from_log": mismatched,
        "steady": {"seconds": round(steady[1] - steady[0], 2), "requests": len(in_steady),
                   "requests_per_second": round(len(in_steady) / (steady[1] - steady[0]), 1),
                   "p50_ms": round(statistics.median(r.latency_ms for r in in_steady), 2),
                   "p99_ms": p99([r.latency_ms for r in in_steady])},
        "switches": [],
    }
    ends = [s["at"] for s in switches[1:]] + [float("inf")]
    for switch, end in zip(switches, ends, strict=True):
        at, old, new = switch["at"], switch["from_version"], switch["to_version"]
        after = [r for r in ok if at <= r.sent < end]  # up to the next switch
        window = [r.latency_ms for r in ok if at <= r.sent < at + SWAP_WINDOW_S]
        first_new = next((r.sent - at for r in after if r.model_version == new), float("nan"))
        last_old = max((r.sent + r.latency_ms / 1000 - at for r in after
                        if r.model_version == old), default=0.0)
        figures["switches"].append({
            **{k: v for k, v in switch.items() if k != "at"},
            "first_answer_from_new_s": round(first_new, 3),
            "last_answer_from_old_s": round(last_old, 3),
            "window_requests": len(window), "window_p99_ms": p99(window),
            "window_max_ms": round(max(window), 2) if window else float("nan"),
            "window_p99_vs_steady": round(p99(window) / figures["steady"]["p99_ms"], 2),
            "old_answers_after_window": sum(1 for r in after if r.model_version == old
                                            and r.sent >= at + SWAP_WINDOW_S),
            # 250 ms buckets from 1 s before to 3 s after: requests, p99, share from the new model
            "timeline": [
                {"from_s": round(t, 2), "requests": len(bucket),
                 "p99_ms": p99([r.latency_ms for r in bucket]),
                 "new_share": round(sum(r.model_version == new for r in bucket)
                                    / max(len(bucket), 1), 2)}
                for t in np.arange(-1.0, 3.0, 0.25)
                for bucket in [[r for r in ok if at + t <= r.sent < at + t + 0.25]]],
        })
    return figures


def run(cat: Catalog, args: argparse.Namespace, client: str) -> dict:
    """One run: start the service, load it, roll back, deploy, stop; the figures."""
    live = release.live_release(cat)
    previous = release.resolve(cat, None)
    versions = {name: release.manifest_of(cat, name).model_version for name in (live, previous)}
    texts = list(cat.read("new_batch")["text"])
    bodies = [json.dumps({"texts": [t]}).encode() for t in texts]
    seconds = WARM_UP_S + args.steady_seconds + 2 * args.swap_seconds
    with tempfile.TemporaryDirectory(prefix="reload-bench-") as folder:
        scratch = Path(folder)
        log = scratch / "predictions.sqlite"
        options = ("--log", str(log), "--workers", str(args.workers),
                   *shlex.split(args.serve_args))
        switches = []
        try:
            with Service(cat.task, cat.root, options) as service:
                cpu_before = (_tree_cpu(service.process.pid), _machine_busy(),
                              resource.getrusage(resource.RUSAGE_CHILDREN),
                              os.getloadavg()[0])
                began = time.monotonic()
                start = run_wrk if client == "wrk" else run_python
                process, records_file, deadline = start(
                    service.url, service.api_key, bodies, args.connections, seconds, scratch)
                steady = (began + WARM_UP_S, began + WARM_UP_S + args.steady_seconds)
                for name, target, switch in (
                        ("rollback", previous, lambda: release.rollback(cat, previous)),
                        ("deploy", live, lambda: release.activate(cat, live))):
                    start_at = steady[1] + len(switches) * args.swap_seconds
                    time.sleep(max(0.0, start_at - time.monotonic()))
                    before = release.live_release(cat)
                    at = time.monotonic()
                    switch()
                    switches.append({"event": name, "at": at, "from": before, "to": target,
                                     "from_version": versions[before],
                                     "to_version": versions[target],
                                     "switch_call_s": round(time.monotonic() - at, 3)})
                output, _ = process.communicate(timeout=seconds + 60)
                children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the client, reaped
                cpu = {
                    "wall_s": round(time.monotonic() - began, 2),
                    "service_s": round(_tree_cpu(service.process.pid) - cpu_before[0], 2),
                    "client_s": round(children.ru_utime + children.ru_stime
                                      - cpu_before[2].ru_utime - cpu_before[2].ru_stime, 2),
                    "machine_busy_s": round(_machine_busy() - cpu_before[1], 2),
                    "cores": psutil.cpu_count(),
                    "load_average_before_after": [round(cpu_before[3], 2),
                                                  round(os.getloadavg()[0], 2)],
                }
                if not records_file.exists():
                    raise RuntimeError(f"the client wrote no records: {output}")
                records, errors = read_records(records_file)
                if not records:
                    raise RuntimeError(f"the client recorded no request: {output}")
                time.sleep(0.5)
                server_log = service.errors()
        finally:
            if release.live_release(cat) != live:
                release.activate(cat, live)  # the project is left as it was found
        figures = analyse(records, errors, switches, steady, log)
    cpu["service_ms_per_request"] = round(1000 * cpu["service_s"] / len(records), 3)
    cpu["client_ms_per_request"] = round(1000 * cpu["client_s"] / len(records), 3)
    cpu["other_processes_s"] = round(cpu["machine_busy_s"] - cpu["service_s"]
                                     - cpu["client_s"], 2)
    figures["cpu"] = cpu
    figures["loads"] = [float(s) for s in re.findall(r"loaded in ([\d.]+) s", server_log)]
    figures["refusals"] = server_log.count("refused release")
    figures["client"] = client
    figures["wrk_output_tail"] = output.strip().splitlines()[-3:] if output else []
    figures["run_seconds"] = round(deadline - began, 1)
    return figures


def report(figures: dict) -> None:
    steady = figures["steady"]
    print(f"client {figures['client']}: {figures['requests']:,} requests, failed "
          f"{figures['failed']} {figures['statuses']} socket errors {figures['socket_errors']}; "
          f"answered {figures['answered']:,} = logged {figures['logged']:,}: "
          f"{figures['answered'] == figures['logged']}; answers whose version differs from "
          f"their log row: {figures['answer_version_differs_from_log']}")
    print(f"  steady state ({steady['seconds']} s): {steady['requests_per_second']:,} requests/s, "
          f"p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms")
    for s in figures["switches"]:
        print(f"  {s['event']} {s['from']} -> {s['to']}: first answer from the new model "
              f"{s['first_answer_from_new_s']} s after the switch, last from the old "
              f"{s['last_answer_from_old_s']} s; requests sent in the {SWAP_WINDOW_S:g} s after "
              f"it: {s['window_requests']}, p99 {s['window_p99_ms']} ms "
              f"({s['window_p99_vs_steady']}x steady), max {s['window_max_ms']} ms")
    print(f"  loads (s, each worker, each switch): {figures['loads']}; refusals: "
          f"{figures['refusals']}")
    cpu = figures["cpu"]
    print(f"  CPU over {cpu['wall_s']} s on {cpu['cores']} cores: service {cpu['service_s']} s "
          f"({cpu['service_ms_per_request']} ms a request), client {cpu['client_s']} s "
          f"({cpu['client_ms_per_request']} ms a request), other processes "
          f"{cpu['other_processes_s']} s; load average {cpu['load_average_before_after']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/reload.py",
                                     description=__doc__.split("\n\n")[0])
    command_line.add_task_and_root(parser, TASKS, holds="models/<task>/ with at least two releases")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--swap-seconds", type=float, default=8.0,
                        help="load after each switch (at least the 2 s window)")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--serve-args", default="", help="more options for shared.serving.serve")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.swap_seconds < SWAP_WINDOW_S or not 1 <= args.connections <= 256:
        parser.error(f"--swap-seconds must be at least {SWAP_WINDOW_S:g}, --connections 1-256")
    cat = Catalog.for_task(args.task, args.root)
    try:
        live, previous = release.live_release(cat), release.resolve(cat, None)
    except release.ReleaseError as error:
        print(f"error: {error}; the benchmark needs two releases", file=sys.stderr)
        return 2
    if live is None:
        print("error: deployed is not a link to a release", file=sys.stderr)
        return 2
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    print(f"hot-reload benchmark, task {args.task}: {live} (live) and {previous}, "
          f"{args.workers} worker(s), {args.connections} connections, client {client}")
    figures = run(cat, args, client)
    figures.update({"task": args.task, "workers": args.workers,
                    "connections": args.connections, "serve_args": args.serve_args})
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    good = (figures["failed"] == 0 and figures["answered"] == figures["logged"]
            and figures["answer_version_differs_from_log"] == 0)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
