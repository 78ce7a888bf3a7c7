"""What the run history records per stage, read from a real deployment's declared outputs."""

from __future__ import annotations

import base64
import json

from shared.core import catalog
from shared.core.manifest import Manifest
from shared.core.records import CollectionReport, EvaluationReport, TrainingReport
from shared.run import run_facts


def facts_of(cat, key):
    return run_facts.stage_facts(cat, catalog.stage(key))


def test_each_stage_gives_what_its_outputs_say(deployed_project):
    cat = deployed_project
    spec = facts_of(cat, "01")
    assert spec.params["spec.task"] == "sentiment"
    assert json.loads(spec.params["spec.labels"]) == json.loads(
        cat.path("problem_spec").read_text())["labels"]

    collected = CollectionReport.load(cat)
    data = facts_of(cat, "02")
    assert data.params["data_sha256"] == collected.snapshot_sha256
    assert data.params["engine"] == "memory"
    assert data.metrics["rows_read"] == collected.rows_read
    assert data.metrics["rows_kept"] + data.metrics["rows_quarantined"] == collected.rows_read

    training = TrainingReport.load(cat)
    search = facts_of(cat, "04")
    assert search.metrics["cv_mean"] == training.cv_mean
    assert search.metrics["cv.logistic regression"] == max(cat.read("cv_results")["mean"])
    assert search.params["chosen"] == training.chosen

    evaluation = EvaluationReport.load(cat)
    metric = evaluation.primary_metric
    scored = facts_of(cat, "05")
    assert scored.metrics[f"test.{metric}"] == evaluation.test[metric]
    assert (scored.metrics[f"test.{metric}.low"] <= scored.metrics[f"test.{metric}"]
            <= scored.metrics[f"test.{metric}.high"])
    assert scored.metrics["behaviour.MFT.pass_rate"] == (
        evaluation.behaviour["pass_rates"]["MFT"]["pass_rate"])
    for check, result in evaluation.sensitivity.items():  # the e2e run's has the name check
        assert scored.metrics[f"{check}_check.flips"] == result["flips"]
    assert scored.tags == {"gate": evaluation.gate.verdict, "primary_metric": metric}

    manifest = Manifest.load(cat)
    released = facts_of(cat, "06")
    assert released.tags["release"] == manifest.release
    assert released.metrics["latency_p95_ms"] == manifest.latency_p95_ms
    # the model as released: its skops files and their manifest, no pickle
    files = {path.name for path in released.files["model"]}
    assert {"model.skops", "manifest.json"} <= files
    assert not any(name.endswith((".pkl", ".pickle")) for name in files)


def test_a_stage_that_wrote_nothing_gives_nothing(deployed_project):
    # stage 7 has not run in this project
    facts = facts_of(deployed_project, "07")
    assert (facts.params, facts.metrics, facts.tags, facts.files) == ({}, {}, {}, {})


def test_an_output_not_as_declared_is_named_not_raised(tmp_path, deployed_template):
    from conftest import copy_of

    cat = copy_of(deployed_template, tmp_path)
    cat.path("cv_results").write_text("not,the,columns\n1,2,3\n")
    facts = facts_of(cat, "04")
    assert "facts_error" in facts.tags and "ValueError" in facts.tags["facts_error"]


def test_long_values_are_cut_and_say_so():
    assert run_facts.param_value(["a", "b"]) == '["a", "b"]'
    long = run_facts.param_value("x" * 10_000)
    assert len(long) <= run_facts.MAX_PARAM_CHARS and long.endswith("(cut)")


def test_figures_are_the_notebooks_png_bytes(tmp_path):
    png = b"\x89PNG\r\n\x1a\nnot really an image"
    notebook = tmp_path / "05_model_evaluation.ipynb"
    notebook.write_text(json.dumps({"cells": [
        {"outputs": [{"data": {"image/png": base64.b64encode(png).decode()}}]},
        {"outputs": [{"text": "no figure"}]}]}))
    written = run_facts.figures(notebook, tmp_path)
    assert [p.name for p in written] == ["05_fig_1.png"]
    assert written[0].read_bytes() == png
    assert run_facts.figures(tmp_path / "missing.ipynb", tmp_path) == []
