"""The service in a thread of this process, and the canary's round trip over HTTP.

:class:`LocalService` runs the same start-up checks and application as
``python -m shared.serve``, on a free loopback port, without a new process that would
only import the libraries again. :func:`round_trip` is all the deployment canary asks of
the service: start it on a folder, ``GET /health``, ``POST /predict``, stop.
"""

from __future__ import annotations

import http.client
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.core.catalog import PROJECT_DIR
from shared.serving.serve import StartupError
from shared.serving.service import DEFAULT_HOST
from shared.serving.service_client import Client, Response


@dataclass
class LocalService:
    """The service in a thread of this process, on a free loopback port.

    The same start-up checks as ``python -m shared.serve`` (``shared.serving.serve.load``:
    manifest hashes, library versions, trusted types), the same application and
    real HTTP over a socket, but no new process that would only import the
    libraries again: stage 6's demonstration uses it, and the deployment canary through
    :func:`round_trip`. A refused model raises the command's StartupError, with the same
    message.
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

        from shared.serving.guards import key_digests
        from shared.serving.serve import bind, load
        from shared.serving.service import Settings, create_app

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


@dataclass(frozen=True)
class RoundTrip:
    """What a freshly started service answered: ``GET /health``, then ``POST /predict``."""

    health: Response
    predict: Response


class NoAnswerError(RuntimeError):
    """The service refused to start, or did not answer; the message says which."""


def round_trip(task: str, root: Path, texts: list[str], log_path: Path) -> RoundTrip:
    """Serve ``root``'s deployed model of ``task`` in a thread (the service's own start-up
    checks and application, real HTTP on a loopback port, its prediction log at
    ``log_path``), ask ``/health`` and ``/predict`` for ``texts``, then stop.

    A refused model, a port that cannot be bound or a broken connection raises
    :class:`NoAnswerError` with the reason.
    """
    try:
        with LocalService(task, root, log_path=log_path) as service:
            client = service.client()
            try:
                return RoundTrip(client.get("/health"), client.post("/predict", {"texts": texts}))
            finally:
                client.close()
    except (StartupError, OSError, http.client.HTTPException) as error:
        raise NoAnswerError(str(error)) from error
