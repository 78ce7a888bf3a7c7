"""Talking to the service from Python: a minimal HTTP client, and every kind of bad request.

:class:`Client` speaks to one running service (standard library only), sending its
API key; :func:`bad_requests` is one example of every kind of request the service
must refuse, and :func:`try_bad_requests` sends them all. Stage 6 shows them on the
service it starts in a thread (``shared.serving.local_service``), the tests on the real
command too (``tests/service_harness.py``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
from dataclasses import dataclass, field
from typing import Any


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
