"""Alerts that reach a person: notifiers, and when an alert is sent again or resolved.

An alert is identified by its window and rule (``last 1d`` / ``live_recall`` ...). The first
time it fires, a "firing" notice goes out; while it keeps firing, it is sent again only once
per cooldown ("still firing"); when its rule evaluates calm again, a "resolved" notice
follows. A rule that cannot be evaluated (its window is empty, its labels have not come back)
neither fires nor resolves: nothing is known. The state lives in one JSON file
(``alert_notifications`` in the catalog), written atomically after every tick.

Notifiers:

- :class:`Webhook` POSTs JSON. The payload's ``text`` is what a Slack-compatible incoming
  webhook shows (Slack, Mattermost, Rocket.Chat and Teams' Slack-compatible connectors read
  it and ignore the rest); the ``alert`` object carries every field for a generic receiver.
  The URL is read from an environment variable, since an incoming-webhook URL is itself the
  secret; it is never printed: errors name the variable, not the URL.
- :class:`Command` runs a program with the same JSON on its standard input (a pager, a
  mailer, a script of your own).

Both are configured in a small TOML file (``--notify FILE``)::

    cooldown = "1h"                        # send a firing alert again at most this often
    [[webhook]]
    url_env = "ALERT_WEBHOOK_URL"          # the variable that holds the URL
    token_env = "ALERT_WEBHOOK_TOKEN"      # optional: sent as "Authorization: Bearer ..."
    [[command]]
    run = ["/usr/local/bin/page-oncall", "--team", "ml"]
    [retrain]                              # optional, off by default: shared.monitoring.retrain_trigger
    min_new_labels = 50
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from shared.core import storage
from shared.monitoring.retrain_trigger import RetrainConfigError, RetrainTrigger, from_table
from shared.monitoring.windows import parse_duration

logger = logging.getLogger(__name__)

DEFAULT_COOLDOWN = "1h"
FIRING, STILL_FIRING, RESOLVED = "firing", "still firing", "resolved"


class NotifyConfigError(ValueError):
    """The notification settings are wrong; the message names the file, the entry and why."""


class DeliveryError(RuntimeError):
    """A notifier could not deliver; the message says which one and why (never a secret)."""


@dataclass(frozen=True)
class Notice:
    """One message about one alert: what changed, where, and the figure against its limit."""

    task: str
    state: str
    window: str
    metric: str
    rule: str
    value: float
    threshold: float
    model_version: str
    at: str

    @property
    def text(self) -> str:
        """One line a person reads first."""
        if self.state == RESOLVED:
            return (f"[{self.task}] RESOLVED: {self.metric} in {self.window} is back within "
                    f"{self.threshold:g} ({self.value:.3f}); model {self.model_version}")
        side = "over" if self.value > self.threshold else "under"
        return (f"[{self.task}] {self.state.upper()}: {self.metric} = {self.value:.3f} "
                f"({side} {self.threshold:g}) in {self.window}: {self.rule}; "
                f"model {self.model_version}")

    @property
    def firing(self) -> bool:
        """Whether the alert is firing (first notice or a reminder), not resolved."""
        return self.state != RESOLVED

    def payload(self) -> dict[str, Any]:
        """The JSON sent: ``text`` for chat webhooks, ``alert`` with every field."""
        return {"text": self.text, "alert": asdict(self)}


class Notifier(Protocol):
    """Something that delivers a notice, or raises DeliveryError."""

    name: str

    def send(self, notice: Notice) -> None: ...


@dataclass
class Webhook:
    """POST each notice as JSON to the URL held by the environment variable ``url_env``."""

    url_env: str
    token_env: str | None = None
    timeout: float = 10.0
    attempts: int = 3
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"webhook ${self.url_env}"

    def send(self, notice: Notice) -> None:
        url = os.environ.get(self.url_env, "")
        if not url.startswith(("http://", "https://")):
            raise DeliveryError(f"{self.name}: the variable is unset or not an http(s) URL")
        headers = {"Content-Type": "application/json"}
        if self.token_env:
            headers["Authorization"] = f"Bearer {os.environ.get(self.token_env, '')}"
        body = json.dumps(notice.payload()).encode()
        problem = ""
        for _ in range(self.attempts):
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    if 200 <= answer.status < 300:
                        return
                    problem = f"HTTP {answer.status}"
            except urllib.error.HTTPError as error:
                problem = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError) as error:
                problem = type(error).__name__  # the reason may quote the URL: not shown
        raise DeliveryError(f"{self.name}: not delivered after {self.attempts} attempts "
                            f"({problem})")


@dataclass
class Command:
    """Run ``run`` (a program and its arguments) with the notice's JSON on standard input."""

    run: Sequence[str]
    timeout: float = 30.0
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"command {self.run[0]}"

    def send(self, notice: Notice) -> None:
        try:
            done = subprocess.run(list(self.run), input=json.dumps(notice.payload()), text=True,
                                  capture_output=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DeliveryError(f"{self.name}: {type(error).__name__}: {error}") from error
        if done.returncode != 0:
            raise DeliveryError(f"{self.name}: exit {done.returncode}: "
                                f"{done.stderr.strip()[:200]}")


@dataclass
class Settings:
    """The notifiers and the cooldown of a watch loop, and its retrain trigger (None: off)."""

    notifiers: list[Notifier] = field(default_factory=list)
    cooldown: timedelta = field(default_factory=lambda: parse_duration(DEFAULT_COOLDOWN))
    retrain: RetrainTrigger | None = None


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """The settings of a TOML file (module docstring); NotifyConfigError names what is wrong."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise NotifyConfigError(f"{path}: cannot read the notification settings: {error}") \
            from error
    unknown = sorted(set(raw) - {"cooldown", "webhook", "command", "retrain"})
    if unknown:
        raise NotifyConfigError(f"{path}: unknown key(s) {unknown}; use cooldown, [[webhook]], "
                                "[[command]] and [retrain]")
    settings = Settings()
    try:
        settings.cooldown = parse_duration(raw.get("cooldown", DEFAULT_COOLDOWN))
    except ValueError as error:
        raise NotifyConfigError(f"{path}: cooldown: {error}") from error
    for i, entry in enumerate(raw.get("webhook", [])):
        if not isinstance(entry, dict) or not isinstance(entry.get("url_env"), str):
            raise NotifyConfigError(f"{path}: webhook {i + 1}: give url_env, the name of the "
                                    "environment variable that holds the URL (never the URL)")
        settings.notifiers.append(Webhook(entry["url_env"], entry.get("token_env")))
    for i, entry in enumerate(raw.get("command", [])):
        run = entry.get("run") if isinstance(entry, dict) else None
        if not (isinstance(run, list) and run and all(isinstance(a, str) for a in run)):
            raise NotifyConfigError(f"{path}: command {i + 1}: give run, a list such as "
                                    '["/usr/local/bin/page-oncall", "--team", "ml"]')
        settings.notifiers.append(Command(run))
    if "retrain" in raw:
        try:
            settings.retrain = from_table(raw["retrain"], path)
        except RetrainConfigError as error:
            raise NotifyConfigError(str(error)) from error
    return settings


def _key(window: str, metric: str, rule: str) -> str:
    return f"{window} | {metric} | {rule}"


def changes(
    table: pd.DataFrame, state: Mapping[str, dict[str, Any]], now: datetime, cooldown: timedelta,
    task: str, model_version: str,
) -> tuple[list[Notice], dict[str, dict[str, Any]]]:
    """The notices an alert table calls for, and the state after sending them.

    ``table`` is the monitor's alert table (``fired`` and ``state`` per window and rule);
    ``state`` maps each firing alert to when it started and was last sent.
    """
    at = now.isoformat(timespec="seconds")
    new_state = {key: dict(value) for key, value in state.items()}
    notices = []
    for row in table.itertuples(index=False):
        key = _key(row.window, row.metric, row.rule)
        notice = Notice(task, "", row.window, row.metric, row.rule, float(row.value),
                        float(row.threshold), model_version, at)
        if row.fired:
            previous = new_state.get(key)
            if previous is None:
                notices.append(replace(notice, state=FIRING))
                new_state[key] = {"since": at, "sent": at}
            elif now - datetime.fromisoformat(previous["sent"]) >= cooldown:
                notices.append(replace(notice, state=STILL_FIRING))
                new_state[key]["sent"] = at
        elif row.state == "ok" and key in new_state:
            notices.append(replace(notice, state=RESOLVED))
            del new_state[key]
    return notices, new_state


def deliver(notices: Sequence[Notice], notifiers: Sequence[Notifier]) -> list[Notice]:
    """Send every notice through every notifier; return the notices no notifier delivered.

    A notifier that fails does not stop the others; every notice and every failure is
    logged, so the watch loop's own log holds them even when no notifier works.
    """
    undelivered = []
    for notice in notices:
        logger.warning("%s", notice.text)
        delivered = not notifiers
        for notifier in notifiers:
            try:
                notifier.send(notice)
                delivered = True
            except DeliveryError as error:
                logger.error("%s", error)
        if not delivered:
            undelivered.append(notice)
    return undelivered


def keep_for_retry(
    before: Mapping[str, dict[str, Any]], after: dict[str, dict[str, Any]],
    undelivered: Sequence[Notice],
) -> dict[str, dict[str, Any]]:
    """The state with every undelivered notice undone, so that the next tick sends it again."""
    for notice in undelivered:
        key = _key(notice.window, notice.metric, notice.rule)
        if key in before:
            after[key] = dict(before[key])
        else:
            after.pop(key, None)
    return after


def read_state(path: Path) -> dict[str, dict[str, Any]]:
    """The firing alerts recorded by the last tick (none when there is no file yet)."""
    return storage.read_json(path) if path.exists() else {}


def write_state(path: Path, state: Mapping[str, dict[str, Any]]) -> None:
    """Record the firing alerts, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    storage.write_json(path, dict(state))
