"""What a request must pass before the service reads it: room, an API key, then a body-size limit.

All are ASGI middleware around the FastAPI application, so a request over
the load limit or without a valid key is refused before its body is read, and
an oversized body is refused while it streams, before any parsing.

Load shedding (:class:`ConcurrencyLimit`) starts at a stated load: at most
``limit`` requests in flight per process, counted from the moment a request's
headers are read until its answer is sent; the next one gets 503 with
``Retry-After`` at once. ``/health`` is never shed. (uvicorn's own
``limit_concurrency`` is not that count: it refuses once the process holds that
many connections, idle keep-alive ones included, or that many request tasks,
and a finished task leaves its set one event-loop turn after its answer was
sent. Under dynamic batching a whole batch finishes in one turn and its
clients' next requests are read in the same turn, so it counted up to twice
the requests in flight, and shed at 32 connections with a limit of 64. The
service gives uvicorn a connection limit instead: ``max_connections``.)

The admin endpoints (``/admin/...``: ``POST /admin/reload``) need an API key
like every other path but ``/health``; a service that runs without keys
answers them only to clients on this machine (:class:`LoopbackAdmin`).

API keys come from a file (``--api-key-file``: one key a line, ``#`` comments)
and/or the variable ``MODEL_SERVICE_API_KEYS`` (keys separated by commas or
white space). Only their SHA-256 digests are kept; a presented key is hashed
and compared with every digest in constant time (``hmac.compare_digest``), and
keys are never logged or echoed. A request that passed gets its key's public
name, :func:`key_id` (16 hex digits of a hash of the digest: neither the key
nor its digest), in ``scope["state"]["api_key_id"]``: the service records it
with each feedback label, and a retrain uses only labels that carry one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: the environment variable that may hold the service's API keys
KEYS_VARIABLE = "MODEL_SERVICE_API_KEYS"
#: the shortest key accepted: shorter ones are guessable
MIN_KEY_CHARS = 16
#: paths answered without a key (load balancers and the harness probe them)
OPEN_PATHS = frozenset({"/health"})
#: the start of the paths that change what the service does (``POST /admin/reload``)
ADMIN_PREFIX = "/admin/"
#: where a checked request carries its key's public name (``scope["state"]``)
KEY_ID_STATE = "api_key_id"


class ApiKeyError(ValueError):
    """The keys given to the service cannot be used; the message says why (never the key)."""


def _digest(key: str | bytes) -> bytes:
    return hashlib.sha256(key.encode("utf-8") if isinstance(key, str) else key).digest()


def key_digests(keys: Iterable[str]) -> tuple[bytes, ...]:
    """The SHA-256 digests of ``keys``; refuses keys that are too short or hold spaces."""
    digests = []
    for number, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_CHARS or re.search(r"\s", key):
            raise ApiKeyError(f"API key number {number} is shorter than {MIN_KEY_CHARS} characters "
                              "or holds white space; use a long random key, e.g. "
                              "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        digests.append(_digest(key))
    return tuple(dict.fromkeys(digests))


def load_keys(path: str | os.PathLike[str] | None = None,
              environ: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """The digests of the keys in ``path`` (if given) and in ``MODEL_SERVICE_API_KEYS``."""
    keys: list[str] = []
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise ApiKeyError(f"cannot read the API key file {path}: {error}") from None
        keys += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not keys:
            raise ApiKeyError(f"the API key file {path} holds no key")
    variable = (os.environ if environ is None else environ).get(KEYS_VARIABLE, "")
    keys += re.split(r"[\s,]+", variable.strip()) if variable.strip() else []
    return key_digests(keys)


def key_matches(presented: str, digests: tuple[bytes, ...]) -> bool:
    """Whether ``presented`` is one of the keys, compared in constant time with each of them."""
    return matching_digest(presented, digests) is not None


def matching_digest(presented: str, digests: tuple[bytes, ...]) -> bytes | None:
    """The digest ``presented`` matches (None if none), compared in constant time with each."""
    candidate = _digest(presented)
    found = None
    for digest in digests:  # no early exit: the time does not depend on which key matched
        if hmac.compare_digest(candidate, digest):
            found = digest
    return found


def key_id_of_digest(digest: bytes) -> str:
    """The public name of the key with this digest: 16 hex digits of a SHA-256 of it."""
    return hashlib.sha256(b"api-key-id:" + digest).hexdigest()[:16]


def key_id(key: str) -> str:
    """The public name under which records (feedback labels) name ``key``; never the key."""
    return key_id_of_digest(_digest(key))


async def reject(send: Any, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    """Answer ``status`` with ``{"detail": ...}`` and close the connection."""
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *headers,
    ]})
    await send({"type": "http.response.body", "body": body})


class ApiKeyAuth:
    """ASGI middleware: every path but ``/health`` needs ``Authorization: Bearer <key>`` (else 401)."""

    def __init__(self, app: Any, digests: tuple[bytes, ...]) -> None:
        self.app = app
        self.digests = digests

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = b""
        for name, value in scope.get("headers") or ():
            if name == b"authorization":
                header = value
                break
        scheme, _, key = header.decode("latin-1").strip().partition(" ")
        digest = matching_digest(key.strip(), self.digests) if scheme.lower() == "bearer" \
            and key.strip() else None
        if digest is not None:
            scope.setdefault("state", {})[KEY_ID_STATE] = key_id_of_digest(digest)
            await self.app(scope, receive, send)
            return
        detail = ("the API key is not valid" if header else "this endpoint needs an API key") + \
            ": send the header Authorization: Bearer <key>"
        await reject(send, 401, detail, [(b"www-authenticate", b"Bearer")])


class BodySizeLimit:
    """ASGI middleware: answer 413 to a request body over ``max_bytes``, declared or streamed.

    The body is read (up to the limit) before the application sees it, so an
    oversized or chunked upload never reaches the JSON parser.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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
                await reject(send, 400, "Content-Length is not a number")
                return
            if declared_size > self.max_bytes:
                await reject(send, 413, too_large)
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
                await reject(send, 413, too_large)
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is this machine's loopback."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class LoopbackAdmin:
    """ASGI middleware for a service without API keys: the admin paths answer only loopback
    clients (403 for any other); with keys, :class:`ApiKeyAuth` already asks every caller for one."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(ADMIN_PREFIX):
            client = (scope.get("client") or ("", 0))[0]
            if not is_loopback(client):
                await reject(send, 403, "the admin endpoints answer other machines only with an "
                             "API key: start the service with --api-key-file PATH or "
                             f"{KEYS_VARIABLE}")
                return
        await self.app(scope, receive, send)


class ConcurrencyLimit:
    """ASGI middleware: at most ``limit`` requests in flight; the next gets 503 at once.

    A request counts from the moment the server hands it over (its headers read)
    until the application returns (its answer sent), exactly, in the event
    loop's thread. Paths in ``exempt`` (``/health``) are neither counted nor shed.
    """

    def __init__(self, app: Any, limit: int, exempt: frozenset[str] = OPEN_PATHS) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.app = app
        self.limit = limit
        self.exempt = exempt
        self.in_flight = 0
        self.peak = 0
        self.shed = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.shed += 1
            await reject(send, 503, f"the service is at its limit of {self.limit} requests in "
                         "flight; retry shortly", [(b"retry-after", b"1")])
            return
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def report(self) -> dict[str, int]:
        """Requests in flight now, the most at once so far, the limit and how many were shed."""
        return {"in_flight": self.in_flight, "peak_in_flight": self.peak,
                "max_concurrency": self.limit, "shed": self.shed}
