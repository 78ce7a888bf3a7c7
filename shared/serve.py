"""The HTTP prediction service: FastAPI under uvicorn, for the deployed model of one task.

    python -m shared.serve --task sentiment                 # http://127.0.0.1:8000
    python -m shared.serve --task spam --port 0             # any free port (printed)

Endpoints:

- ``GET /health``: the model is loaded, and its version (the model file's hash);
- ``GET /model``: the manifest, held-out metrics, limits and the model card by section;
- ``POST /predict`` with ``{"texts": [...]}``: for each text a label, a confidence and
  a prediction id; every answer is appended to the prediction log first;
- ``POST /feedback`` with ``{"prediction_id": ..., "true_label": ...}`` once the true
  label is known.

Safe by default: it listens on 127.0.0.1 unless told otherwise; it refuses to
start when a deployed file does not match its SHA-256 in the manifest or the
model holds an untrusted type (saying which); requests are bounded in body size
(413), texts per request and characters per text. Bad requests get a 4xx JSON
answer ``{"detail": "..."}`` and never disturb other requests.
"""

from __future__ import annotations

import argparse
import atexit
import http.client
import ipaddress
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import catalog, predlog
from shared.catalog import PROJECT_DIR, Catalog
from shared.datasets import MAX_TEXT_CHARS
from shared.persistence import ManifestMismatchError, UntrustedModelError
from shared.predict import Predictor

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: source recorded in the prediction log for answers of the service
SOURCE = "service"


@dataclass(frozen=True)
class Settings:
    """What the service listens on and what it accepts; every limit has a safe default."""

    task: str = "sentiment"
    root: Path = PROJECT_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body_bytes: int = 1_000_000
    max_texts: int = 100
    max_text_chars: int = MAX_TEXT_CHARS
    max_concurrency: int = 64
    store_text: bool = True
    log_path: Path | None = None

    @property
    def catalog(self) -> Catalog:
        """The artifact paths of the served task."""
        return Catalog.for_task(self.task, self.root)

    @property
    def prediction_log(self) -> Path:
        """Where answers are logged: ``log_path``, else the task's prediction log."""
        return Path(self.log_path) if self.log_path else self.catalog.prediction_log

    def limits(self) -> dict[str, int]:
        """The request limits, as ``GET /model`` reports them."""
        return {"max_body_bytes": self.max_body_bytes, "max_texts": self.max_texts,
                "max_text_chars": self.max_text_chars}


# -- the application ----------------------------------------------------------------------
class PredictRequest(BaseModel):
    """Texts to score: ``{"texts": ["...", ...]}``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr]


class FeedbackRequest(BaseModel):
    """The true label of an earlier prediction."""

    model_config = ConfigDict(extra="forbid")
    prediction_id: StrictStr
    true_label: StrictStr


class BodySizeLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes``, declared or streamed.

    The body is read (up to the limit) before the application sees it, so an
    oversized or chunked upload never reaches the JSON parser.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Any, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = (f"request body is larger than {self.max_bytes:,} bytes; send fewer or "
                     "shorter texts per request")
        if declared is not None:
            try:
                declared_size = int(declared)
            except ValueError:
                await self._reject(send, 400, "Content-Length is not a number")
                return
            if declared_size > self.max_bytes:
                await self._reject(send, 413, too_large)
                return
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _model_card_sections(text: str) -> dict[str, str]:
    """The model card's title and each ``## section`` as plain text."""
    sections: dict[str, str] = {}
    current = "title"
    for line in text.splitlines():
        if line.startswith("# ") and "title" not in sections:
            sections["title"] = line[2:].strip()
            current = ""
        elif line.startswith("## "):
            current = line[3:].strip()
            sections[current] = ""
        elif current and line.strip():
            sections[current] = (sections[current] + "\n" + line).strip()
    return sections


def _validation_message(errors: list[dict[str, Any]]) -> tuple[int, str]:
    """A readable status and message for pydantic's request-validation errors."""
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            return 400, f"request body is not valid JSON{': ' + str(reason) if reason else ''}"
    parts = []
    for error in errors:
        location = [str(p) for p in error.get("loc", ()) if p != "body"]
        where = ""
        for part in location:
            where += f"[{part}]" if part.isdigit() else (f".{part}" if where else part)
        if error.get("type") == "missing" and not where:
            parts.append("request body is missing: send a JSON object")
            continue
        if not where:
            parts.append("request body must be a JSON object")
            continue
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return 422, "; ".join(parts[:10]) + (f" (and {len(parts) - 10} more)" if len(parts) > 10 else "")


def create_app(predictor: Predictor, settings: Settings) -> BodySizeLimit:
    """The FastAPI application answering for ``predictor``, wrapped in the body-size limit."""
    spec = predictor.spec
    manifest = predictor.manifest
    log_path = settings.prediction_log
    card_path = Path(settings.catalog.model_card)
    card = _model_card_sections(card_path.read_text(encoding="utf-8")) if card_path.exists() else {}
    app = FastAPI(
        title=f"{spec.task} prediction service",
        version=predictor.model_version,
        description=spec.description,
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        if (await request.body()) and "json" not in content_type.lower():
            return JSONResponse(
                {"detail": f"send the body as JSON with Content-Type: application/json "
                           f"(got {content_type or 'no Content-Type'})"}, status_code=415)
        status, detail = _validation_message(list(error.errors()))
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.get("/health")
    def health() -> dict[str, Any]:
        """The model is loaded; its version (the first 12 hex digits of its SHA-256)."""
        return {
            "status": "ok",
            "task": spec.task,
            "model_loaded": True,
            "model_version": predictor.model_version,
            "model_sha256": manifest.get("files", {}).get("model.skops", ""),
        }

    @app.get("/model")
    def model_info() -> dict[str, Any]:
        """What is deployed: manifest, held-out metrics, the gate, limits and the model card."""
        metrics = manifest.get("metrics", {})
        return {
            "task": spec.task,
            "model_version": predictor.model_version,
            "deployed_at": manifest.get("deployed_at"),
            "files": manifest.get("files", {}),
            "libraries": manifest.get("libraries", {}),
            "training_data_sha256": manifest.get("training_data_sha256"),
            "labels": list(spec.labels),
            "positive_label": spec.positive_label,
            "threshold": predictor.threshold,
            "confidence_threshold": spec.confidence_threshold,
            "metrics": metrics.get("test", {}),
            "gate_passed": metrics.get("gate", {}).get("passed"),
            "limits": settings.limits(),
            "model_card": card,
        }

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        """Label, confidence and prediction id for every text; all logged before answering."""
        texts = request.texts
        if not texts:
            raise HTTPException(422, "texts is empty: send at least one text")
        if len(texts) > settings.max_texts:
            raise HTTPException(
                422, f"too many texts: {len(texts)} in one request, at most {settings.max_texts}"
            )
        problems = [(i, predictor.check_text(t)) for i, t in enumerate(texts)]
        problems = [(i, p) for i, p in problems if p]
        if problems:
            shown = "; ".join(f"texts[{i}]: {p}" for i, p in problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise HTTPException(422, shown + more)
        try:
            result, batch_id = predictor.predict_and_log(
                list(texts), log_path, SOURCE, settings.store_text
            )
        except sqlite3.Error as error:
            raise HTTPException(
                503, f"the prediction log is unavailable ({error}); nothing was answered"
            ) from None
        return {
            "model_version": predictor.model_version,
            "batch_id": batch_id,
            "predictions": [
                {
                    "prediction_id": r.prediction_id,
                    "label": r.label,
                    "confidence": round(float(r.confidence), 6),
                    "low_confidence": bool(r.low_confidence),
                }
                for r in result.itertuples()
            ],
        }

    @app.post("/feedback")
    def feedback(request: FeedbackRequest) -> dict[str, Any]:
        """Record the true label of an earlier prediction (the latest feedback counts)."""
        if request.true_label not in spec.labels:
            raise HTTPException(
                422, f"true_label {request.true_label!r} is not one of: {', '.join(spec.labels)}"
            )
        try:
            predicted = predlog.add_feedback(log_path, request.prediction_id, request.true_label)
        except predlog.UnknownPredictionError:
            raise HTTPException(
                404, f"unknown prediction id {request.prediction_id!r}"
            ) from None
        except sqlite3.Error as error:
            raise HTTPException(503, f"the prediction log is unavailable ({error})") from None
        return {
            "prediction_id": request.prediction_id,
            "true_label": request.true_label,
            "predicted_label": predicted,
            "correct": predicted == request.true_label,
        }

    return BodySizeLimit(app, settings.max_body_bytes)


# -- the command --------------------------------------------------------------------------
class StartupError(RuntimeError):
    """The service refuses to start; the message says why."""


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def load(settings: Settings) -> Predictor:
    """The deployed predictor, or StartupError naming the file or type that was refused."""
    try:
        return Predictor.from_deployed(settings.catalog.deployed_dir, settings.max_text_chars)
    except ManifestMismatchError as error:
        raise StartupError(f"the deployed files do not match the manifest: {error}") from None
    except UntrustedModelError as error:
        raise StartupError(f"the model holds untrusted types: {error}") from None
    except catalog.MissingArtifactError as error:
        raise StartupError(f"no deployed model for task {settings.task!r}: {error}") from None


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free port chosen by the system)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP (not 0): asyncio then sets TCP_NODELAY on every connection, so a
    # response written in two parts is not held back by Nagle's algorithm on keep-alive
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _exit_with_parent() -> None:
    """Stop this process (as SIGINT would) once the process that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def serve(
    settings: Settings, log_level: str = "info", access_log: bool = False,
    exit_with_parent: bool = False,
) -> None:
    """Load the model, bind, announce the address on stdout, then serve until stopped."""
    import uvicorn

    predictor = load(settings)
    app = create_app(predictor, settings)
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    if not _is_loopback(settings.host):
        print(f"warning: listening on {settings.host}, reachable from other machines; the "
              "service has no authentication", file=sys.stderr, flush=True)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving task {settings.task} (model {predictor.model_version}) on "
          f"http://{shown}:{port}", flush=True)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, server_header=False,
        limit_concurrency=settings.max_concurrency, timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )
    if exit_with_parent:
        _exit_with_parent()
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.serve``: exit 2 when the service refuses to start."""
    from shared.tasks import TASKS

    defaults = Settings()
    parser = argparse.ArgumentParser(prog="python -m shared.serve",
                                     description="Serve the deployed model of a task over HTTP.")
    parser.add_argument("--task", default=defaults.task, choices=sorted(TASKS))
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help="folder that holds models/<task>/deployed (default: the project)")
    parser.add_argument("--host", default=defaults.host,
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=defaults.port,
                        help="port (default 8000; 0 picks a free one, printed at start)")
    parser.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes)
    parser.add_argument("--max-texts", type=int, default=defaults.max_texts,
                        help="texts per request")
    parser.add_argument("--max-text-chars", type=int, default=defaults.max_text_chars,
                        help="characters per text")
    parser.add_argument("--max-concurrency", type=int, default=defaults.max_concurrency,
                        help="requests in flight; more get 503")
    parser.add_argument("--hash-texts", action="store_true",
                        help="privacy: log each text's SHA-256 and length, not the text")
    parser.add_argument("--log", type=Path, help="prediction log (default: models/<task>/"
                        "predictions.sqlite)")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started the service ends")
    args = parser.parse_args(argv)
    for name in ("max_body_bytes", "max_texts", "max_text_chars", "max_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    settings = Settings(
        task=args.task, root=args.root, host=args.host, port=args.port,
        max_body_bytes=args.max_body_bytes, max_texts=args.max_texts,
        max_text_chars=args.max_text_chars, max_concurrency=args.max_concurrency,
        store_text=not args.hash_texts, log_path=args.log,
    )
    try:
        serve(settings, args.log_level, args.access_log, args.exit_with_parent)
    except KeyboardInterrupt:  # uvicorn re-raises SIGINT after its graceful shutdown
        return 0
    except StartupError as error:
        print(f"error: refusing to start: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


# -- running it from Python: notebooks, tests, the benchmark ---------------------------
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
    """An HTTP answer: status and the JSON body (or the raw text when it is not JSON)."""

    status: int
    body: Any


class Client:
    """A minimal HTTP client (standard library only) for one service; one connection.

    Not shared between threads: give each thread its own client.
    """

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        rest = url.split("://", 1)[-1].rstrip("/")
        host, _, port = rest.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, payload: Any = None, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """Send one request; ``payload`` is sent as JSON, ``body`` as raw bytes."""
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
        sent_headers = {"Content-Type": "application/json"} if body is not None else {}
        sent_headers.update(headers or {})
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port,
                                                              timeout=self.timeout)
            try:
                self._connection.request(method, path, body=body, headers=sent_headers)
                answer = self._connection.getresponse()
                raw = answer.read()
                if answer.getheader("connection", "").lower() == "close":
                    self.close()
                break
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        try:
            return Response(answer.status, json.loads(raw))
        except ValueError:
            return Response(answer.status, raw.decode("utf-8", "replace"))

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
    url: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)
    _stderr: Any = field(default=None, repr=False)

    def start(self) -> Service:
        """Start the process and wait until it announces its address and answers /health."""
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        command = [sys.executable, "-m", "shared.serve", "--task", self.task,
                   "--root", str(self.root), "--host", self.host, "--port", "0",
                   "--log-level", "warning", "--exit-with-parent", *self.args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
            text=True, cwd=PROJECT_DIR, env={**os.environ, "PYTHONUNBUFFERED": "1"},
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

    def client(self, timeout: float = 30.0) -> Client:
        """A new client for this service (one per thread)."""
        return Client(self.url, timeout)

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


if __name__ == "__main__":
    sys.exit(main())
