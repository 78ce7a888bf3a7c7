"""The monitor command: windows of recent predictions against the reference, and alerts.

    python -m shared.monitor --task sentiment                  # the newest window of 50
    python -m shared.monitor --task spam --windows 4 --window-size 100
    python -m shared.monitor --task sentiment --batch 3f2a...  # one logged batch
    python -m shared.monitor --task sentiment --health-url http://127.0.0.1:8000/health

It reads the prediction log, cuts the deployed model's predictions into
windows counted back from the newest, compares each window with the test-split
reference, prints the figures and the alert table, records every alert that
fired in the log's ``alerts`` table, and exits 1 when any alert fired (0 when
none did, 2 when it could not run), so it can run from cron or CI. The log
shows the model's failures too: rows logged with an error count in
``invalid_scores`` (and ``scoring_errors``). With ``--health-url`` it also asks
the running service, and the rule ``service_health`` fires when its
``/health`` says ``degraded`` (the recent requests fail, or the log cannot be
written) or does not answer: a failure the log itself may not hold.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from shared.core import command_line
from shared.core.catalog import Catalog, MissingArtifactError
from shared.core.manifest import LibraryVersionWarning, ManifestMismatchError, check_libraries
from shared.core.modelfile import UntrustedModelError
from shared.core.problem import ProblemSpec
from shared.monitoring import alerts, drift
from shared.monitoring.windows import split_windows, time_windows, window_name
from shared.serving import health, prediction_log
from shared.serving.predictor import Predictor

DEFAULT_WINDOW_SIZE = 50
DEFAULT_WINDOWS = 1

#: report figures shown by the command, in this order
SHOWN = (
    "count", "mean_confidence", "low_confidence_share", "confidence_psi",
    "confidence_ks_pvalue", "label_shift", "median_length", "length_ks_pvalue",
    "unknown_word_share", "domain_auc", "invalid_scores", "scoring_errors", "latency_p95_ms",
    "model_age_days",
    "feedback_count", "live_accuracy", "live_f1", "live_recall", "live_false_positive_rate",
)


@dataclass
class MonitorResult:
    """What one run of the monitor found."""

    reports: pd.DataFrame
    alerts: pd.DataFrame
    recorded: int
    #: what the service's /health said (``shared.serving.health.check_url``), when it was asked
    health: dict | None = None
    #: the deployed model's version and problem spec, which the windows were judged by
    model_version: str = ""
    spec: ProblemSpec | None = None
    #: libraries whose running version differs from the manifest's ("numpy 2.4.6 at
    #: deployment, 2.5.0 now")
    library_changes: list[str] | None = None

    @property
    def fired(self) -> pd.DataFrame:
        """The rows of the alert table whose rule fired."""
        return self.alerts[self.alerts["fired"]]


def run(
    cat: Catalog, window_size: int = DEFAULT_WINDOW_SIZE, windows: int | None = DEFAULT_WINDOWS,
    batches: list[str] | None = None, log_path: str | os.PathLike[str] | None = None,
    all_versions: bool = False, record: bool = True, health_url: str | None = None,
    spans: Sequence[str] | None = None, now: datetime | None = None,
) -> MonitorResult:
    """Monitor the newest ``windows`` windows (or the given batches, or the time ``spans``
    such as ``("1h", "1d")`` up to ``now``) of the prediction log.

    Only predictions of the deployed model version are used unless
    ``all_versions``. ``health_url`` (a service's ``/health``) adds the
    ``service_health`` rule. A time window with no prediction is left out (a quiet hour is
    no alarm). Raises MissingArtifactError when there is no log or no deployed model,
    ValueError when the log holds nothing to monitor.
    """
    predictor = Predictor.from_deployed(cat.deployed_dir)
    spec = predictor.spec
    log_path = Path(log_path) if log_path else cat.path("prediction_log")
    if not log_path.exists():
        raise MissingArtifactError(
            f"{cat.relative(log_path)} does not exist: nothing has been predicted yet. It is "
            "written by the service, the batch command and stage 7 (07_monitoring)."
        )
    log = prediction_log.read(log_path, batch_id=batches, with_feedback=True)
    if not all_versions:
        log = log[log["model_version"] == predictor.model_version]
    if log.empty:
        raise ValueError(
            f"{log_path.name} holds no predictions of model {predictor.model_version}"
            + (" in the given batches" if batches else "")
            + "; nothing to monitor"
        )
    labelled = None
    if batches:
        named = {f"batch {b[:12]}": log[log["batch_id"] == b] for b in batches}
        named = {name: frame for name, frame in named.items() if not frame.empty}
    elif spans:
        delay = timedelta(hours=spec.label_delay_hours)
        found = [w for w in time_windows(log, spans, now or datetime.now(UTC), delay)
                 if not w.predictions.empty]
        named = {w.name: w.predictions for w in found}
        labelled = {w.name: w.labelled for w in found}
    else:
        named = {window_name(w): w for w in split_windows(log, window_size, windows)}
    reference = drift.load_reference(cat, predictor.model, spec)
    reports, table = alerts.monitor(named, reference, spec, predictor.model, predictor.manifest,
                                    labelled)
    with warnings.catch_warnings():  # the alert table says it; no second warning
        warnings.simplefilter("ignore", LibraryVersionWarning)
        changed = check_libraries(predictor.manifest.libraries)
    table = pd.concat([table, alerts.library_alerts(changed)], ignore_index=True)
    service = health.check_url(health_url) if health_url else None
    if service is not None:
        table = pd.concat([table, alerts.health_alerts(service, health_url)], ignore_index=True)
    recorded = alerts.record(log_path, table, predictor.model_version) if record else 0
    cat.write("monitoring_windows", reports.reset_index())
    cat.write("monitoring_alerts", table)
    return MonitorResult(reports, table, recorded, service, predictor.model_version, spec,
                         changed)


def format_report(result: MonitorResult) -> str:
    """The windows' figures and the alert table as text."""
    shown = [c for c in SHOWN if c in result.reports.columns]
    figures = result.reports[shown].T.astype(float).round(3)
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.max_colwidth", 70):
        lines = ["Windows (columns) against the test-split reference:", figures.to_string(), ""]
        table = result.alerts.assign(value=result.alerts["value"].round(4))
        lines += ["Alert rules:", table.to_string(index=False), ""]
    if result.health is not None:
        lines.append(f"Service health: {result.health['status']}"
                     + "".join(f"\n  - {reason}" for reason in result.health["reasons"]))
        lines.append("")
    if result.library_changes:
        lines += ["Libraries changed since deployment:",
                  *(f"  - {change}" for change in result.library_changes), ""]
    if result.fired.empty:
        lines.append("OK: no alert fired.")
    else:
        for window, group in result.fired.groupby("window", sort=False):
            lines.append(f"ALERT in {window}: " + "; ".join(
                f"{r.metric} = {r.value:.3f} ({'over' if r.value > r.threshold else 'under'} "
                f"{r.threshold:g})" for r in group.itertuples()))
        windows = result.fired["window"].nunique()
        where = ("recorded in the prediction log" if result.recorded
                 else "not recorded (--no-record)")
        lines.append(f"{len(result.fired)} alert(s) fired in {windows} window(s); {where}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.monitor``: exit 1 when an alert fired, 0 when none, 2 on error;
    ``python -m shared.monitor watch ...`` runs the watch loop (``shared.monitoring.watch``)."""
    from shared.data.tasks import TASKS

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["watch"]:
        from shared.monitoring import watch

        return watch.main(args[1:])

    parser = command_line.parser("monitor", "Compare recent predictions with the reference; exit 1 on "
                        "any alert.", [
        "python -m shared monitor                              # the newest windows of the log",
        "python -m shared monitor --task spam --health-url http://127.0.0.1:8000/health",
        "python -m shared monitor --span 1h --span 1d         # time windows",
        "python -m shared monitor watch --every 10m --notify alerts.toml   # the loop",
    ])
    command_line.add_task_and_root(parser, TASKS)
    parser.add_argument("--window-size", type=int, default=DEFAULT_WINDOW_SIZE,
                        help=f"predictions per window (default {DEFAULT_WINDOW_SIZE})")
    parser.add_argument("--windows", type=int, default=DEFAULT_WINDOWS,
                        help="how many of the newest windows to check (default 1)")
    parser.add_argument("--span", action="append", metavar="SPAN",
                        help="check the last SPAN (1h, 1d, 7d ...) instead, repeatable")
    parser.add_argument("--batch", action="append", metavar="BATCH_ID",
                        help="check these logged batches instead (repeatable)")
    parser.add_argument("--log", type=Path, help="prediction log (default: models/<task>/"
                        "predictions.sqlite)")
    parser.add_argument("--all-versions", action="store_true",
                        help="include predictions of earlier model versions")
    parser.add_argument("--health-url", metavar="URL",
                        help="also ask a running service (e.g. http://127.0.0.1:8000/health); "
                        "the rule service_health fires unless it says ok")
    parser.add_argument("--no-record", action="store_true",
                        help="do not record fired alerts in the log")
    args = parser.parse_args(args)
    if args.window_size < 1 or args.windows < 1:
        parser.error("--window-size and --windows must be at least 1")
    cat = Catalog.for_task(args.task, args.root)
    try:
        result = run(cat, args.window_size, args.windows, args.batch, args.log,
                     args.all_versions, not args.no_record, args.health_url, args.span)
    except (MissingArtifactError, ManifestMismatchError, UntrustedModelError,
            ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(result))
    return 1 if not result.fired.empty else 0


if __name__ == "__main__":
    sys.exit(main())
