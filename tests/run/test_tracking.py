"""The run history: a real deployment recorded in a real SQLite store and on a real MLflow
server started by the test (a store that fails never breaks the run: tests/run/test_runner.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import TRACKED_STAGES as RAN
from conftest import copy_of, free_port

from shared.core import catalog
from shared.core.manifest import Manifest
from shared.core.records import EvaluationReport
from shared.run import runner, tracking
from shared.run.run_record import RunRecord, StageRecord, now


def children(client, tracked):
    runs = client.search_runs([client.get_run(tracked.run_id).info.experiment_id],
                              filter_string=f"tags.mlflow.parentRunId = '{tracked.run_id}'")
    return {run.data.tags["stage"]: run for run in runs}


def test_a_run_is_a_parent_with_a_child_per_stage(tracked_twice):
    cat, uri, first, tracked = tracked_twice
    client = tracking.client(uri)
    parent = client.get_run(tracked.run_id)
    evaluation = EvaluationReport.load(cat)
    metric = evaluation.primary_metric
    assert parent.data.tags["kind"] == "pipeline" and parent.data.tags["task"] == "sentiment"
    assert parent.data.tags["gate"] == evaluation.gate.verdict
    assert parent.data.tags["release"] == Manifest.load(cat).release
    assert parent.data.tags["incremental"] == "true" and parent.data.tags["stage_07"] == "skipped"
    assert {"git_commit", "git_dirty", "lock_sha256"} <= set(parent.data.tags)
    assert parent.data.params["parameter.n_iter"] == str(runner.notebook_parameters()[
        "04_model_training.ipynb"]["n_iter"])  # a notebook's default, as the runner sends it
    assert parent.data.metrics["seconds.total"] == 1.5 * len(RAN)
    assert parent.data.params["override.target"] == "0.7"
    assert parent.data.params["spec.primary_metric"] == metric
    assert parent.data.metrics[f"test.{metric}"] == evaluation.test[metric]
    assert parent.info.status == "FINISHED"

    stages = children(client, tracked)
    assert sorted(stages) == [*RAN, "07"]
    assert all(stages[key].data.tags["action"] == "ran" for key in RAN)
    assert stages["04"].data.metrics["seconds"] == 1.5
    assert stages["07"].data.tags["produced_by"] == first.stage_runs["06"]
    assert tracked.stage_runs == {key: stages[key].info.run_id for key in RAN}
    released = {a.path for a in client.list_artifacts(stages["06"].info.run_id, "model")}
    assert {"model/model.skops", "model/manifest.json"} <= released
    # embedded: the files sit under the run's root, where retention finds them
    assert (cat.tracked_files_dir / stages["06"].info.run_id / "artifacts" / "model"
            / "model.skops").is_file()


def test_the_run_is_named_in_what_it_produced(tmp_path, deployed_template, tracked_twice):
    *_, tracked = tracked_twice
    cat = copy_of(deployed_template, tmp_path)
    record = RunRecord(task="sentiment", stages={
        key: StageRecord("f" * 64, "succeeded", now()) for key in RAN})
    linked = tracking.link(cat, record, tracked)
    assert {key: s.tracking_run for key, s in linked.stages.items()} == tracked.stage_runs
    links = json.loads(cat.path("release_runs").read_text())
    assert links[Manifest.load(cat).release]["run_id"] == tracked.run_id


def test_where_the_history_goes(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.resolve_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team:5000")
    assert tracking.resolve_uri(tmp_path) == "http://team:5000"
    assert tracking.resolve_uri(tmp_path, "http://mine:5000") == "http://mine:5000"
    assert tracking.shown_uri("https://u:p@host:8443/x") == "https://host:8443/x"
    assert tracking.shown_uri("sqlite:////a/b.db") == "sqlite:////a/b.db"
    assert tracking.without_credentials("failed: http://u:p@h:1/api x") == "failed: http://h:1/api x"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 with its own SQLite store and artifact folder."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{folder}/server.db",
         "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlflow server did not start") from None
                time.sleep(0.3)
        yield url, folder
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_team_server_gets_the_same_records(tmp_path, deployed_template, mlflow_server):
    url, folder = mlflow_server
    cat = copy_of(deployed_template, tmp_path)
    # the runner's side: the recorder process, fed as the runner feeds it
    tracker = tracking.Tracker(url, cat, "builtin", {}, {}, warn=pytest.fail)
    for key in RAN:
        tracker.stage(catalog.stage(key), "ran", 1.5)
    tracker.stage(catalog.stage("07"), "skipped", produced_by="0123abcd", produced_in="elsewhere")
    tracked = tracker.finish()
    client = tracking.client(url)
    parent = client.get_run(tracked.run_id)
    assert parent.data.tags["release"] == Manifest.load(cat).release
    stages = children(client, tracked)
    assert sorted(stages) == [*RAN, "07"]
    # a producer recorded in another store is not linked
    assert stages["07"].data.tags["produced_by"] == "unknown (an untracked run)"
    released = {a.path for a in client.list_artifacts(stages["06"].info.run_id, "model")}
    assert {"model/model.skops", "model/manifest.json"} <= released
    # the server keeps the files, not the run's root
    assert list(folder.glob("artifacts/*/*/artifacts/model/model.skops"))
    assert not cat.tracking_dir.exists()
