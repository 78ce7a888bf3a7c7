"""Does MLflow's UI show the run history? Checked in a real browser, with screenshots.

    python -m shared run --root /tmp/demo            # a few runs first
    python benchmarks/ui_check.py --root /tmp/demo --out docs/images

Starts the UI as ``make ui`` does (on a free loopback port), opens it in headless Chromium
through the DevTools protocol, and checks what a person would look for:

1. the task's experiment lists every pipeline run, and the newest, expanded, shows its seven
   stage runs under it (parent/child);
2. the newest run's page shows its metrics (the primary metric and its interval) and params.

Each view is saved as a PNG (``run_history_runs.png``, ``run_history_run.png``). Exit 1 when a
check fails, naming it. Needs ``chromium`` on the PATH (``apt install chromium``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64decode
from pathlib import Path
from typing import Any

import websocket  # websocket-client, pinned in the lock (Jupyter's)

STAGE_RUNS = ("01 problem definition", "02 data collection", "03 data preparation",
              "04 model training", "05 model evaluation", "06 deployment",
              "07 monitoring and prediction")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return json.loads(answer.read() or b"null") if url.endswith("json") else None
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {seconds} s") from None
            time.sleep(0.3)


def api(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A call of MLflow's REST API: GET without a body, POST with one."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}", data,
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


class Browser:
    """Headless Chromium driven through the DevTools protocol."""

    def __init__(self, width: int = 1500, height: int = 950) -> None:
        port = free_port()
        self.profile = tempfile.mkdtemp()
        self.process = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--remote-debugging-port={port}", f"--user-data-dir={self.profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pages = wait_for(f"http://127.0.0.1:{port}/json")
        page = next(p for p in pages if p["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                                  suppress_origin=True)
        self.calls = 0
        self.call("Page.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.calls += 1
        self.socket.send(json.dumps({"id": self.calls, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.calls:
                return message.get("result", {})

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result.get("result", {}).get("value")

    def open(self, url: str, ready: str, seconds: float = 60) -> None:
        """Navigate and wait until the JavaScript expression ``ready`` is true."""
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + seconds
        while not self.js(ready):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: the page did not show what was expected")
            time.sleep(0.5)

    def text(self) -> str:
        return self.js("document.body.innerText") or ""

    def screenshot(self, path: Path) -> None:
        path.write_bytes(b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)


def check(root: Path, task: str, out: Path) -> list[str]:
    """Run the checks; return the failures (none: all passed)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{root.resolve()}/mlruns/mlflow.db"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    failures = []
    try:
        wait_for(f"{base}/health")
        experiment = api(base, f"experiments/get-by-name?experiment_name=ml-workflow-{task}"
                         )["experiment"]
        runs = api(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]],
                                         "filter": "tags.kind = 'pipeline'",
                                         "order_by": ["attributes.start_time DESC"]})["runs"]
        names = [next(t["value"] for t in r["data"]["tags"] if t["key"] == "mlflow.runName")
                 for r in runs]
        newest = runs[0]["info"]["run_id"]
        browser = Browser()
        listing = f"{base}/#/experiments/{experiment['experiment_id']}/runs"
        browser.open(listing, "document.querySelectorAll('.ag-row').length > 0")
        browser.js("document.querySelector('button[aria-label=Close]')?.click()")  # assistant
        browser.js(f"document.querySelector('.ag-row[row-id=\"{newest}\"] "
                   "button[data-component-id*=runnamecellrenderer]')?.click()")
        time.sleep(2)
        shown = browser.text()
        failures += [f"runs page: parent run {name!r} not listed" for name in names
                     if name not in shown]
        failures += [f"runs page: stage run {name!r} not shown under the newest run"
                     for name in STAGE_RUNS if name not in shown]
        browser.screenshot(out / "run_history_runs.png")
        metric = next(t["value"] for t in runs[0]["data"]["tags"] if t["key"] == "primary_metric")
        browser.open(f"{listing}/{newest}",
                     f"document.body.innerText.includes('test.{metric}')")
        browser.js("document.querySelector('button[aria-label=Close]')?.click()")
        time.sleep(1)
        shown = browser.text()
        failures += [f"run page: {name} not shown" for name in
                     (f"test.{metric}", f"test.{metric}.low", f"test.{metric}.high",
                      "spec.primary_metric") if name not in shown]
        browser.screenshot(out / "run_history_run.png")
    finally:
        if browser is not None:
            browser.close()
        server.terminate()
        server.wait(timeout=30)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="a run root with mlruns/")
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failures = check(args.root, args.task, args.out)
    for failure in failures:
        print(f"FAIL {failure}")
    print("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    print(f"screenshots: {args.out / 'run_history_runs.png'}, {args.out / 'run_history_run.png'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
