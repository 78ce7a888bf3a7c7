"""The whole seven-notebook pipeline through the runner, into a temporary project folder (out of core:
``tests/test_e2e_out_of_core.py``, a file of its own so that make test's two workers can take
the two runs at once)."""

import sqlite3
import subprocess
import sys

import pytest

from shared.core.catalog import ARTIFACTS, NOTEBOOKS, PROJECT_DIR, Catalog
from shared.core.manifest import verify
from shared.core.records import CollectionReport, EvaluationReport, PreparationReport
from shared.data.engines import ENGINE_ONLY, OUT_OF_CORE

pytestmark = pytest.mark.e2e


# Spam through the runner. The sentiment task's seven notebooks run on the built-in data as
# make test's nbval runs them, every output compared, so a second runner run of the same work
# here would add a minute of CPU and no check.
@pytest.fixture(scope="module", params=["spam"])
def run(request, tmp_path_factory):
    task = request.param
    root = tmp_path_factory.mktemp(task)
    result = subprocess.run(
        [sys.executable, "-m", "shared.runner", "--task", task, "--root", str(root)],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return task, root, result.stdout


def test_every_artifact_is_written(run):
    task, root, _ = run
    cat = Catalog.for_task(task, root)
    out_of_core = {n for names in ENGINE_ONLY[OUT_OF_CORE].values() for n in names}
    # every declared artifact of the in-memory engine; the watch loop's state is written by
    # the loop, not by a run
    for name in set(ARTIFACTS) - out_of_core - {"alert_notifications"}:
        path = cat.path(name)
        assert path.is_file() and path.stat().st_size > 0, path
    assert sorted(p.name for p in cat.reports_dir.glob("*.ipynb")) == sorted(NOTEBOOKS)
    assert not list(root.rglob(".*.tmp*")), "a temporary file was left behind"


def test_metrics_file_and_gate(run):
    task, root, stdout = run
    metrics = EvaluationReport.load(Catalog.for_task(task, root))
    assert metrics.problem["task"] == task
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc"):
        assert 0 <= metrics.test[name] <= 1 or name == "mcc"
    assert metrics.gate.passed, metrics.gate
    assert "Gate: PASS" in stdout and "Stage times:" in stdout


def test_counts_reconcile(run):
    task, root, _ = run
    cat = Catalog.for_task(task, root)
    collected = CollectionReport.load(cat)
    assert collected.rows_read == collected.rows_kept + collected.rows_quarantined
    prepared = PreparationReport.load(cat)
    assert prepared.rows_in == collected.rows_kept
    assert sum(len(cat.read(split)) for split in ("train", "test")) == prepared.rows_out


def test_prediction_log_holds_every_answer(run):
    task, root, _ = run
    cat = Catalog.for_task(task, root)
    batch = cat.read("batch_predictions")
    with sqlite3.connect(cat.path("prediction_log")) as db:
        sources = dict(db.execute("SELECT source, COUNT(*) FROM predictions GROUP BY source"))
    assert sources["stage7:new"] == int((batch["error"].fillna("") == "").sum()) == len(batch)


def test_deployed_manifest_matches_files(run):
    task, root, _ = run
    cat = Catalog.for_task(task, root)
    manifest = verify(cat.deployed_dir)
    assert manifest.task == task
    assert cat.deployed_dir.resolve() == (cat.releases_dir / manifest.release).resolve()
    assert manifest.approval.passed and manifest.canary.passed
    assert set(manifest.files) >= {"model.skops", "metrics.json", "MODEL_CARD.md"}


def test_metrics_carry_the_evaluation_details(run):
    task, root, _ = run
    cat = Catalog.for_task(task, root)
    metrics = EvaluationReport.load(cat)
    interval = metrics.intervals[metrics.primary_metric]
    assert interval["low"] <= metrics.test[metrics.primary_metric] <= interval["high"]
    assert metrics.calibration.method in ("none", "sigmoid", "isotonic")
    assert metrics.training.configurations_tried >= 5
    # "behaviour" once stage 5 runs the behavioural tests
    assert {"length", "source"} <= {row["slice"] for row in metrics.slices} <= {
        "length", "source", "behaviour"}
    card = cat.read("model_card")
    assert "95% bootstrap interval" in card and metrics.training.chosen in card


def test_every_executed_notebook_is_also_a_web_page(run):
    import json

    task, root, _ = run
    cat = Catalog.for_task(task, root)
    for notebook in NOTEBOOKS:
        page = (cat.reports_dir / notebook).with_suffix(".html").read_text(encoding="utf-8")
        executed = json.loads((cat.reports_dir / notebook).read_text(encoding="utf-8"))
        printed = [line for cell in executed["cells"] for out in cell.get("outputs", [])
                   if out.get("name") == "stdout" for line in "".join(out["text"]).splitlines()
                   if line.startswith("wrote ")]
        assert printed and all(line in page for line in printed), notebook
        assert page.count("data:image/png;base64") >= sum(
            "image/png" in out.get("data", {}) for cell in executed["cells"]
            for out in cell.get("outputs", []))
    index = (cat.reports_dir / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{n.replace(".ipynb", ".html")}"' in index for n in NOTEBOOKS)
    assert "Gate: PASS" in index

def _history(root, task):
    from shared.run import tracking

    client = tracking.client(tracking.embedded_uri(root))
    experiment = client.get_experiment_by_name(tracking.experiment_name(task)).experiment_id
    runs = client.search_runs([experiment], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if r.data.tags["kind"] == "pipeline"]
    return parents, {p.info.run_id: {r.data.tags["stage"]: r for r in runs
                                     if r.data.tags.get("mlflow.parentRunId") == p.info.run_id}
                     for p in parents}


def test_the_run_is_recorded_in_its_history(run):
    from shared.deploy import release

    task, root, stdout = run
    assert "run history: MLflow run" in stdout
    parents, stages = _history(root, task)
    first = parents[0]
    assert first.data.tags["dataset"] == "builtin" and first.info.status == "FINISHED"
    assert sorted(stages[first.info.run_id]) == [f"{n:02d}" for n in range(1, 8)]
    assert {r.data.tags["action"] for r in stages[first.info.run_id].values()} == {"ran"}
    cat = Catalog.for_task(task, root)
    assert first.data.metrics["name_check.flips"] == 0
    assert first.data.metrics["seconds.total"] > 0
    # every notebook parameter, defaults included, and what the run was given
    from shared.run.runner import notebook_parameters

    declared = {name for params in notebook_parameters().values() for name in params}
    assert {f"parameter.{n}" for n in declared - {"project_dir"}} <= set(first.data.params)
    assert first.data.params["parameter.task"] == task
    assert {"spec.primary_metric", "data_sha256", "engine"} <= set(first.data.params)
    assert release.history(cat)["run"].tolist()[0] == first.info.run_id[:8]
    index = (cat.reports_dir / "index.html").read_text(encoding="utf-8")
    assert "Among earlier runs" in index and "is the first of this task and data set" in index


def test_a_second_run_with_nothing_changed_runs_nothing(run):
    task, root, _ = run
    again = subprocess.run(
        [sys.executable, "-m", "shared.runner", "--task", task, "--root", str(root)],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert [f"{n:02d} up to date" for n in range(1, 8)] == again.stdout.splitlines()[:7]
    # recorded as an incremental run: each stage links to the run that produced its outputs
    parents, stages = _history(root, task)
    first, second = parents[0].info.run_id, parents[-1].info.run_id
    assert parents[-1].data.tags["incremental"] == "true"
    assert {key: r.data.tags["produced_by"] for key, r in stages[second].items()} == {
        key: r.info.run_id for key, r in stages[first].items()}
    index = (Catalog.for_task(task, root).reports_dir / "index.html").read_text(encoding="utf-8")
    assert "found stage 5 up to date and kept the evaluation of run" in index


def test_retention_reaches_the_histories_copies_of_texts(run, tmp_path):
    import shutil
    import time

    from shared.serving import retention

    task, root, _ = run
    shutil.copytree(root, tmp_path / "copy", symlinks=True)
    cat = Catalog.for_task(task, tmp_path / "copy")
    counts = retention.apply(cat, 30, now=time.time() + 400 * 86_400)
    assert counts["run history files"] >= 7  # each stage's page, and the reference predictions
    kept = {p.name for p in cat.tracked_files_dir.rglob("*") if p.is_file()}
    assert {"model.skops", "manifest.json", "metrics.json"} <= kept
    assert not any(name.endswith(".html") for name in kept)
