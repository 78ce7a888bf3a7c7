"""`python -m shared.monitor`: windows of the log, the report, recorded alerts, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_serve import make_deployed

from shared import catalog, monitor, predlog
from shared.catalog import PROJECT_DIR
from shared.predict import Predictor, load_batch
from shared.tasks import get_task


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A deployed model whose log holds the new batch, then the drifted one, with feedback."""
    cat = make_deployed(tmp_path_factory.mktemp("project"))
    predictor = Predictor.from_deployed(cat.deployed_dir)
    batches = {}
    for name, path in (("new", get_task("sentiment").new_batch),
                       ("drifted", get_task("sentiment").drifted_batch)):
        frame = load_batch(path)
        result, batches[name] = predictor.predict_and_log(list(frame["text"]), cat.prediction_log,
                                                          f"test:{name}")
        predlog.add_feedback_many(cat.prediction_log,
                                  zip(result["prediction_id"], frame["label"], strict=True))
    return cat, batches


def _main(cat, *args):
    return monitor.main(["--task", "sentiment", "--root", str(cat.root), *args])


def test_in_domain_batch_raises_no_alert(logged, capsys):
    cat, batches = logged
    assert _main(cat, "--batch", batches["new"], "--no-record") == 0
    out = capsys.readouterr().out
    assert "OK: no alert fired." in out and "domain_auc" in out and "live_f1" in out


def test_drifted_batch_fires_and_exits_1(logged, capsys):
    cat, batches = logged
    assert _main(cat, "--batch", batches["drifted"], "--no-record") == 1
    out = capsys.readouterr().out
    assert "ALERT in batch" in out
    assert "unknown_word_share" in out.split("ALERT in batch", 1)[1]
    assert "domain_auc" in out.split("ALERT in batch", 1)[1]
    assert "not recorded (--no-record)" in out


def test_windows_counted_back_from_the_newest(logged, capsys):
    cat, _ = logged
    assert _main(cat, "--window-size", "40", "--windows", "2", "--no-record") == 1
    windows = catalog.read_csv(cat.monitoring_windows)
    assert windows["window"].tolist() == ["predictions 21-60", "predictions 61-100"]
    alerts = catalog.read_csv(cat.monitoring_alerts)
    drift_rules = alerts[alerts["metric"].isin(["unknown_word_share", "domain_auc"])]
    fired = drift_rules.groupby("window")["fired"].agg(list).to_dict()
    assert fired == {"predictions 21-60": [False, False], "predictions 61-100": [True, True]}


def test_the_command_records_alerts_for_cron(logged):
    cat, _ = logged
    before = len(predlog.read_alerts(cat.prediction_log))
    run = subprocess.run(
        [sys.executable, "-m", "shared.monitor", "--task", "sentiment", "--root", str(cat.root),
         "--window-size", "40"], capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "recorded in the prediction log" in run.stdout
    alerts = predlog.read_alerts(cat.prediction_log).iloc[before:]
    assert len(alerts) >= 2 and set(alerts["window_name"]) == {"predictions 61-100"}
    assert (alerts["model_version"] == Predictor.from_deployed(cat.deployed_dir).model_version).all()
    assert {"unknown_word_share", "domain_auc"} <= set(alerts["metric"])
    assert alerts["value"].notna().all() and alerts["threshold"].notna().all()


def test_a_log_without_texts_is_still_monitored(logged, tmp_path, capsys):
    cat, _ = logged
    log = tmp_path / "private.sqlite"
    predictor = Predictor.from_deployed(cat.deployed_dir)
    texts = list(load_batch(get_task("sentiment").drifted_batch)["text"])
    predictor.predict_and_log(texts, log, "private", store_text=False)
    assert _main(cat, "--log", str(log), "--no-record") == 1
    out = capsys.readouterr().out
    assert "unknown_word_share" in out.split("ALERT", 1)[1]
    assert "domain_auc" not in catalog.read_csv(cat.monitoring_alerts)["metric"].tolist()


def test_nothing_to_monitor_is_an_error(logged, tmp_path, capsys):
    cat, _ = logged
    assert _main(cat, "--log", str(tmp_path / "none.sqlite")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _main(cat, "--batch", "no-such-batch") == 2
    assert "nothing to monitor" in capsys.readouterr().err
