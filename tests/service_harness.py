"""The real service command as a subprocess, for the tests and the serving benchmark.

:class:`Service` starts ``python -m shared.serve`` on a free loopback port, waits until it
answers ``/health`` and stops it when the ``with`` ends. It makes a fresh random API key
for every service it starts (handed over in ``MODEL_SERVICE_API_KEYS``, never on the
command line), and its clients send it: the harness exercises the same key check as a
deployment. ``Service(api_key="")`` starts a keyless service (loopback only).
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.core.catalog import PROJECT_DIR
from shared.serving.guards import KEYS_VARIABLE
from shared.serving.serve import StartupError
from shared.serving.service import DEFAULT_HOST
from shared.serving.service_client import Client


@dataclass
class Service:
    """The service as a subprocess on a free loopback port; stops when the ``with`` ends.

    >>> with Service("sentiment") as service:          # doctest: +SKIP
    ...     service.client().post("/predict", {"texts": ["great film"]}).body
    """

    task: str = "sentiment"
    root: Path = PROJECT_DIR
    args: tuple[str, ...] = ()
    host: str = DEFAULT_HOST
    startup_timeout: float = 60.0
    #: the key its clients send; None: a fresh random key, "": no key (loopback only)
    api_key: str | None = field(default=None, repr=False)
    url: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)
    _stderr: Any = field(default=None, repr=False)

    def start(self) -> Service:
        """Start the process and wait until it announces its address and answers /health."""
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        if self.api_key is None:
            self.api_key = secrets.token_urlsafe(32)
        env = {key: value for key, value in os.environ.items() if key != KEYS_VARIABLE}
        if self.api_key:
            env[KEYS_VARIABLE] = self.api_key
        command = [sys.executable, "-m", "shared.serve", "--task", self.task,
                   "--root", str(self.root), "--host", self.host, "--port", "0",
                   "--log-level", "warning", "--exit-with-parent", *self.args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
            text=True, cwd=PROJECT_DIR, env={**env, "PYTHONUNBUFFERED": "1"},
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].strip():
            self.stop()
            raise StartupError(self.errors() or "the service did not start in time")
        self.url = line[0].strip().rsplit(" ", 1)[-1]
        atexit.register(self.stop)
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                if self.client(timeout=5).get("/health").status == 200:
                    return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StartupError(self.errors() or "the service did not answer /health")
            time.sleep(0.05)

    def client(self, timeout: float = 30.0, api_key: str | None = None) -> Client:
        """A new client for this service (one per thread), sending the service's key.

        ``api_key`` sends another key instead ("" sends none).
        """
        return Client(self.url, timeout, self.api_key if api_key is None else api_key)

    def errors(self) -> str:
        """What the process wrote to stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().strip()

    def stop(self, timeout: float = 15.0) -> int | None:
        """Ask the process to shut down (SIGINT: in-flight requests finish), then wait."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
