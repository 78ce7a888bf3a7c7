"""Run history in MLflow: one parent run per pipeline run, one child run per stage.

The runner writes it, through a recorder process of its own (``shared.run.recorder``), from
each stage's declared outputs (``shared.run.run_facts``); neither the runner's process nor the
seven notebook kernels import MLflow, nor do the service, the batch command and the monitor.
By default the history is embedded under the run's root: a SQLite store, ``mlruns/mlflow.db``,
and the files in ``mlruns/artifacts/<task>/`` (git ignores ``mlruns/``).
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` sends the same records to a team's server.

What a run records:

- the parent run: the stage-1 spec, every notebook parameter (defaults included) and ``-p``
  override, the data set, its fingerprint and the engine (params); git commit and dirty flag,
  the lock's SHA-256, the task, the release and what the run did with each stage (tags); the
  times and results of the stages it ran (metrics);
- a child run per stage: what the stage wrote (``run_facts``), its time, its HTML page, its
  figures and its JSON outputs; stage 6's child holds the released model files (skops) and their
  manifest. Models are never saved through MLflow's own flavours, which pickle.
- A stage skipped as up to date gets a child run tagged ``action=skipped`` and
  ``produced_by=<run id>``: the run that wrote what it would have written.

MLflow's import and the store's opening (about 2 s of CPU) happen in the recorder, started at a
lower priority once stage 4 is done (``START_AFTER_STAGE``), and every record is written there
while the next stages run; the runner waits only at the end. Tracking never breaks a run: its
first failure prints one warning (the URI without its password) and the run goes on without
history.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.core import catalog, storage
from shared.core.catalog import PROJECT_DIR, TRACKING_FOLDER, Catalog, Stage
from shared.run.run_record import RunRecord, StageRecord

#: the runs of task T go to experiment "ml-workflow-T"
EXPERIMENT_PREFIX = "ml-workflow-"
#: the recorder starts once the runner reports this stage (or a later one), or at the end: on
#: this 2-core machine stages 1-4 keep both cores busy (stage 4's search most of all) and
#: stages 5-7 leave one idle for the recorder's 2-3 s of CPU (a profile of /proc/stat during
#: the default run: 2.0 cores busy up to stage 4's end, 0.6-1.1 after it)
START_AFTER_STAGE = 4
#: the longest the runner waits for the recorder at the end of a run (a store that does not
#: answer fails each call within MLFLOW_HTTP_REQUEST_TIMEOUT, 10 s, with no retry), and at the
#: end of a run the user stopped
FINISH_TIMEOUT_SECONDS, KILLED_TIMEOUT_SECONDS = 120, 10
#: parent runs carry kind=pipeline, stage runs kind=stage (what ``runs`` lists and links)
PIPELINE, STAGE = "pipeline", "stage"


def experiment_name(task: str) -> str:
    """The MLflow experiment that holds every run of ``task``."""
    return f"{EXPERIMENT_PREFIX}{task}"


def embedded_uri(root: Path) -> str:
    """The default store: SQLite in ``<root>/mlruns/mlflow.db``."""
    return f"sqlite:///{(Path(root) / TRACKING_FOLDER / 'mlflow.db').resolve()}"


def resolve_uri(root: Path, explicit: str | None = None) -> str:
    """The store a run writes to: ``explicit``, else ``MLFLOW_TRACKING_URI``, else embedded."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or embedded_uri(root)


def without_credentials(text: str) -> str:
    """``text`` with every ``scheme://user:password@`` reduced to ``scheme://``: MLflow's own
    errors repeat the URL they failed on, password included."""
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1", text)


def shown_uri(uri: str) -> str:
    """``uri`` as messages show it: without a user name, a password or a query string (which
    may hold a token)."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None and not parts.query:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def add_options(parser: argparse.ArgumentParser) -> None:
    """The run-history options of the commands that run the stages (run, retrain)."""
    options = parser.add_mutually_exclusive_group()
    options.add_argument("--tracking-uri", help="the MLflow store that records the run "
                                                "(default: MLFLOW_TRACKING_URI, else mlruns/ "
                                                "under --root)")
    options.add_argument("--no-tracking", action="store_true",
                         help="record the run in no run history")


def uri_from(args: argparse.Namespace, root: Path) -> str | None:
    """The store :func:`add_options`' arguments choose; None for ``--no-tracking``."""
    return None if args.no_tracking else resolve_uri(root, args.tracking_uri)


def client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri``, MLflow quiet: no telemetry, no INFO lines, and a
    server that does not answer fails in seconds, not after minutes of retries."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    from mlflow.tracking import MlflowClient  # here only: 1.2 s to import

    for name in ("mlflow", "alembic"):  # after the import, which sets MLflow's own level
        logging.getLogger(name).setLevel(logging.WARNING)
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        if not database.exists():
            _create_store(database)
    return MlflowClient(tracking_uri=uri)


def _create_store(database: Path) -> None:
    """Put an empty store at ``database`` unless one is there: linked into place, which fails
    when another run (of the other task, say) created it first, whose records then stay."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=database.parent, prefix=".empty-store-",
                                     delete=False) as temporary:
        temporary.write(_empty_store())
    try:
        os.link(temporary.name, database)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary.name)


def _empty_store() -> bytes:
    """An empty SQLite store at the schema of the installed MLflow. MLflow makes one by running
    its whole migration history (1.9 s); it is made once per MLflow version and kept in the
    user's cache, and a new store starts as a copy of it."""
    from importlib import metadata

    def build() -> tuple[bytes, bytes]:
        from mlflow.tracking import MlflowClient

        with tempfile.TemporaryDirectory() as folder:
            database = Path(folder) / "empty.db"
            MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()
            data = database.read_bytes()
        return data, data

    return storage.user_cached(
        f"mlflow-{metadata.version('mlflow')}-empty-store.sqlite",
        lambda data: data if data.startswith(b"SQLite format 3\x00") else None, build)


def experiment_id(mlflow_client: Any, uri: str, cat: Catalog) -> str:
    """The task's experiment, created on first use (embedded: files under the run's root)."""
    name = experiment_name(cat.task)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = cat.tracked_files_dir.resolve().as_uri()
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.create_experiment(name, artifact_location=location)
    except MlflowException:  # created meanwhile by a run beside this one
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(PROJECT_DIR), *args], capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def code_tags() -> dict[str, str]:
    """Which code ran: git commit and dirty flag, and the lock's SHA-256."""
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no") if commit else ""
    lock = PROJECT_DIR / "requirements.lock"
    return {"git_commit": commit or "unknown (not a git checkout)",
            "git_dirty": str(bool(dirty)).lower() if commit else "unknown",
            "lock_sha256": storage.sha256_file(lock) if lock.is_file() else "unknown"}


@dataclass
class TrackedRun:
    """What the history holds of one pipeline run once it is written."""

    run_id: str
    name: str
    uri: str
    #: stage key -> its child run's id, for the stages this run ran
    stage_runs: dict[str, str] = field(default_factory=dict)
    #: the runner's wait for the recorder at the end, in seconds
    waited_seconds: float = 0.0
    #: the CPU time the recorder process used, in seconds (MLflow's import included)
    cpu_seconds: float = 0.0
    #: where the run stands among earlier ones (``shared.run.history.standing``)
    standing: dict[str, Any] | None = None
    #: the release stage 6 made in this run, "" when it made none
    release: str = ""


class Tracker:
    """Records one pipeline run through a recorder process (``shared.run.recorder``); see the
    module's docstring.

    The runner calls :meth:`stage` after each stage and :meth:`finish` once; ``stage``
    returns at once, ``finish`` waits for the records to be written (at most
    ``FINISH_TIMEOUT_SECONDS``).
    """

    def __init__(self, uri: str, cat: Catalog, dataset: str, parameters: dict[str, Any],
                 overrides: dict[str, Any], warn: Callable[[str], None] | None = None) -> None:
        self._warn = warn or (lambda message: print(message, file=sys.stderr))
        started = datetime.now(UTC)
        self.run = TrackedRun("", f"{cat.task} {started:%Y-%m-%d %H:%M:%S}", shown_uri(uri))
        self._process: subprocess.Popen | None = None
        self._errors: Any = None
        self._failure = ""
        self._waiting: list[dict[str, Any]] = [{"start": {
            "uri": uri, "root": str(cat.root), "task": cat.task, "dataset": dataset,
            "name": self.run.name, "started_ms": int(started.timestamp() * 1000),
            "parameters": parameters, "overrides": overrides}}]

    def stage(self, stage: Stage, action: str, seconds: float | None = None,
              produced_by: str = "", produced_in: str = "") -> None:
        """Record what the run did with ``stage``: "ran", "skipped" or "failed". A skipped
        stage links to ``produced_by``, the run that wrote its outputs, when that run is in
        this store (``produced_in``, as :func:`shown_uri` shows it)."""
        if produced_in != self.run.uri:
            produced_by = ""
        ended_ms = int(time.time() * 1000)
        self._send({"stage": {"key": stage.key, "action": action, "seconds": seconds,
                              "produced_by": produced_by, "ended_ms": ended_ms,
                              "started_ms": ended_ms - int((seconds or 0) * 1000)}})
        if stage.number >= START_AFTER_STAGE:
            self._start()

    def finish(self, status: str = "FINISHED") -> TrackedRun | None:
        """Close the run and wait for the recorder; None (after one warning) when it failed."""
        started = time.perf_counter()
        if status == "KILLED" and self._process is None:
            # stopped by the user before the recorder started: not worth a wait for MLflow
            self._warn("run history: the run was stopped before it was recorded")
            return None
        self._start()
        answer = self._answer(status)
        self.run.waited_seconds = time.perf_counter() - started
        if answer is not None and answer.get("warning"):
            self._failure = answer["warning"]
        if self._failure:
            self._warn(f"warning: the run history could not be written to {self.run.uri} "
                       f"({self._failure}); the run goes on without it")
            return None
        self.run.run_id, self.run.stage_runs = answer["run_id"], answer["stage_runs"]
        self.run.cpu_seconds, self.run.standing = answer["cpu_seconds"], answer["standing"]
        self.run.release = answer["release"]
        return self.run

    def _start(self) -> None:
        """Start the recorder, once, and send it the events it missed."""
        if self._process is not None or self._failure:
            return
        # its own session: a Ctrl-C meant for the run does not kill the recorder, which then
        # closes the run as KILLED; what it prints on stderr goes to a file read at the end
        self._errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in _answer)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "shared.run.recorder"], cwd=PROJECT_DIR, text=True,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                start_new_session=True)
        except OSError as error:
            self._failure = f"the recorder process did not start: {error}"
            return
        waiting, self._waiting = self._waiting, []
        for event in waiting:
            self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        if self._process is None:
            self._waiting.append(event)
            return
        if self._failure:
            return
        try:
            self._process.stdin.write(json.dumps(event, default=str) + "\n")
            self._process.stdin.flush()
        except OSError:  # the recorder has exited: finish says why
            pass

    def _answer(self, status: str) -> dict[str, Any] | None:
        if self._process is None:
            return None
        timeout = FINISH_TIMEOUT_SECONDS if status != "KILLED" else KILLED_TIMEOUT_SECONDS
        try:
            out, _ = self._process.communicate(json.dumps({"finish": status}) + "\n",
                                               timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            self._failure = f"the recorder took more than {timeout} s"
            return None
        except OSError:
            out = ""
        self._errors.seek(0)
        err = self._errors.read()
        self._errors.close()
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):
            tail = without_credentials(err.strip().splitlines()[-1] if err.strip() else "")
            self._failure = (f"the recorder process exited with code {self._process.returncode}"
                             + (f": {tail}" if tail else ""))
            return None


def link(cat: Catalog, record: RunRecord, tracked: TrackedRun) -> RunRecord:
    """Name the tracked run in what it produced: each stage it ran, in the run record (so
    that a later run that skips the stage links to it), and the release stage 6 made, in
    ``models/<task>/releases/runs.json`` (``python -m shared release list`` shows it)."""
    for key, run_id in tracked.stage_runs.items():
        if key in record.stages:
            record = record.with_stage(catalog.stage(key), StageRecord.from_dict(
                {**record.stages[key].to_dict(), "tracking_run": run_id,
                 "tracking_store": tracked.uri}))
    if tracked.release:
        path = cat.path("release_runs")
        links = storage.read_json(path) if path.is_file() else {}
        links[tracked.release] = {"run_id": tracked.run_id, "run_name": tracked.name,
                                  "tracking_uri": tracked.uri}
        storage.write_json(path, links)
    return record
