"""The watch loop: the monitor on a schedule, alerts sent to a person, retention applied.

    python -m shared monitor watch --task spam --every 10m --notify alerts.toml

Each tick monitors the last hour, day and week of the prediction log (``--span``) with the
same rules as ``python -m shared monitor``, records the fired alerts in the log, sends
what changed through the notifiers (``shared.monitoring.notify``: firing, still firing once per
cooldown, resolved), starts a retrain when drift or a live metric fires and enough labels
have come back (off by default: ``shared.monitoring.retrain_trigger``), and applies the spec's
retention (``shared.serving.retention``). A database
that is locked or briefly missing is retried within the tick, with a logged warning; a
tick that still cannot monitor raises the alert ``monitor_runs`` itself, so that a
monitor that has stopped seeing anything reaches a person too. The loop never stops on a
failed tick; SIGTERM or Ctrl-C end it between ticks.

A cron line or a systemd timer running ``python -m shared monitor`` is the alternative
(docs/operations.md); the loop adds the cooldown and the "resolved" notices, which need
the state it keeps between ticks.
"""

from __future__ import annotations

import logging
import shlex
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from shared.core import command_line, problem
from shared.core.catalog import Catalog, MissingArtifactError
from shared.monitoring import alerts, monitor, notify, retrain_trigger
from shared.monitoring.windows import DEFAULT_SPANS, parse_duration
from shared.serving import retention

logger = logging.getLogger(__name__)

#: the rule the loop raises about itself when a tick cannot monitor
MONITOR_RUNS = "monitor_runs"
MONITOR_RUNS_RULE = "the monitor runs (it could not read the log or the deployed model)"
WATCH_WINDOW = "watch loop"
#: a locked or briefly missing database is tried this many times, waiting 1, 2, 4 ... s
ATTEMPTS = 3


@dataclass
class Tick:
    """What one tick did."""

    at: datetime
    result: monitor.MonitorResult | None
    notices: list[notify.Notice] = field(default_factory=list)
    undelivered: list[notify.Notice] = field(default_factory=list)
    purged: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    retrain: str | None = None

    def summary(self) -> str:
        """One line for the loop's output."""
        at = self.at.isoformat(timespec="seconds")
        if self.error:
            return f"{at} monitor failed: {self.error}"
        fired = 0 if self.result is None else len(self.result.fired)
        purged = ", ".join(f"{n} {kind}" for kind, n in self.purged.items() if n) or "nothing"
        return (f"{at} {fired} alert(s) firing, {len(self.notices)} notice(s) sent"
                + (f" ({len(self.undelivered)} undelivered, retried next tick)"
                   if self.undelivered else "") + f"; purged {purged}"
                + (f"; {self.retrain}" if self.retrain else ""))


def _own_row(error: str | None) -> pd.DataFrame:
    fired = error is not None
    return pd.DataFrame([(WATCH_WINDOW, MONITOR_RUNS_RULE, MONITOR_RUNS, float(fired), 0.0,
                          fired, "fired" if fired else "ok")], columns=alerts.TABLE_COLUMNS)


def _monitor(cat: Catalog, spans: Sequence[str], now: datetime, health_url: str | None,
             sleep: Callable[[float], None]) -> tuple[monitor.MonitorResult | None, str | None]:
    """The monitor's result, retrying a locked or missing database; or the error."""
    error = ""
    for attempt in range(ATTEMPTS):
        try:
            return monitor.run(cat, spans=spans, now=now, health_url=health_url), None
        except (sqlite3.OperationalError, MissingArtifactError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < ATTEMPTS:
                logger.warning("monitor: %s; trying again in %d s", error, 2 ** attempt)
                sleep(2 ** attempt)
        except ValueError as exc:  # the log holds nothing of the deployed model yet
            logger.info("monitor: %s", exc)
            return None, None
    return None, error


def tick(
    cat: Catalog, spans: Sequence[str], settings: notify.Settings,
    now: datetime | None = None, health_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Tick:
    """Monitor, notify what changed, retrain if the trigger says so, apply retention: one
    tick of the loop."""
    now = now or datetime.now(UTC)
    result, error = _monitor(cat, spans, now, health_url, sleep)
    table = _own_row(error) if result is None else pd.concat(
        [result.alerts, _own_row(None)], ignore_index=True)
    version = result.model_version if result is not None else ""
    path = cat.path("alert_notifications")
    before = notify.read_state(path)
    notices, after = notify.changes(table, before, now, settings.cooldown, cat.task, version)
    undelivered = notify.deliver(notices, settings.notifiers)
    notify.write_state(path, notify.keep_for_retry(before, after, undelivered))
    retrained = settings.retrain.run(cat, notices) if settings.retrain else None
    purged: dict[str, int] = {}
    try:
        days = (result.spec if result is not None else problem.load(cat)).retention_days
        purged = retention.apply(cat, days)
    except (sqlite3.OperationalError, MissingArtifactError) as exc:
        logger.warning("retention: %s; applied on a later tick", exc)
    return Tick(now, result, notices, undelivered, purged, error, retrained)


def watch(
    cat: Catalog, every: timedelta, spans: Sequence[str], settings: notify.Settings,
    health_url: str | None = None, ticks: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Tick]:
    """Tick every ``every`` until stopped (or ``ticks`` times); return the ticks' records
    (only the last 100 are kept in a long run)."""
    done: list[Tick] = []
    count = 0
    while ticks is None or count < ticks:
        started = time.monotonic()
        done.append(tick(cat, spans, settings, health_url=health_url, sleep=sleep))
        del done[:-100]
        print(done[-1].summary(), flush=True)
        count += 1
        if ticks is not None and count >= ticks:
            break
        sleep(max(0.0, every.total_seconds() - (time.monotonic() - started)))
    return done


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m shared monitor watch``: runs until stopped; exit 2 on bad settings."""
    from shared.data.tasks import TASKS

    parser = command_line.parser("monitor watch", "Monitor the prediction log on a schedule, send "
                        "alerts to a person, apply retention.", [
        "python -m shared monitor watch --task spam --every 10m --notify alerts.toml",
        "python -m shared monitor watch --every 1h --webhook-env ALERT_WEBHOOK_URL",
        'python -m shared monitor watch --command "mail -s ml-alert oncall@example.com"',
        "python -m shared monitor watch --task spam --retrain-min-labels 50",
    ])
    command_line.add_task_and_root(parser, TASKS)
    parser.add_argument("--every", default="10m", help="time between ticks (30s, 10m, 1h ...)")
    parser.add_argument("--span", action="append", metavar="SPAN",
                        help=f"a time window to check, repeatable (default "
                             f"{' '.join(DEFAULT_SPANS)})")
    parser.add_argument("--notify", type=Path, metavar="FILE",
                        help="TOML file of notifiers and the cooldown (see shared/monitoring/notify.py)")
    parser.add_argument("--webhook-env", metavar="VAR", action="append", default=[],
                        help="POST alerts to the URL held by this environment variable")
    parser.add_argument("--command", action="append", default=[],
                        help="run this command with each alert's JSON on its standard input")
    parser.add_argument("--cooldown", help="send a firing alert again at most this often "
                        f"(default {notify.DEFAULT_COOLDOWN})")
    parser.add_argument("--retrain-min-labels", type=int, metavar="N",
                        help="retrain when drift or a live metric fires and at least N new "
                        "feedback labels have come back (default: off)")
    parser.add_argument("--health-url", metavar="URL",
                        help="also ask a running service's /health on every tick")
    parser.add_argument("--ticks", type=int, help="stop after this many ticks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        every = parse_duration(args.every)
        spans = args.span or list(DEFAULT_SPANS)
        for span in spans:
            parse_duration(span)
        settings = notify.load_settings(args.notify) if args.notify else notify.Settings()
        if args.cooldown:
            settings.cooldown = parse_duration(args.cooldown)
        if args.retrain_min_labels is not None:
            settings.retrain = retrain_trigger.from_table(
                {"min_new_labels": args.retrain_min_labels}, "--retrain-min-labels")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    settings.notifiers += [notify.Webhook(name) for name in args.webhook_env]
    settings.notifiers += [notify.Command(shlex.split(line)) for line in args.command]
    signal.signal(signal.SIGTERM, _stop)
    cat = Catalog.for_task(args.task, args.root)
    try:
        watch(cat, every, spans, settings, args.health_url, args.ticks)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0
