"""The command that serves the deployed model over HTTP (uvicorn), safe by default.

    python -m shared.serve --task sentiment                 # http://127.0.0.1:8000
    python -m shared.serve --task spam --port 0             # any free port (printed)
    python -m shared.serve --host 0.0.0.0 --api-key-file keys.txt --workers 2

It listens on 127.0.0.1 unless told otherwise, and refuses to start (exit 2)
when a deployed file does not match its SHA-256 in the manifest, the model
holds an untrusted type or fails its warm-up, or it is asked to listen beyond
loopback without API keys (unless ``--insecure``), saying which. Once running,
each process (each worker) switches by itself to the release ``deployed``
links to after a release or a rollback, with the same checks, without a
restart (``shared.serving.hot_reload``); ``POST /admin/reload`` makes it look at once.
The application itself is
``shared.serving.service``; running it in a thread of this process (stage 6, the canary) is
``shared.serving.local_service``, and talking to it from Python ``shared.serving.service_client``.
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from shared.core import command_line
from shared.model.embedding import forget_always
from shared.serving.guards import KEYS_VARIABLE, ApiKeyError, is_loopback, load_keys
from shared.serving.hot_reload import ReleaseRefused, load_release
from shared.serving.predictor import Predictor
from shared.serving.service import Settings, create_app

#: how long the supervisor waits for a worker's answer before it kills and replaces it
WORKER_START_SECONDS = 60


class StartupError(RuntimeError):
    """The service refuses to start; the message says why."""


def load(settings: Settings) -> Predictor:
    """The deployed predictor, after the checks a hot reload also makes
    (``shared.serving.hot_reload.load_release``), or StartupError naming what was refused."""
    try:
        return load_release(settings.catalog.deployed_dir, settings.max_text_chars)
    except ReleaseRefused as error:
        raise StartupError(str(error)) from None


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


def check_access(settings: Settings, insecure: bool = False) -> None:
    """Refuse (StartupError) to listen beyond loopback without API keys, unless ``insecure``."""
    if is_loopback(settings.host):
        if not settings.api_keys:
            print("note: no API key, so any process on this machine can call the service",
                  file=sys.stderr, flush=True)
        return
    if settings.api_keys:
        return
    if not insecure:
        raise StartupError(
            f"{settings.host} is reachable from other machines and the service has no API key: "
            f"give --api-key-file PATH or set {KEYS_VARIABLE} (or --insecure, on purpose)")
    print(f"warning: listening on {settings.host}, reachable from other machines, with NO "
          "authentication (--insecure)", file=sys.stderr, flush=True)


def _freeze_startup_objects() -> None:
    """Exempt everything loaded so far (model, libraries) from the garbage collector's scans.

    A full collection walks every tracked object; with scikit-learn, pandas and
    FastAPI loaded that is a pause of tens of milliseconds in the middle of a
    request, and those objects live as long as the process anyway.
    """
    gc.collect()
    gc.freeze()


class WorkerApp:
    """The application of one worker process: loads (and checks) the model at start-up.

    Workers are spawned, not forked, so each loads the deployed model itself
    and opens its own connection to the prediction log; only the settings are
    sent to them. Each watches the ``deployed`` link and reloads itself
    (``shared.serving.hot_reload``). A worker stops when the supervisor that started it is gone.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: object | None = None

    def __getstate__(self) -> dict:
        return {"settings": self.settings, "app": None}

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        if self.app is None:  # the lifespan start-up, before the worker takes requests
            forget_always()
            self.app = create_app(load(self.settings), self.settings)
            _freeze_startup_objects()
            _exit_with_parent()
        await self.app(scope, receive, send)


def serve(
    settings: Settings, log_level: str = "info", access_log: bool = False,
    exit_with_parent: bool = False, workers: int = 1, insecure: bool = False,
) -> None:
    """Check access, load the model, bind, announce the address on stdout, then serve.

    With ``workers`` > 1, that many processes share the socket and the
    prediction log (uvicorn's supervisor restarts a worker that dies).
    """
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    check_access(settings, insecure)
    # a service process encodes every request's texts anew: its texts rarely repeat, and a
    # cost measured on remembered texts would be another service's (the in-process services
    # of the canary and of notebook 6 keep the memory of the process they run in)
    forget_always()
    predictor = load(settings)  # refuses a tampered or untrusted model before listening
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving task {settings.task} (model {predictor.model_version}) on "
          f"http://{shown}:{port}", flush=True)
    app = create_app(predictor, settings) if workers == 1 else WorkerApp(settings)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=access_log, server_header=False,
        # load shedding is the application's (guards.ConcurrencyLimit: max_concurrency requests
        # in flight); uvicorn's limit counts connections and lagging tasks, so it only caps
        # connections here
        limit_concurrency=settings.max_connections, timeout_keep_alive=5,
        timeout_graceful_shutdown=10, workers=workers, lifespan="on",
        # a spawned worker answers the supervisor's ping only once it has imported the
        # libraries (7 s and more on a busy 2-core machine); after uvicorn's default 5 s it
        # was killed and restarted, again and again
        timeout_worker_healthcheck=WORKER_START_SECONDS,
    )
    if exit_with_parent:
        _exit_with_parent()
    if workers == 1:
        _freeze_startup_objects()
        uvicorn.Server(config).run(sockets=[sock])
    else:
        del predictor  # each worker loads its own
        Multiprocess(config, sockets=[sock]).run()


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.serve``: exit 2 when the service refuses to start."""
    from shared.data.tasks import TASKS

    defaults = Settings()
    parser = command_line.parser("serve", "Serve the deployed model of a task over HTTP.", [
        "python -m shared serve                                # http://127.0.0.1:8000/docs",
        "python -m shared serve --task spam --port 8001 --workers 2",
    ])
    command_line.add_task_and_root(parser, TASKS, holds="models/<task>/deployed",
                                   task=defaults.task)
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
                        help="load shedding: requests in flight per worker (/health aside); "
                        f"the next gets 503 at once (default {defaults.max_concurrency})")
    parser.add_argument("--max-connections", type=int, default=defaults.max_connections,
                        help="open connections per worker, idle keep-alive ones included; "
                        f"requests on more get 503 (default {defaults.max_connections})")
    parser.add_argument("--reload-interval", type=float, default=defaults.reload_interval,
                        metavar="SECONDS", help="how often each worker looks where deployed "
                        "links and switches to a new release or a rollback (default "
                        f"{defaults.reload_interval:g}; 0: only on POST /admin/reload)")
    parser.add_argument("--batch-wait-ms", type=float, default=defaults.batch_wait_ms,
                        help="longest wait for concurrent requests to join a batch (default "
                        f"{defaults.batch_wait_ms:g}; a lone request never waits)")
    parser.add_argument("--max-batch", type=int, default=defaults.max_batch,
                        help=f"texts scored and logged together (default {defaults.max_batch}; "
                        "1: no batching)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes sharing the port and the log (default 1)")
    parser.add_argument("--api-key-file", type=Path, metavar="PATH",
                        help=f"API keys, one a line (also: the variable {KEYS_VARIABLE}); every "
                        "endpoint but /health then needs Authorization: Bearer <key>")
    parser.add_argument("--insecure", action="store_true",
                        help="allow listening beyond loopback without API keys")
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
    for name in ("max_body_bytes", "max_texts", "max_text_chars", "max_concurrency",
                 "max_connections", "max_batch", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.batch_wait_ms <= 1000:
        parser.error("--batch-wait-ms must be between 0 and 1000")
    if not 0 <= args.reload_interval <= 3600:
        parser.error("--reload-interval must be between 0 and 3600 seconds")
    try:
        keys = load_keys(args.api_key_file)
    except ApiKeyError as error:
        print(f"error: refusing to start: {error}", file=sys.stderr, flush=True)
        return 2
    settings = Settings(
        task=args.task, root=args.root, host=args.host, port=args.port,
        max_body_bytes=args.max_body_bytes, max_texts=args.max_texts,
        max_text_chars=args.max_text_chars, max_concurrency=args.max_concurrency,
        max_connections=args.max_connections, reload_interval=args.reload_interval,
        store_text=not args.hash_texts, log_path=args.log, batch_wait_ms=args.batch_wait_ms,
        max_batch=args.max_batch, api_keys=keys,
    )
    try:
        serve(settings, args.log_level, args.access_log, args.exit_with_parent, args.workers,
              args.insecure)
    except KeyboardInterrupt:  # uvicorn re-raises SIGINT after its graceful shutdown
        return 0
    except StartupError as error:
        print(f"error: refusing to start: {error}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
