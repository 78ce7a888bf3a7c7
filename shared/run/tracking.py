"""Run history in MLflow: one parent run per pipeline run, one child run per stage.

The runner's process writes it, from each stage's declared outputs (``shared.run.run_facts``);
the seven notebook kernels never import MLflow, nor do the service, the batch command and the
monitor. By default the history is embedded under the run's root: a SQLite store,
``mlruns/mlflow.db``, and the files in ``mlruns/artifacts/<task>/`` (git ignores ``mlruns/``).
``--tracking-uri`` or ``MLFLOW_TRACKING_URI`` sends the same records to a team's server.

What a run records:

- the parent run: the stage-1 spec, every notebook parameter and ``-p`` override, the data set,
  its fingerprint and the engine (params); git commit and dirty flag, the lock's SHA-256, the
  task, the release and what the run did with each stage (tags); stage times and the results of
  the stages it ran (metrics);
- a child run per stage: what the stage wrote (``run_facts``), its time, its HTML page, its
  figures and its JSON outputs; stage 6's child holds the released model files (skops) and their
  manifest. Models are never saved through MLflow's own flavours, which pickle.
- A stage skipped as up to date gets a child run tagged ``action=skipped`` and
  ``produced_by=<run id>``: the run that wrote what it would have written.

MLflow's import and the store's opening (about 2 s of CPU) happen in a background thread that
starts with the run, and every record is written in that thread while the next stage runs; the
runner waits only at the end. Tracking never breaks a run: its first failure prints one warning
(the URI without its password) and the run goes on without history.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from shared.core import catalog, storage
from shared.core.catalog import PROJECT_DIR, TRACKING_FOLDER, Catalog, Stage
from shared.core.manifest import Manifest
from shared.core.records import RecordError
from shared.run import run_facts
from shared.run.html_reports import html_path
from shared.run.run_record import RunRecord, StageRecord

#: the runs of task T go to experiment "ml-workflow-T"
EXPERIMENT_PREFIX = "ml-workflow-"
#: how much lower than the runner's the tracking thread's priority is (os.setpriority)
BACKGROUND_NICENESS = 10
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
    """``uri`` as messages show it: without a user name or password."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


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
            database.parent.mkdir(parents=True, exist_ok=True)
            storage.write_bytes(database, _empty_store())
    return MlflowClient(tracking_uri=uri)


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


def experiment_id(mlflow_client: Any, uri: str, task: str, root: Path) -> str:
    """The task's experiment, created on first use (embedded: files under the run's root)."""
    name = experiment_name(task)
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(root) / TRACKING_FOLDER / "artifacts" / task).resolve().as_uri()
    return mlflow_client.create_experiment(name, artifact_location=location)


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
    #: the runner's wait on tracking, in seconds (the calls ran beside the stages)
    waited_seconds: float = 0.0
    #: the CPU time the tracking thread used, in seconds (imports included)
    cpu_seconds: float = 0.0


class Tracker:
    """Records one pipeline run, in a background thread; see the module's docstring.

    The runner calls :meth:`stage` after each stage and :meth:`finish` once; both return at
    once except ``finish``, which waits for the records to be written.
    """

    def __init__(self, uri: str, cat: Catalog, dataset: str, parameters: dict[str, Any],
                 overrides: dict[str, Any], warn: Callable[[str], None] | None = None) -> None:
        self.uri, self.cat, self.dataset = uri, cat, dataset
        self._warn = warn or (lambda message: print(message, file=sys.stderr))
        self._failed = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-history")
        self._ran: dict[str, Stage] = {}
        self._actions: dict[str, str] = {}
        self.client: Any = None
        #: stage key -> the child run that produced what this run found up to date
        self.produced_by: dict[str, str] = {}
        self.experiment = ""
        started = datetime.now(UTC)
        self._started_ms = int(started.timestamp() * 1000)
        self.run = TrackedRun("", f"{cat.task} {started:%Y-%m-%d %H:%M:%S}", shown_uri(uri))
        self._submit(self._start, parameters, overrides)

    # -- what the runner calls ---------------------------------------------------------
    def stage(self, stage: Stage, action: str, seconds: float | None = None,
              produced_by: str = "") -> None:
        """Record what the run did with ``stage``: "ran", "skipped" or "failed"."""
        self._actions[stage.key] = action
        if action == "skipped" and produced_by:
            self.produced_by[stage.key] = produced_by
        ended_ms = int(time.time() * 1000)
        started_ms = ended_ms - int((seconds or 0) * 1000)
        self._submit(self._stage, stage, action, seconds, produced_by, started_ms, ended_ms)

    def finish(self, status: str = "FINISHED") -> TrackedRun | None:
        """Write the files and the run's totals, close the runs; None when tracking failed."""
        started = time.perf_counter()
        self._submit(self._finish, status)
        self._pool.shutdown(wait=True)
        self.run.waited_seconds = time.perf_counter() - started
        return None if self._failed else self.run

    # -- the background thread ---------------------------------------------------------
    def _submit(self, call: Callable[..., None], *args: Any) -> None:
        self._pool.submit(self._guarded, call, *args)

    def _guarded(self, call: Callable[..., None], *args: Any) -> None:
        if self._failed:
            return
        started = time.thread_time()
        try:
            call(*args)
        except Exception as error:  # noqa: BLE001 (tracking must never break a run)
            self._failed = True
            reason = without_credentials(str(error).splitlines()[0][:300] if str(error) else "")
            self._warn(f"warning: the run history could not be written to "
                       f"{shown_uri(self.uri)} ({type(error).__name__}: {reason}); the run goes "
                       "on without it")
        finally:
            self.run.cpu_seconds += time.thread_time() - started

    def _start(self, parameters: dict[str, Any], overrides: dict[str, Any]) -> None:
        # this thread only (Linux: a thread is a task with its own niceness): the kernels, on
        # the run's critical path, get the cores first; tracking uses the idle time
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
        self.client = client(self.uri)
        self.experiment = experiment_id(self.client, self.uri, self.cat.task, self.cat.root)
        tags = {"mlflow.runName": self.run.name, "kind": PIPELINE, "task": self.cat.task,
                "dataset": self.dataset, **code_tags()}
        self.run.run_id = self.client.create_run(self.experiment, start_time=self._started_ms,
                                                 tags=tags).info.run_id
        params = {"dataset": self.dataset}
        for notebook_parameters in parameters.values():
            for name, value in notebook_parameters.items():
                if name != "project_dir":  # the root folder: where, not what
                    params[f"parameter.{name}"] = run_facts.param_value(value)
        params.update({f"override.{n}": run_facts.param_value(v) for n, v in overrides.items()})
        self._log(self.run.run_id, params=params)

    def _stage(self, stage: Stage, action: str, seconds: float | None, produced_by: str,
               started_ms: int, ended_ms: int) -> None:
        tags = {"mlflow.runName": f"{stage.key} {stage.title}", "mlflow.parentRunId":
                self.run.run_id, "kind": STAGE, "stage": stage.key, "action": action}
        if action == "skipped":
            tags["produced_by"] = produced_by or "unknown (an untracked run)"
        run_id = self.client.create_run(self.experiment, start_time=started_ms,
                                        tags=tags).info.run_id
        facts = run_facts.stage_facts(self.cat, stage) if action == "ran" else run_facts.Facts()
        if seconds is not None:
            facts.metrics["seconds"] = seconds
        self._log(run_id, facts.params, facts.metrics, facts.tags)
        if action == "failed":
            failed = self.cat.reports_dir / f"FAILED_{stage.notebook}"
            if failed.is_file():
                self.client.log_artifact(run_id, str(failed), "reports")
        if action == "ran":
            self.run.stage_runs[stage.key] = run_id
            self._ran[stage.key] = stage
        self.client.set_terminated(run_id, "FAILED" if action == "failed" else "FINISHED",
                                   end_time=ended_ms)

    def _finish(self, status: str) -> None:
        parent = run_facts.Facts(tags={f"stage_{k}": a for k, a in self._actions.items()})
        parent.tags["incremental"] = str("skipped" in self._actions.values()).lower()
        for key in ("01", "02"):  # what the run used, also when it found them current
            if self._actions.get(key) in ("ran", "skipped"):
                parent.params.update(run_facts.stage_facts(self.cat, catalog.stage(key)).params)
        for key, stage in self._ran.items():
            facts = run_facts.stage_facts(self.cat, stage)
            parent.metrics.update({name: value for name, value in facts.metrics.items()
                                   if stage.number in (4, 5, 6)})
            parent.tags.update(facts.tags)
            self._files(self.run.stage_runs[key], stage, facts)
        self._log(self.run.run_id, parent.params, parent.metrics, parent.tags)
        self.client.set_terminated(self.run.run_id, status)

    def _files(self, run_id: str, stage: Stage, facts: run_facts.Facts) -> None:
        page = html_path(self.cat, stage.notebook)
        facts.add_file("reports", page)
        with tempfile.TemporaryDirectory() as folder:
            for figure in run_facts.figures(self.cat.reports_dir / stage.notebook, Path(folder)):
                facts.add_file("figures", figure)
            for target, paths in facts.files.items():
                for path in paths:
                    self.client.log_artifact(run_id, str(path), target)

    def _log(self, run_id: str, params: dict[str, str] | None = None,
             metrics: dict[str, float] | None = None, tags: dict[str, str] | None = None) -> None:
        from mlflow.entities import Metric, Param, RunTag

        stamp = int(time.time() * 1000)
        params = [Param(k, v) for k, v in (params or {}).items()]
        metrics = [Metric(k, float(v), stamp, 0) for k, v in (metrics or {}).items()]
        tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        for start in range(0, max(len(params), len(metrics), len(tags), 1), 100):
            self.client.log_batch(run_id, metrics=metrics[start:start + 100],
                                   params=params[start:start + 100], tags=tags[start:start + 100])



def link(cat: Catalog, record: RunRecord, tracked: TrackedRun) -> RunRecord:
    """Name the tracked run in what it produced: each stage it ran, in the run record (so
    that a later run that skips the stage links to it), and the release stage 6 made, in
    ``models/<task>/releases/runs.json`` (``python -m shared release list`` shows it)."""
    for key, run_id in tracked.stage_runs.items():
        if key in record.stages:
            record = record.with_stage(catalog.stage(key), StageRecord.from_dict(
                {**record.stages[key].to_dict(), "tracking_run": run_id}))
    if "06" in tracked.stage_runs:
        try:
            release = Manifest.load(cat).release
        except (FileNotFoundError, RecordError, KeyError, ValueError):
            release = ""
        if release:
            path = cat.path("release_runs")
            links = storage.read_json(path) if path.is_file() else {}
            links[release] = {"run_id": tracked.run_id, "run_name": tracked.name,
                              "tracking_uri": tracked.uri}
            storage.write_json(path, links)
    return record
