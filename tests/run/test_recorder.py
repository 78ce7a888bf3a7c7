"""The recorder process's loop, run in this process on a real SQLite store: events in, one
answer out, and a failure that becomes the answer's warning instead of an exception."""

from __future__ import annotations

import json

import pytest
from conftest import copy_of, recorder_events

from shared.run import recorder, tracking


def events(root, *stages, finish="FINISHED"):
    return recorder_events(root, [(key, action, "") for key, action in stages], finish)


def parent_of(root, answer):
    return tracking.client(tracking.embedded_uri(root)).get_run(answer["run_id"])


def test_events_make_a_run_and_the_answer_names_it(tmp_path, deployed_template):
    copy_of(deployed_template, tmp_path)
    answer = recorder.serve(events(tmp_path, ("01", "ran"), ("05", "ran"), ("06", "skipped")))
    assert answer["warning"] is None and sorted(answer["stage_runs"]) == ["01", "05"]
    parent = parent_of(tmp_path, answer)
    assert parent.info.status == "FINISHED" and parent.data.tags["stage_06"] == "skipped"
    assert answer["standing"]["runs"] == 1 and answer["cpu_seconds"] > 0
    json.dumps(answer)  # it crosses a pipe


def test_input_that_ends_without_finish_is_a_killed_run(tmp_path, deployed_template):
    copy_of(deployed_template, tmp_path)
    answer = recorder.serve(events(tmp_path, ("01", "ran"), finish=None))
    assert parent_of(tmp_path, answer).info.status == "KILLED"


def test_a_failure_becomes_the_warning(tmp_path):
    answer = recorder.serve(events(tmp_path, ("99", "ran")))
    assert "no stage '99'" in answer["warning"] and "run_id" not in answer


def test_a_stage_kept_from_another_store_does_not_lose_the_run(tmp_path, deployed_template):
    # the run record names a producer that this store does not hold (the history was moved)
    copy_of(deployed_template, tmp_path)
    stages = [(f"{n:02d}", "skipped", "0" * 32) for n in range(1, 8)]
    answer = recorder.serve(recorder_events(tmp_path, stages))
    assert answer["warning"] is None and answer["standing"] is None
    assert parent_of(tmp_path, answer).info.status == "FINISHED"


def test_a_failure_midway_closes_the_open_runs_as_failed(tmp_path, deployed_template):
    copy_of(deployed_template, tmp_path)
    lines = events(tmp_path, ("01", "ran"))
    lines.insert(2, json.dumps({"stage": {"key": "02", "action": "ran", "seconds": "x",
                                          "produced_by": "", "started_ms": 0, "ended_ms": 0}}))
    answer = recorder.serve(lines)
    assert answer["warning"] and "run_id" not in answer
    client = tracking.client(tracking.embedded_uri(tmp_path))
    runs = client.search_runs([client.get_experiment_by_name("ml-workflow-sentiment")
                               .experiment_id])
    assert {r.info.status for r in runs} <= {"FINISHED", "FAILED"}
    assert next(r for r in runs if r.data.tags["kind"] == "pipeline").info.status == "FAILED"


@pytest.mark.parametrize(("name", "key"), [
    ("rows_kept.reviews (2024).csv", "rows_kept.reviews _2024_.csv"),
    ("cv.linear SVM", "cv.linear SVM"), ("a" * 300, "a" * 250)])
def test_keys_are_what_mlflow_takes(name, key):
    assert recorder.key_name(name) == key
