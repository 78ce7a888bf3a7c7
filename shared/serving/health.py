"""The service's own health: is the model answering, and can the prediction log be written?

``GET /health`` used to say "ok" as long as the process was up, even when
every request failed. :class:`Health` keeps, per process, the outcome of the
last requests that reached the model and the state of the last write to the
prediction log, and says ``degraded``, with the reasons, when

- at least ``max_failed_share`` of the last ``window`` requests that reached
  the model failed there (an invalid score or an exception), or
- the last write to the prediction log failed (no answer can be given then:
  answers are logged first).

A success clears what it contradicts, so the status recovers by itself.
:func:`check_url` is how ``python -m shared.monitor --health-url`` asks a
running service.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OK, DEGRADED, UNREACHABLE = "ok", "degraded", "unreachable"
#: requests remembered, and the share of them failing on the model that makes the service degraded
WINDOW = 20
MAX_FAILED_SHARE = 0.5


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Health:
    """The recent outcomes of one service process; see the module docstring."""

    window: int = WINDOW
    max_failed_share: float = MAX_FAILED_SHARE
    _outcomes: deque = field(default_factory=deque, repr=False)
    _last_model_error: str = ""
    _log_error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.window < 1 or not 0 < self.max_failed_share <= 1:
            raise ValueError("window must be at least 1 and max_failed_share in (0, 1]")
        self._outcomes = deque(maxlen=self.window)

    def scored(self, requests: int = 1) -> None:
        """``requests`` requests were scored by the model."""
        with self._lock:
            self._outcomes.extend([True] * requests)

    def model_failed(self, reason: str, requests: int = 1) -> None:
        """``requests`` requests failed in the model (invalid scores, or an exception)."""
        with self._lock:
            self._outcomes.extend([False] * requests)
            self._last_model_error = f"{_now()}: {reason}"

    def log_written(self) -> None:
        """A write to the prediction log succeeded."""
        self._log_error = ""

    def log_failed(self, reason: str) -> None:
        """A write to the prediction log failed."""
        self._log_error = f"{_now()}: {reason}"

    def reasons(self) -> list[str]:
        """Why the service is degraded (empty when it is not)."""
        with self._lock:
            outcomes = list(self._outcomes)
            last_error = self._last_model_error
        reasons = []
        failed = outcomes.count(False)
        if outcomes and failed / len(outcomes) >= self.max_failed_share:
            reasons.append(f"{failed} of the last {len(outcomes)} requests failed in the model "
                           f"(the latest at {last_error})")
        if self._log_error:
            reasons.append(f"the prediction log cannot be written (since {self._log_error})")
        return reasons

    def report(self) -> dict[str, Any]:
        """The status (``ok`` or ``degraded``), the reasons and the recent failure count."""
        reasons = self.reasons()
        with self._lock:
            outcomes = list(self._outcomes)
        return {"status": DEGRADED if reasons else OK, "reasons": reasons,
                "recent_requests": len(outcomes), "recent_model_failures": outcomes.count(False)}


def check_url(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """What a service's ``/health`` at ``url`` says; ``unreachable`` with the reason when it
    cannot be asked (refused, timed out, or an answer that is not its JSON)."""
    if not url.startswith(("http://", "https://")):
        return {"status": UNREACHABLE, "reasons": [f"{url} is not an http(s) URL"]}
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - checked
            body = response.read()
    except urllib.error.HTTPError as error:  # a degraded service answers 503 with its report
        body = error.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return {"status": UNREACHABLE, "reasons": [f"{url} cannot be reached ({reason})"]}
    try:
        report = json.loads(body)
        status = str(report["status"])
    except (ValueError, KeyError, TypeError):
        return {"status": UNREACHABLE, "reasons": [f"{url} did not answer with a health report"]}
    return {**report, "status": status, "reasons": list(report.get("reasons", []))}
