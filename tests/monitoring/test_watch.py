"""The watch loop on a real deployed model and log, with a real HTTP receiver."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.core.catalog import Catalog
from shared.monitoring import notify, retrain_trigger, watch
from shared.serving import prediction_log
from shared.serving.predictor import Predictor

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def logged(deployed):
    """The drifted batch logged two hours before the in-domain one; returns (cat, now)."""
    cat = deployed
    predictor = Predictor.from_deployed(cat.deployed_dir)
    log = cat.path("prediction_log")
    predictor.predict_and_log(list(cat.read("drifted_batch")["text"]), log, "test:drifted")
    now = datetime.now(UTC)
    with sqlite3.connect(log) as connection:
        connection.execute("UPDATE predictions SET created_at = ?",
                           ((now - 2 * HOUR).isoformat(timespec="milliseconds"),))
    predictor.predict_and_log(list(cat.read("new_batch")["text"]), log, "test:new")
    return cat, now


def _states(receiver, metric):
    return [r["body"]["alert"]["state"] for r in receiver.received
            if r["body"]["alert"]["metric"] == metric]


def test_fire_then_cooldown_then_resolve(logged, webhook_receiver):
    cat, now = logged
    settings = notify.Settings([notify.Webhook("ALERT_WEBHOOK_URL")], cooldown=HOUR)
    spans = ["30m"]
    first = watch.tick(cat, spans, settings, now=now - 2 * HOUR + timedelta(minutes=1))
    assert not first.error and {"unknown_word_share", "domain_auc"} <= set(first.result.fired[
        "metric"])
    assert _states(webhook_receiver, "domain_auc") == ["firing"]
    watch.tick(cat, spans, settings, now=now - 2 * HOUR + timedelta(minutes=5))
    assert _states(webhook_receiver, "domain_auc") == ["firing"]  # within the cooldown
    watch.tick(cat, spans, settings, now=now + timedelta(minutes=1))  # the in-domain batch
    assert _states(webhook_receiver, "domain_auc") == ["firing", "resolved"]
    assert notify.read_state(cat.path("alert_notifications")) == {}
    recorded = prediction_log.read_alerts(cat.path("prediction_log"))
    assert "domain_auc" in set(recorded["metric"])


def test_a_monitor_that_cannot_run_alerts_about_itself(tmp_path, webhook_receiver):
    cat = Catalog.for_task("sentiment", tmp_path)  # nothing deployed, no log
    settings = notify.Settings([notify.Webhook("ALERT_WEBHOOK_URL")])
    waits = []
    done = watch.tick(cat, ["1h"], settings, sleep=waits.append)
    assert done.error and "MissingArtifactError" in done.error and waits == [1, 2]
    assert _states(webhook_receiver, watch.MONITOR_RUNS) == ["firing"]
    assert "monitor failed: MissingArtifactError" in done.summary()


def test_the_loop_ticks_and_waits_between(logged, capsys):
    cat, _ = logged
    waits = []
    done = watch.watch(cat, timedelta(minutes=10), ["1d"], notify.Settings(), ticks=2,
                       sleep=waits.append)
    assert len(done) == 2 and len(waits) == 1 and 0 < waits[0] <= 600
    assert capsys.readouterr().out.count("alert(s) firing") == 2


def test_drift_with_too_few_labels_starts_a_retrain_that_waits(logged):
    cat, now = logged
    settings = notify.Settings(retrain=retrain_trigger.RetrainTrigger(min_new_labels=1000))
    done = watch.tick(cat, ["30m"], settings, now=now - 2 * HOUR + timedelta(minutes=1))
    # the real command ran as a child process, counted the labels and left the model alone
    assert "retrain triggered by" in done.retrain and "domain_auc in last 30m" in done.retrain
    assert "exit 0, not retrained: 0 new feedback label(s) since the last retrain, 1000 " \
        "needed" in done.retrain
    assert done.retrain in done.summary()
    assert not cat.retrain_dir.exists()


def test_the_retrain_trigger_is_off_by_default_and_ignores_resolved_alerts(logged):
    cat, now = logged
    assert notify.Settings().retrain is None
    trigger = retrain_trigger.RetrainTrigger(min_new_labels=1, on=("domain_auc",))
    notice = notify.Notice("sentiment", notify.RESOLVED, "last 1h", "domain_auc", "rule", 0.5,
                           0.8, "v1", now.isoformat())
    assert trigger.run(cat, [notice]) is None
    assert trigger.triggered_by([replace(notice, state=notify.STILL_FIRING)])
    assert not trigger.triggered_by([replace(notice, state=notify.FIRING, metric="latency_p95_ms")])
    assert retrain_trigger.RetrainTrigger(1).triggered_by(
        [replace(notice, state=notify.FIRING, metric="live_f1")])
