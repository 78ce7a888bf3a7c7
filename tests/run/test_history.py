"""Reading the run history: the ``runs`` table and a run's standing, from a real SQLite store
that a real tracker wrote (``tracked_twice``)."""

from __future__ import annotations

from shared.core.manifest import Manifest
from shared.core.records import EvaluationReport
from shared.run import history


def test_runs_lists_the_newest_first_with_metric_interval_gate_and_release(tracked_twice, capsys):
    cat, _, first, second = tracked_twice
    assert history.main(["--root", str(cat.root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["started", "(UTC)", "run", "dataset"]
    assert [line.split()[2] for line in lines[1:]] == [second.run_id[:8], first.run_id[:8]]
    evaluation = EvaluationReport.load(cat)
    metric = evaluation.primary_metric
    interval = evaluation.intervals[metric]
    shown = (f"{metric} {evaluation.test[metric]:.3f} [{interval['low']:.3f}, "
             f"{interval['high']:.3f}]")
    assert all(shown in line and evaluation.gate.verdict in line
               and Manifest.load(cat).release in line for line in lines[1:])
    assert "ran 01 02 03 04 05 06" in lines[1]


def test_a_run_stands_among_the_earlier_runs_of_its_data_set(tracked_twice):
    _, _, first, second = tracked_twice
    assert first.standing["runs"] == 1
    standing = second.standing  # as the recorder sent it to the runner
    assert standing["runs"] == 2 and standing["rank"] == 1  # a tie ranks first
    assert [row["run_id"] for row in standing["earlier"]] == [first.run_id]
    assert standing["kept_from"] is None  # it evaluated (stage 5 ran)


def test_other_data_sets_and_tasks_are_not_mixed_in(tracked_twice, capsys):
    cat, *_ = tracked_twice
    assert history.main(["--root", str(cat.root), "--dataset", "reviews.csv"]) == 0
    assert "no runs of task sentiment" in capsys.readouterr().out
    assert history.main(["--root", str(cat.root), "--task", "spam"]) == 0
    assert "no runs of task spam" in capsys.readouterr().out


def test_no_history_yet_says_how_to_make_one(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert history.main(["--root", str(tmp_path)]) == 0
    assert "python -m shared run" in capsys.readouterr().out
    assert not (tmp_path / "mlruns").exists()


def test_ranks_and_table_cells():
    def row(run_id, value, low=None, high=None):
        return history.RunRow(run_id, run_id, "2026-12-08 00:00:00", "builtin", "f1", value,
                              low, high, "PASS", "-", "ran 01")

    current = row("c", 0.80, 0.70, 0.88)
    standing = history.standing(current, [row("a", 0.85), row("b", 0.75), row("d", None)])
    assert (standing["rank"], standing["runs"], standing["best"]["run_id"]) == (2, 3, "a")
    assert history.standing(row("e", None), [current]) is None
    assert current.result == "f1 0.800 [0.700, 0.880]" and row("e", None).result == "-"
