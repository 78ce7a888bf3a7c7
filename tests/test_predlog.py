import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

from shared import predlog


def _batch(n, start=0):
    return [predlog.LoggedPrediction(f"text {i}", "positive", 0.9, 0.9, 1.0)
            for i in range(start, start + n)]


def test_append_and_read_by_batch(tmp_path):
    log = tmp_path / "log.sqlite"
    first, ids = predlog.append(log, _batch(3), "v1", "test")
    second, _ = predlog.append(log, _batch(2, 3), "v1", "test")
    assert len(ids) == len(set(ids)) == 3
    assert len(predlog.read(log)) == 5
    assert predlog.read(log, first)["text"].tolist() == ["text 0", "text 1", "text 2"]
    assert len(predlog.read(log, second)) == 2


def test_privacy_mode_stores_only_the_hash(tmp_path):
    log = tmp_path / "log.sqlite"
    batch, _ = predlog.append(log, _batch(1), "v1", "test", store_text=False)
    row = predlog.read(log, batch).iloc[0]
    assert row["text"] is None and len(row["text_sha256"]) == 64 and row["text_length"] == 6


def test_wal_mode(tmp_path):
    log = tmp_path / "log.sqlite"
    predlog.append(log, _batch(1), "v1", "test")
    mode = sqlite3.connect(log).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_killed_writer_leaves_every_committed_batch(tmp_path):
    log = tmp_path / "log.sqlite"
    script = textwrap.dedent(f"""
        import os, sys
        from shared import predlog
        for b in range(1000):
            predlog.append({str(log)!r}, [predlog.LoggedPrediction(f"t{{b}}-{{i}}", "positive",
                           0.9, 0.9, 1.0) for i in range(50)], "v1", "writer")
            print(b, flush=True)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    committed = -1
    for line in writer.stdout:
        committed = int(line)
        if committed >= 20:
            time.sleep(0.003)  # the writer is inside its next batch by now: kill it mid-write
            writer.kill()
            break
    writer.wait()
    rows = predlog.read(log)
    assert sqlite3.connect(log).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every batch reported as committed is there, whole; batches are never partial
    assert len(rows) >= (committed + 1) * 50
    assert len(rows) % 50 == 0
    assert rows.groupby("batch_id").size().eq(50).all()
    present = set(rows["text"])
    assert all(f"t{b}-{i}" in present for b in range(committed + 1) for i in range(50))
    predlog.append(log, _batch(1), "v1", "after the crash")  # and it takes new writes


def test_feedback_links_to_a_prediction_and_refuses_unknown_ids(tmp_path):
    log = tmp_path / "log.sqlite"
    batch, ids = predlog.append(log, _batch(3), "v1", "test")
    assert predlog.add_feedback(log, ids[0], "negative") == "positive"
    predlog.add_feedback(log, ids[0], "positive")  # a later label supersedes the first
    assert predlog.add_feedback_many(log, [(ids[1], "negative")]) == 1
    with pytest.raises(predlog.UnknownPredictionError):
        predlog.add_feedback(log, "no-such-id", "positive")
    with pytest.raises(predlog.UnknownPredictionError):  # all or nothing
        predlog.add_feedback_many(log, [(ids[2], "negative"), ("no-such-id", "positive")])
    rows = predlog.read(log, batch, with_feedback=True)
    assert rows["true_label"].tolist() == ["positive", "negative", ""]
    with sqlite3.connect(log) as db:
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 3


def test_read_last_rows_and_several_batches(tmp_path):
    log = tmp_path / "log.sqlite"
    first, _ = predlog.append(log, _batch(3), "v1", "test")
    second, _ = predlog.append(log, _batch(2, 3), "v1", "test")
    assert predlog.read(log, last=2)["text"].tolist() == ["text 3", "text 4"]
    assert len(predlog.read(log, [first, second])) == 5
    assert predlog.count(log) == 5 and predlog.count(log, "other") == 0


def test_alerts_are_recorded_with_rule_value_and_threshold(tmp_path):
    log = tmp_path / "log.sqlite"
    table = pd.DataFrame({
        "rule": ["mean confidence", "domain classifier"], "metric": ["mean_confidence", "domain_auc"],
        "value": [0.55, 0.91], "threshold": [0.6, 0.75], "fired": [True, False],
    })
    assert predlog.record_alerts(log, table, "predictions 1-50", "v1") == 1
    alerts = predlog.read_alerts(log)
    assert alerts[["window_name", "metric", "value", "threshold"]].values.tolist() == [
        ["predictions 1-50", "mean_confidence", 0.55, 0.6]]
    assert alerts.loc[0, "created_at"]


def test_an_old_log_gets_the_new_column(tmp_path):
    log = tmp_path / "old.sqlite"
    with sqlite3.connect(log) as db:
        db.executescript(predlog.SCHEMA.replace(",\n    unknown_word_share REAL", ""))
    predlog._ready.discard(str(log.resolve()))
    predlog.append(log, _batch(1), "v1", "test")
    assert "unknown_word_share" in predlog.read(log).columns


def test_concurrent_writers_lose_no_row(tmp_path):
    log = tmp_path / "log.sqlite"
    errors = []

    def writer(n):
        try:
            for b in range(10):
                predlog.append(log, _batch(5, n * 1000 + b * 5), "v1", f"writer{n}")
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    rows = predlog.read(log)
    assert len(rows) == 8 * 10 * 5 and rows["prediction_id"].is_unique
