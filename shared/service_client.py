"""Running the service from Python: a client, the service as a subprocess or in a thread,
bad requests.

The tests start the real command (``python -m shared.serve``) on a free loopback
port with :class:`Service`; stage 6 and the deployment canary run the same
application in a thread (:class:`LocalService`). Both are talked to over HTTP
with :class:`Client`, and sent one example of every kind of bad request
(:func:`bad_requests`).

:class:`Service` makes a fresh random API key for every service it starts
(handed over in ``MODEL_SERVICE_API_KEYS``, never on the command line), and its
clients send it: the harness exercises the same key check as a deployment.
``Service(api_key="")`` starts a keyless service (loopback only).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
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

from shared.catalog import PROJECT_DIR
from shared.guards import KEYS_VARIABLE
from shared.serve import StartupError
from shared.service import DEFAULT_HOST


def bad_requests(model_info: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """One example of every kind of bad request: (case, method, path, Client.request kwargs).

    ``model_info`` is the service's ``GET /model`` answer (its limits and labels).
    """
    limits = model_info["limits"]
    label = model_info["labels"][0]
    too_long = "x" * (limits["max_text_chars"] + 1)
    too_large = b'{"texts": ["' + b"y" * limits["max_body_bytes"] + b'"]}'
    return [
        ("invalid JSON", "POST", "/predict", {"body": b'{"texts": ["unclosed'}),
        ("no body", "POST", "/predict", {"body": b""}),
        ("body is not an object", "POST", "/predict", {"payload": ["just", "a", "list"]}),
        ("texts is not a list", "POST", "/predict", {"payload": {"texts": "one text"}}),
        ("a text is not a string", "POST", "/predict", {"payload": {"texts": ["fine", 42]}}),
        ("unknown field", "POST", "/predict", {"payload": {"texts": ["fine"], "extra": 1}}),
        ("empty list", "POST", "/predict", {"payload": {"texts": []}}),
        ("blank text", "POST", "/predict", {"payload": {"texts": ["fine", "   "]}}),
        ("too many texts", "POST", "/predict",
         {"payload": {"texts": ["fine"] * (limits["max_texts"] + 1)}}),
        ("text too long", "POST", "/predict", {"payload": {"texts": [too_long]}}),
        ("body too large", "POST", "/predict", {"body": too_large}),
        ("not JSON content type", "POST", "/predict",
         {"body": b'{"texts": ["fine"]}', "headers": {"Content-Type": "text/plain"}}),
        ("unknown prediction id", "POST", "/feedback",
         {"payload": {"prediction_id": "no-such-id", "true_label": label}}),
        ("unknown label in feedback", "POST", "/feedback",
         {"payload": {"prediction_id": "no-such-id", "true_label": "maybe"}}),
        ("unknown endpoint", "GET", "/admin", {}),
        ("wrong method", "GET", "/predict", {}),
    ]



def try_bad_requests(client: Client, model_info: dict[str, Any]) -> list[tuple[str, int, str]]:
    """Send every bad request of :func:`bad_requests`; (case, status, detail) for each."""
    answers = []
    for case, method, path, kwargs in bad_requests(model_info):
        answer = client.request(method, path, **kwargs)
        detail = answer.body.get("detail", "") if isinstance(answer.body, dict) else answer.body
        answers.append((case, answer.status, str(detail)))
    return answers


@dataclass
class Response:
    """An HTTP answer: status, the JSON body (or the raw text when it is not JSON), and the
    headers (names in lower case)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Client:
    """A minimal HTTP client (standard library only) for one service; one connection.

    Not shared between threads: give each thread its own client.
    """

    def __init__(self, url: str, timeout: float = 30.0, api_key: str | None = None) -> None:
        rest = url.split("://", 1)[-1].rstrip("/")
        host, _, port = rest.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.timeout = timeout
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, payload: Any = None, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request; ``payload`` is sent as JSON, ``body`` as raw bytes."""
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
        sent_headers = {"Content-Type": "application/json"} if body is not None else {}
        sent_headers.update(self._auth)
        sent_headers.update(headers or {})
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port,
                                                              timeout=self.timeout)
            try:
                # A server may answer before it has read the whole body (413 to an
                # oversized upload) and close; its answer can still wait in the socket.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._connection.request(method, path, body=body, headers=sent_headers)
                answer = self._connection.getresponse()
                raw = answer.read()
                received = {name.lower(): value for name, value in answer.getheaders()}
                if answer.getheader("connection", "").lower() == "close":
                    self.close()
                break
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        try:
            return Response(answer.status, json.loads(raw), received)
        except ValueError:
            return Response(answer.status, raw.decode("utf-8", "replace"), received)

    def get(self, path: str) -> Response:
        """``GET path``."""
        return self.request("GET", path)

    def post(self, path: str, payload: Any = None, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Response:
        """``POST path`` with ``payload`` as JSON, or ``body`` as raw bytes."""
        return self.request("POST", path, payload, body, headers)

    def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


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


@dataclass
class LocalService:
    """The service in a thread of this process, on a free loopback port.

    The same start-up checks as ``python -m shared.serve`` (``shared.serve.load``:
    manifest hashes, library versions, trusted types), the same application and
    real HTTP over a socket, but no new process that would only import the
    libraries again: stage 6's demonstration and the deployment canary use it.
    A refused model raises the command's StartupError, with the same message.
    """

    task: str = "sentiment"
    root: Path = PROJECT_DIR
    log_path: Path | None = None
    #: the key its clients send; None: a fresh random key, "": no key
    api_key: str | None = field(default=None, repr=False)
    startup_timeout: float = 60.0
    url: str = ""
    _server: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> LocalService:
        """Load and check the model, listen, and wait until the server runs."""
        import uvicorn

        from shared.guards import key_digests
        from shared.serve import bind, load
        from shared.service import Settings, create_app

        if self.api_key is None:
            self.api_key = secrets.token_urlsafe(32)
        settings = Settings(task=self.task, root=self.root, host=DEFAULT_HOST, port=0,
                            log_path=self.log_path,
                            api_keys=key_digests([self.api_key] if self.api_key else []))
        app = create_app(load(settings), settings)
        sock = bind(settings.host, 0)
        self.url = f"http://{DEFAULT_HOST}:{sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                                limit_concurrency=settings.max_connections, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True, name="local-service")
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StartupError("the service thread did not start")
            time.sleep(0.01)
        return self

    def client(self, timeout: float = 30.0, api_key: str | None = None) -> Client:
        """A new client for this service, sending its key (``api_key`` sends another)."""
        return Client(self.url, timeout, self.api_key if api_key is None else api_key)

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the server to finish its requests and stop, then wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
