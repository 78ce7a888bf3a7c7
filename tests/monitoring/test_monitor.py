"""`python -m shared.monitor`: windows of the log, the report, recorded alerts, exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.core.catalog import PROJECT_DIR
from shared.monitoring import monitor
from shared.serving import prediction_log
from shared.serving.predictor import Predictor


@pytest.fixture(scope="module")
def logged(deployed):
    """A deployed model whose log holds the new batch, then the drifted one, with feedback."""
    cat = deployed
    predictor = Predictor.from_deployed(cat.deployed_dir)
    batches = {}
    for name in ("new", "drifted"):
        frame = cat.read(f"{name}_batch")
        result, batches[name] = predictor.predict_and_log(
            list(frame["text"]), cat.path("prediction_log"), f"test:{name}")
        prediction_log.add_feedback_many(cat.path("prediction_log"),
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
    windows = cat.read("monitoring_windows")
    assert windows["window"].tolist() == ["predictions 21-60", "predictions 61-100"]
    alerts = cat.read("monitoring_alerts")
    drift_rules = alerts[alerts["metric"].isin(["unknown_word_share", "domain_auc"])]
    fired = drift_rules.groupby("window")["fired"].agg(list).to_dict()
    assert fired == {"predictions 21-60": [False, False], "predictions 61-100": [True, True]}


def test_the_command_records_alerts_for_cron(logged):
    cat, _ = logged
    before = len(prediction_log.read_alerts(cat.path("prediction_log")))
    run = subprocess.run(
        [sys.executable, "-m", "shared.monitor", "--task", "sentiment", "--root", str(cat.root),
         "--window-size", "40"], capture_output=True, text=True, timeout=120, cwd=PROJECT_DIR,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "recorded in the prediction log" in run.stdout
    alerts = prediction_log.read_alerts(cat.path("prediction_log")).iloc[before:]
    assert len(alerts) >= 2 and set(alerts["window_name"]) == {"predictions 61-100"}
    assert (alerts["model_version"] == Predictor.from_deployed(cat.deployed_dir).model_version).all()
    assert {"unknown_word_share", "domain_auc"} <= set(alerts["metric"])
    assert alerts["value"].notna().all() and alerts["threshold"].notna().all()


def test_a_log_without_texts_is_still_monitored(logged, tmp_path, capsys):
    cat, _ = logged
    log = tmp_path / "private.sqlite"
    predictor = Predictor.from_deployed(cat.deployed_dir)
    texts = list(cat.read("drifted_batch")["text"])
    predictor.predict_and_log(texts, log, "private", store_text=False)
    assert _main(cat, "--log", str(log), "--no-record") == 1
    out = capsys.readouterr().out
    assert "unknown_word_share" in out.split("ALERT", 1)[1]
    assert "domain_auc" not in cat.read("monitoring_alerts")["metric"].tolist()


def test_nothing_to_monitor_is_an_error(logged, tmp_path, capsys):
    cat, _ = logged
    assert _main(cat, "--log", str(tmp_path / "none.sqlite")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert _main(cat, "--batch", "no-such-batch") == 2
    assert "nothing to monitor" in capsys.readouterr().err


def test_a_degraded_or_unreachable_service_fires_service_health(logged, capsys):
    cat, batches = logged
    # nothing listens on port 9 of loopback: the service is down
    code = _main(cat, "--batch", batches["new"], "--no-record",
                 "--health-url", "http://127.0.0.1:9/health")
    out = capsys.readouterr().out
    assert code == 1
    assert "ALERT in service http://127.0.0.1:9/health: service_health = 1.000" in out
    assert "Service health: unreachable" in out and "cannot be reached" in out


def test_a_healthy_service_raises_no_alert(logged, capsys):
    from service_harness import Service

    cat, batches = logged
    with Service("sentiment", cat.root, api_key="") as running:
        code = _main(cat, "--batch", batches["new"], "--no-record",
                     "--health-url", running.url + "/health")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Service health: ok" in out and "OK: no alert fired." in out


def test_a_library_changed_since_deployment_fires(logged, capsys, monkeypatch):
    from shared.core import manifest

    cat, batches = logged
    running = manifest.library_versions()
    monkeypatch.setattr(manifest, "library_versions",
                        lambda: {**running, "numpy": running["numpy"] + ".post1"})
    with pytest.warns(manifest.LibraryVersionWarning):  # loading the model warns too
        assert _main(cat, "--batch", batches["new"], "--no-record") == 1
    out = capsys.readouterr().out
    assert "ALERT in environment: library_changes = 1.000" in out
    assert f"numpy {running['numpy']} at deployment, {running['numpy']}.post1 now" in out
