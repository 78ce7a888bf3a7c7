"""The process that writes one run's history to MLflow (``python -m shared.run.recorder``).

The runner starts it at the beginning of a run (``shared.run.tracking.Tracker``) and sends it
one JSON line per event: ``start``, then a ``stage`` per stage, then ``finish``. It answers once,
after ``finish`` or when its input ends, with one JSON line: the run's ids, the CPU it used,
where the run stands among earlier ones, and the warning to show if something failed. It
never prints anything else.

A process of its own, at a lower priority, rather than a thread of the runner: MLflow's import
(about 2 s of CPU) and its calls then use the machine's idle time and never hold the runner's
interpreter lock while a notebook's messages wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from shared.core import catalog
from shared.core.catalog import Catalog, Stage
from shared.run import history, run_facts, tracking
from shared.run.html_reports import html_path

#: how much lower than the runner's the recorder's priority is (os.nice)
BACKGROUND_NICENESS = 10


class Recorder:
    """Writes one pipeline run: a parent run, then a child run per stage, then the totals."""

    def __init__(self, uri: str, root: str, task: str, dataset: str, name: str,
                 started_ms: int) -> None:
        self.dataset = dataset
        self.cat = Catalog.for_task(task, Path(root))
        self.client = tracking.client(uri)
        self.experiment = tracking.experiment_id(self.client, uri, self.cat)
        tags = {"mlflow.runName": name, "kind": tracking.PIPELINE, "task": task,
                "dataset": dataset, **tracking.code_tags()}
        self.run_id = self.client.create_run(self.experiment, start_time=started_ms,
                                             tags=tags).info.run_id
        self.stage_runs: dict[str, str] = {}
        #: what each stage that ran wrote, read once, when the runner reported it
        self.facts: dict[str, run_facts.Facts] = {}
        self.actions: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.produced_by: dict[str, str] = {}
        #: the release stage 6 made in this run ("" when it made none), once finished
        self.release = ""
        self.open_runs = [self.run_id]  # closed as FAILED if recording breaks midway

    def start(self, parameters: dict[str, dict[str, Any]], overrides: dict[str, Any]) -> None:
        """The run's parameters: every notebook parameter and every override."""
        params = {"dataset": self.dataset}
        for notebook_parameters in parameters.values():
            for name, value in notebook_parameters.items():
                if name != "project_dir":  # the root folder: where, not what
                    params[f"parameter.{name}"] = run_facts.param_value(value)
        params.update({f"override.{n}": run_facts.param_value(v) for n, v in overrides.items()})
        self._log(self.run_id, params=params)

    def stage(self, key: str, action: str, seconds: float | None, produced_by: str,
              started_ms: int, ended_ms: int) -> None:
        """A child run for what the run did with stage ``key``: "ran", "skipped" or "failed"."""
        stage = catalog.stage(key)
        self.actions[key] = action
        tags = {"mlflow.runName": f"{key} {stage.title}", "mlflow.parentRunId": self.run_id,
                "kind": tracking.STAGE, "stage": key, "action": action}
        if action == "skipped":
            tags["produced_by"] = produced_by or "unknown (an untracked run)"
            if produced_by:
                self.produced_by[key] = produced_by
        run_id = self.client.create_run(self.experiment, start_time=started_ms,
                                        tags=tags).info.run_id
        self.open_runs.append(run_id)
        facts = run_facts.stage_facts(self.cat, stage) if action == "ran" else run_facts.Facts()
        if action == "ran":
            self.facts[key] = facts
            if seconds is not None:
                self.seconds[key] = seconds
        metrics = facts.metrics if seconds is None else {**facts.metrics, "seconds": seconds}
        self._log(run_id, facts.params, metrics, facts.tags)
        failed = self.cat.reports_dir / f"FAILED_{stage.notebook}"
        if action == "failed" and failed.is_file():
            self.client.log_artifact(run_id, str(failed), "reports")
        if action == "ran":
            self.stage_runs[key] = run_id
        self.client.set_terminated(run_id, "FAILED" if action == "failed" else "FINISHED",
                                   end_time=ended_ms)
        self.open_runs.remove(run_id)

    def finish(self, status: str) -> dict[str, Any] | None:
        """The files of the stages that ran (their pages exist by now), the run's totals, and
        where it stands among earlier runs (:func:`shared.run.history.standing`)."""
        parent = run_facts.Facts(tags={f"stage_{k}": a for k, a in self.actions.items()})
        parent.tags["incremental"] = str("skipped" in self.actions.values()).lower()
        parent.metrics.update({f"seconds.{key}": value for key, value in self.seconds.items()})
        if self.seconds:
            parent.metrics["seconds.total"] = sum(self.seconds.values())
        for key in ("01", "02"):  # what the run used, also when it found them current or did
            if self.actions.get(key) != "failed":  # not run them (--from, --only)
                facts = self.facts.get(key) or run_facts.stage_facts(self.cat, catalog.stage(key))
                parent.params.update(facts.params)
        for key, run_id in self.stage_runs.items():
            stage, facts = catalog.stage(key), self.facts[key]
            if stage.number in (4, 5, 6):
                parent.metrics.update(facts.metrics)
            parent.tags.update(facts.tags)
            self._files(run_id, stage, facts)
        self._log(self.run_id, parent.params, parent.metrics, parent.tags)
        self.client.set_terminated(self.run_id, status)
        self.open_runs.remove(self.run_id)
        self.release = parent.tags.get("release", "")
        try:
            return self._standing()
        except Exception:  # noqa: BLE001 (the run is recorded; the page goes without it)
            return None

    def close_open_runs(self) -> None:
        """After a failure: mark the runs left open FAILED, as far as the store lets us."""
        for run_id in self.open_runs:
            with contextlib.suppress(Exception):
                self.client.set_terminated(run_id, "FAILED")

    def _standing(self) -> dict[str, Any] | None:
        rows = history.pipeline_runs(self.client, self.experiment, self.dataset, last=500)
        current = next((row for row in rows if row.run_id == self.run_id), None)
        kept_from = None
        if current is not None and current.value is None and "05" in self.produced_by:
            evaluated = self.client.get_run(self.produced_by["05"])
            parent = evaluated.data.tags.get("mlflow.parentRunId")
            current = kept_from = next((row for row in rows if row.run_id == parent), None)
        found = None if current is None else history.standing(current, rows)
        if found is None:
            return None
        return {**found, "kept_from": None if kept_from is None else asdict(kept_from)}

    def _files(self, run_id: str, stage: Stage, facts: run_facts.Facts) -> None:
        facts.add_file("reports", html_path(self.cat, stage.notebook))
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
        params = [Param(key_name(k), v) for k, v in (params or {}).items()]
        metrics = [Metric(key_name(k), float(v), stamp, 0) for k, v in (metrics or {}).items()]
        tags = [RunTag(key_name(k), str(v)) for k, v in (tags or {}).items()]
        for start in range(0, max(len(params), len(metrics), len(tags), 1), 100):
            self.client.log_batch(run_id, metrics=metrics[start:start + 100],
                                  params=params[start:start + 100], tags=tags[start:start + 100])


def key_name(name: str) -> str:
    """``name`` as MLflow takes a key: letters, digits and ``_ - . / :`` and spaces, at most
    250 characters (a data set's file name, "reviews (2024).csv", goes into metric names)."""
    return re.sub(r"[^\w\-. /:]", "_", name)[:250]


def serve(lines: Any) -> dict[str, Any]:
    """Apply the events of ``lines`` (JSON, one per line) and return the answer: after the
    first failure the rest is ignored, and the answer carries the warning instead."""
    recorder: Recorder | None = None
    answer: dict[str, Any] = {"warning": None, "standing": None}
    status = "KILLED"  # the input ended without a finish: the runner was killed
    try:
        for line in lines:
            event = json.loads(line)
            if "start" in event:
                details = event["start"]
                recorder = Recorder(details["uri"], details["root"], details["task"],
                                    details["dataset"], details["name"], details["started_ms"])
                recorder.start(details["parameters"], details["overrides"])
            elif "stage" in event:
                recorder.stage(**event["stage"])
            elif "finish" in event:
                status = event["finish"]
                break
        if recorder is not None:
            answer["standing"] = recorder.finish(status)
            answer.update(run_id=recorder.run_id, stage_runs=recorder.stage_runs,
                          release=recorder.release)
    except Exception as error:  # noqa: BLE001 (any failure becomes the runner's one warning)
        text = str(error).splitlines()[0][:300] if str(error) else ""
        answer["warning"] = f"{type(error).__name__}: {tracking.without_credentials(text)}"
        if recorder is not None:
            recorder.close_open_runs()
    answer["cpu_seconds"] = time.process_time()
    return answer


def main() -> int:
    """Read the events on stdin, write the one answer on stdout."""
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICENESS)
    answer = serve(sys.stdin)
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
