"""Notifiers and alert state: firing once, again after the cooldown, then resolved."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from shared.monitoring import alerts, notify
from shared.monitoring.retrain_trigger import RetrainTrigger

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _table(fired: bool | None) -> pd.DataFrame:
    """One rule of one window: fired, calm, or (None) waiting for labels."""
    state = {True: "fired", False: "ok", None: "not enough labels (3 of 20)"}[fired]
    return pd.DataFrame([("last 1d", "live recall on feedback labels", "live_recall",
                          0.5 if fired else 0.9, 0.8, bool(fired), state)],
                        columns=alerts.TABLE_COLUMNS)


def test_an_alert_fires_once_per_cooldown_and_resolves_when_calm():
    hour = timedelta(hours=1)
    notices, state = notify.changes(_table(True), {}, T0, hour, "spam", "v1")
    assert [n.state for n in notices] == ["firing"]
    assert "FIRING: live_recall = 0.500 (under 0.8) in last 1d" in notices[0].text
    notices, state = notify.changes(_table(True), state, T0 + 10 * timedelta(minutes=1), hour,
                                    "spam", "v1")
    assert notices == []
    notices, state = notify.changes(_table(None), state, T0 + 2 * hour, hour, "spam", "v1")
    assert notices == [] and state  # waiting for labels: neither fired nor resolved
    notices, state = notify.changes(_table(True), state, T0 + 2 * hour, hour, "spam", "v1")
    assert [n.state for n in notices] == ["still firing"]
    notices, state = notify.changes(_table(False), state, T0 + 3 * hour, hour, "spam", "v1")
    assert [n.state for n in notices] == ["resolved"] and state == {}
    assert notices[0].text.startswith("[spam] RESOLVED: live_recall in last 1d")


def test_the_webhook_posts_text_for_chat_and_every_field_for_a_receiver(webhook_receiver,
                                                                         monkeypatch):
    monkeypatch.setenv("ALERT_TOKEN", "s3cret-token-value")
    notice = notify.changes(_table(True), {}, T0, timedelta(hours=1), "spam", "v1")[0][0]
    assert notify.deliver([notice], [notify.Webhook("ALERT_WEBHOOK_URL", "ALERT_TOKEN")]) == []
    (received,) = webhook_receiver.received
    assert received["body"]["text"] == notice.text
    assert received["body"]["alert"]["metric"] == "live_recall"
    assert received["body"]["alert"]["state"] == "firing"
    assert received["authorization"] == "Bearer s3cret-token-value"


def test_a_failing_webhook_names_its_variable_never_the_url(webhook_receiver, caplog):
    webhook_receiver.status = 500
    notice = notify.changes(_table(True), {}, T0, timedelta(hours=1), "spam", "v1")[0][0]
    undelivered = notify.deliver([notice], [notify.Webhook("ALERT_WEBHOOK_URL", attempts=2)])
    assert undelivered == [notice] and len(webhook_receiver.received) == 2
    assert "webhook $ALERT_WEBHOOK_URL: not delivered after 2 attempts (HTTP 500)" in caplog.text
    assert str(webhook_receiver.server_port) not in caplog.text


def test_an_undelivered_notice_is_sent_again_on_the_next_tick():
    before: dict = {}
    notices, after = notify.changes(_table(True), before, T0, timedelta(hours=1), "spam", "v1")
    assert notify.keep_for_retry(before, after, notices) == {}
    again, _ = notify.changes(_table(True), {}, T0 + timedelta(minutes=10), timedelta(hours=1),
                              "spam", "v1")
    assert [n.state for n in again] == ["firing"]


def test_the_command_gets_the_json_on_its_standard_input(tmp_path):
    out = tmp_path / "got.json"
    command = notify.Command([sys.executable, "-c",
                              f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"])
    notice = notify.changes(_table(True), {}, T0, timedelta(hours=1), "spam", "v1")[0][0]
    assert notify.deliver([notice], [command]) == []
    assert json.loads(out.read_text())["alert"]["window"] == "last 1d"
    failing = notify.Command([sys.executable, "-c", "import sys; sys.exit('no mail server')"])
    assert notify.deliver([notice], [failing]) == [notice]


def test_settings_come_from_a_small_toml_file(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text('cooldown = "30m"\n[[webhook]]\nurl_env = "HOOK"\n'
                    '[[command]]\nrun = ["page-oncall", "--team", "ml"]\n')
    settings = notify.load_settings(path)
    assert settings.cooldown == timedelta(minutes=30)
    assert [n.name for n in settings.notifiers] == ["webhook $HOOK", "command page-oncall"]
    assert settings.retrain is None  # no retrain unless asked for
    path.write_text('[retrain]\nmin_new_labels = 50\non = ["domain_auc"]\n')
    assert notify.load_settings(path).retrain == RetrainTrigger(50, ("domain_auc",))


@pytest.mark.parametrize(("text", "message"), [
    ('[[webhook]]\nurl = "https://hooks.example/T000/B000/XXXX"\n', "webhook 1: give url_env"),
    ('[[command]]\nrun = "page-oncall"\n', "command 1: give run, a list"),
    ('cooldown = "soon"\n', "cooldown: 'soon' is not a duration"),
    ('[[email]]\nto = "x"\n', "unknown key(s) ['email']"),
    ('[retrain]\nmin_new_labels = 0\n', "retrain: min_new_labels must be a whole number"),
    ('[retrain]\nmin_new_labels = 5\non = "drift"\n', "retrain: on must be a list"),
    ('[retrain]\nlabels = 5\n', "retrain: unknown key(s) ['labels']"),
])
def test_bad_settings_name_the_file_and_the_entry(tmp_path, text, message):
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    with pytest.raises(notify.NotifyConfigError, match="alerts.toml") as error:
        notify.load_settings(path)
    assert message in str(error.value)
