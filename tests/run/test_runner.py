"""The runner: refusals before anything runs, failures named, and which stages it skips."""

import hashlib
import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from conftest import free_port

from shared.core import catalog
from shared.core.catalog import PROJECT_DIR, Catalog
from shared.data.sources import source_files
from shared.run import html_reports, runner
from shared.run.run_record import RUNNING, SUCCEEDED, RunRecord
from shared.scale import cluster


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
        ("spam", "sms-spam+no-such.csv", {}, r"part 2 \('no-such.csv'\) of --dataset "
                                             r"'sms-spam\+no-such.csv': unknown data set"),
        ("sentiment", "builtin+sms-spam-only", {}, "'sms-spam-only' is for task spam"),
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
    assert sorted(p.name for p in reports.iterdir()) == [
        "FAILED_01_problem_definition.ipynb", "index.html", "run.json"]
    assert RunRecord.read(Catalog.for_task("spam", tmp_path)).stages["01"].outcome == "failed"
    assert not (tmp_path / "models" / "spam" / "problem.json").exists()


# -- which stages run: the real fingerprints and record, a stand-in for papermill ------------
class FakeKernel:
    """Stands in for a started kernel: the stand-in executor needs none."""

    def __init__(self, cwd):
        pass

    def shutdown(self):
        pass


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    """``runner.run`` with each notebook replaced by a function of its declared inputs.

    It writes every output the catalog declares for the stage, as a hash of the
    stage's parameters and of the content of every input it reads, so a changed
    input changes its outputs and the stages after it, as a real run would.
    Returns a function that runs and gives the keys of the stages that ran.
    """
    ran: list[str] = []
    killed_in: list[str] = []
    failing_in: list[str] = []

    def execute(notebook, output, parameters, kernel, progress=False, clean_metadata=False):
        stage = catalog.stage(notebook.name)
        if stage.key in killed_in:
            raise KeyboardInterrupt  # as if the run were killed inside this stage
        if stage.key in failing_in:  # as the kernel runner reports a failing cell
            raise runner.RunError(f"{notebook.name} failed in cell 3: DataSourceError")
        cat = Catalog.for_task(parameters["task"], parameters["project_dir"])
        digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode())
        for name in stage.reads:
            digest.update(cat.path(name).read_bytes())
        if stage.reads_dataset:
            for path in source_files(parameters["dataset"], parameters["task"]):
                digest.update(path.read_bytes())
        for name in stage.writes:
            cat.path(name).parent.mkdir(parents=True, exist_ok=True)
            cat.path(name).write_text(json.dumps({name: digest.hexdigest()}))
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.v4.new_notebook(), output)
        ran.append(stage.key)
        return 0.01

    monkeypatch.setattr(runner, "execute", execute)
    monkeypatch.setattr(runner.Kernels, "take", lambda self, later: FakeKernel(None))
    monkeypatch.setattr(runner.html_reports, "notebook_page",
                        lambda executed, target: target.write_text("<html></html>"))

    def run(dataset="builtin", kill_in=None, fail_in=None, **kwargs):
        ran.clear()
        killed_in[:] = [kill_in] if kill_in else []
        failing_in[:] = [fail_in] if fail_in else []
        runner.run("spam", dataset, root=tmp_path, log=lambda *a, **k: None, **kwargs)
        return list(ran)

    return run


ALL = ["01", "02", "03", "04", "05", "06", "07"]


def test_nothing_changed_nothing_runs(fake_run, tmp_path):
    assert fake_run() == ALL
    assert fake_run() == []
    record = RunRecord.read(Catalog.for_task("spam", tmp_path))
    assert {key: s.last_action for key, s in record.stages.items()} == dict.fromkeys(ALL,
                                                                                     "skipped")
    assert (tmp_path / "reports" / "spam" / "index.html").is_file()


def test_a_parameter_reruns_from_the_stage_that_declares_it(fake_run):
    fake_run()
    assert fake_run(overrides={"n_iter": 3}) == ["04", "05", "06", "07"]
    assert fake_run(overrides={"n_iter": 3}) == []
    assert fake_run(overrides={"n_iter": 3, "target": 0.75}) == ALL


def test_a_changed_data_file_reruns_from_stage_2(fake_run, tmp_path):
    data = tmp_path / "mine.csv"
    data.write_text("text,label\nwin a prize,spam\n")
    fake_run(dataset=str(data))
    data.write_text("text,label\nwin a prize now,spam\n")
    assert fake_run(dataset=str(data)) == ALL[1:]


def test_every_file_of_a_mix_is_in_the_fingerprint(fake_run, tmp_path):
    # a user file named as a built-in file (messages.csv), given first: each must still count
    mine = tmp_path / "messages.csv"
    mine.write_text("text,label\nwin a prize,spam\n")
    other = tmp_path / "other.csv"
    other.write_text("text,label\nsee you at 6,ham\n")
    mix = f"{mine}:text=text+builtin+{other}"
    assert fake_run(dataset=mix) == ALL
    assert fake_run(dataset=mix) == []
    mine.write_text("text,label\nwin a prize now,spam\n")
    assert fake_run(dataset=mix) == ALL[1:]
    other.write_text("text,label\nsee you at 7,ham\n")
    assert fake_run(dataset=mix) == ALL[1:]


def test_a_changed_or_missing_output_reruns_its_stage(fake_run, tmp_path):
    fake_run()
    cat = Catalog.for_task("spam", tmp_path)
    cat.path("cv_results").unlink()
    assert fake_run() == ["04"]  # it wrote the same outputs again: nothing after it changed
    cat.path("monitoring_report").write_text("edited by hand")
    assert fake_run() == ["07"]


def test_force_from_and_only(fake_run):
    fake_run()
    assert fake_run(force=True) == ALL
    assert fake_run(start="05") == ["05", "06", "07"]
    assert fake_run(only="07") == ["07"]


def test_only_refuses_when_an_input_is_not_current(fake_run, tmp_path):
    fake_run()
    Catalog.for_task("spam", tmp_path).path("trained_model").write_text("changed")
    with pytest.raises(runner.RunError, match=r"stage 05 reads what stage 04 .* not up to "
                                              r"date: its output .* was changed.*--from 04"):
        fake_run(only="05")
    with pytest.raises(runner.RunError, match="no stage '9'"):
        fake_run(only="9")


def test_a_killed_stage_counts_as_not_done(fake_run, tmp_path):
    fake_run()
    with pytest.raises(KeyboardInterrupt):
        fake_run(force=True, kill_in="04")
    record = RunRecord.read(Catalog.for_task("spam", tmp_path))
    assert record.stages["03"].outcome == SUCCEEDED and record.stages["04"].outcome == RUNNING
    assert fake_run() == ["04"]


def test_an_unreachable_dask_scheduler_refuses_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_SECONDS", 1.0)  # a refused port: no need to wait 10 s
    code = runner.main(["--root", str(tmp_path), "--dask", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_the_runner_process_leaves_out_the_iri_grammar_and_still_validates_notebooks():
    code = ("import sys, shared.run.runner, papermill, nbformat, jsonschema\n"
            "nbformat.validate(nbformat.read('notebooks/01_problem_definition.ipynb', 4))\n"
            "print(sys.modules['rfc3987_syntax'], 'iri' in jsonschema.FormatChecker.checkers)")
    shown = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, check=True,
                           capture_output=True, text=True).stdout.split()
    assert shown == ["None", "False"]


def _index_rows(page: str) -> dict[str, str]:
    """The index page's stage table as {stage key: what this run did}."""
    return dict(re.findall(r"<tr><td>(\d\d)</td>.*?<td class='[a-z]+'>([^<]*)</td>", page))


def test_the_index_of_a_failed_run_says_what_this_run_did(fake_run, tmp_path,
                                                           deployed_project):
    fake_run()
    cat = Catalog.for_task("spam", tmp_path)
    shutil.copy(deployed_project.path("metrics"), cat.path("metrics"))  # a real stage-5 report
    evaluated_at = RunRecord.read(cat).stages["05"].started_at
    refused = tmp_path / "refused.csv"
    refused.write_text("text,label\nwin a prize, now,spam\n")
    with pytest.raises(runner.RunError, match="02_data_collection.ipynb failed"):
        fake_run(dataset=str(refused), fail_in="02")
    page = (cat.reports_dir / "index.html").read_text(encoding="utf-8")
    assert f"<h1>Run of task &#x27;spam&#x27; ({refused}): FAILED at stage 02</h1>" in page
    assert _index_rows(page) == {"01": "ran", "02": "FAILED",
                                 **dict.fromkeys(ALL[2:], "not run")}
    assert "page of an earlier run" in page  # stages 03-07's pages are the good run's
    when = evaluated_at.replace("T", " ").replace("+00:00", " UTC")
    assert (f"Results of the previous successful run (stage 05 of {when} on data set "
            "builtin), not of this run") in page
    assert "Gate of the previous run: PASS" in page and "<h2>Gate: PASS" not in page
    assert "<strong>PASS</strong>" in page
    assert not re.search("[\u2705\u274c\U0001F6A8]", page)  # no emoji marks
    this_run = html_reports.index_page(cat, RunRecord.read(cat), "a good run",
                                       dict.fromkeys(ALL, "skipped")).read_text(encoding="utf-8")
    assert "<h2>Held-out test metrics</h2>" in this_run and "<h2>Gate: PASS</h2>" in this_run
    assert set(_index_rows(this_run).values()) == {"up to date (skipped)"}


# -- the run history, written by the runner (shared.run.tracking) ------------------------------
def test_a_failed_run_is_recorded_as_failed_and_stages_name_their_tracked_run(
        fake_run, tmp_path):
    from shared.run import tracking

    uri = tracking.embedded_uri(tmp_path)
    fake_run()  # untracked: its stages name no tracked run
    with pytest.raises(runner.RunError):
        fake_run(tracking_uri=uri, force=True, fail_in="03")
    record = RunRecord.read(Catalog.for_task("spam", tmp_path))
    client = tracking.client(uri)
    runs = client.search_runs([client.get_experiment_by_name("ml-workflow-spam").experiment_id],
                              order_by=["attributes.start_time DESC"])
    failed = next(r for r in runs if r.data.tags["kind"] == "pipeline")
    assert failed.info.status == "FAILED" and failed.data.tags["stage_03"] == "failed"
    stages = {r.data.tags["stage"]: r for r in runs
              if r.data.tags.get("mlflow.parentRunId") == failed.info.run_id}
    assert sorted(stages) == ["01", "02", "03"] and stages["03"].info.status == "FAILED"
    # a stage names the tracked run that wrote its outputs, and the store that holds it (a
    # later run that skips the stage links to it: tests/test_e2e.py); the failed stage and
    # those after it keep the untracked run's (none)
    assert {key: (s.tracking_run, s.tracking_store) for key, s in record.stages.items()} == {
        **{key: (stages[key].info.run_id, tracking.shown_uri(uri)) for key in ("01", "02")},
        **{key: ("", "") for key in ("03", "04", "05", "06", "07")}}


def test_an_unreachable_tracking_server_never_breaks_the_run(fake_run, tmp_path, capsys):
    port = free_port()
    assert fake_run(tracking_uri=f"http://ada:s3cret@127.0.0.1:{port}") == ALL
    warned = capsys.readouterr().err
    assert warned.count("could not be written") == 1 and "the run goes on" in warned
    assert f"http://127.0.0.1:{port}" in warned and "s3cret" not in warned
    assert (tmp_path / "reports" / "spam" / "index.html").is_file()
