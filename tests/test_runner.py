import subprocess
import sys

import pytest

from shared import catalog, runner
from shared.catalog import PROJECT_DIR


@pytest.fixture(scope="module")
def declared():
    return runner.notebook_parameters()


def test_every_notebook_declares_task_and_project_dir(declared):
    assert list(declared) == list(catalog.NOTEBOOKS)
    for notebook, params in declared.items():
        assert {"task", "project_dir"} <= set(params), notebook


def test_plan_passes_each_parameter_only_where_declared(declared, tmp_path):
    plan = runner.plan("spam", "builtin", {"target": 0.9}, tmp_path, declared)
    assert plan["01_problem_definition.ipynb"]["target"] == 0.9
    assert "target" not in plan["04_model_training.ipynb"]
    assert plan["02_data_collection.ipynb"]["dataset"] == "builtin"
    assert all(p["task"] == "spam" and p["project_dir"] == str(tmp_path) for p in plan.values())


@pytest.mark.parametrize(
    ("task", "dataset", "overrides", "message"),
    [
        ("fraud", "builtin", {}, "choose one of: sentiment, spam"),
        ("sentiment", "no-such-set", {}, "unknown data set 'no-such-set'"),
        ("sentiment", "builtin", {"taget": 0.9}, "unknown notebook parameter"),
    ],
)
def test_refuses_before_running(declared, tmp_path, task, dataset, overrides, message):
    with pytest.raises(runner.RunError, match=message):
        runner.plan(task, dataset, overrides, tmp_path, declared)


def test_cli_refusal_exits_2_and_runs_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "shared.runner", "--task", "fraud", "--root", str(tmp_path)],
        capture_output=True, text=True, cwd=PROJECT_DIR,
    )
    assert result.returncode == 2
    assert "unknown task 'fraud'" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("text", "value"), [("0.85", 0.85), ("5", 5), ("None", None), ("True", True), ("abc", "abc")]
)
def test_parse_value(text, value):
    assert runner.parse_value(text) == value


def test_a_failing_notebook_is_named_with_its_cell_and_error(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "shared.runner", "--task", "spam", "--root", str(tmp_path),
         "-p", "target", "2.0"],
        capture_output=True, text=True, cwd=PROJECT_DIR, timeout=300,
    )
    assert result.returncode == 1
    assert "01_problem_definition.ipynb failed in cell" in result.stderr
    assert "ProblemSpecError" in result.stderr and "target=2.0" in result.stderr
    reports = tmp_path / "reports" / "spam"
    assert [p.name for p in reports.iterdir()] == ["FAILED_01_problem_definition.ipynb"]
    assert not (tmp_path / "models" / "spam" / "problem.json").exists()
