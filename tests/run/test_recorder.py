"""The recorder process's loop, run in this process on a real SQLite store: events in, one
answer out, and a failure that becomes the answer's warning instead of an exception."""

from __future__ import annotations

import json

from conftest import copy_of

from shared.run import recorder, tracking


def events(root, *stages, finish="FINISHED"):
    lines = [{"start": {"uri": tracking.embedded_uri(root), "root": str(root),
                        "task": "sentiment", "dataset": "builtin", "name": "a run",
                        "started_ms": 1_765_000_000_000, "parameters": {}, "overrides": {}}}]
    lines += [{"stage": {"key": key, "action": action, "seconds": 2.0, "produced_by": "",
                         "started_ms": 1_765_000_000_000, "ended_ms": 1_765_000_002_000}}
              for key, action in stages]
    if finish:
        lines.append({"finish": finish})
    return [json.dumps(line) for line in lines]


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
