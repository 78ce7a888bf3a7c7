import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

from shared.core.catalog import Catalog
from shared.serving import log_store, prediction_log


def _batch(n, start=0):
    return [prediction_log.LoggedPrediction(f"text {i}", "positive", 0.9, 0.9, 1.0)
            for i in range(start, start + n)]


def test_append_and_read_by_batch(tmp_path):
    log = tmp_path / "log.sqlite"
    first, ids = prediction_log.append(log, _batch(3), "v1", "test")
    second, _ = prediction_log.append(log, _batch(2, 3), "v1", "test")
    assert len(ids) == len(set(ids)) == 3
    assert len(prediction_log.read(log)) == 5
    assert prediction_log.read(log, first)["text"].tolist() == ["text 0", "text 1", "text 2"]
    assert len(prediction_log.read(log, second)) == 2


def test_privacy_mode_stores_only_the_hash(tmp_path):
    log = tmp_path / "log.sqlite"
    batch, _ = prediction_log.append(log, _batch(1), "v1", "test", store_text=False)
    row = prediction_log.read(log, batch).iloc[0]
    assert row["text"] is None and len(row["text_sha256"]) == 64 and row["text_length"] == 6


def test_wal_mode(tmp_path):
    log = tmp_path / "log.sqlite"
    prediction_log.append(log, _batch(1), "v1", "test")
    mode = sqlite3.connect(log).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_killed_writer_leaves_every_committed_batch(tmp_path):
    log = tmp_path / "log.sqlite"
    script = textwrap.dedent(f"""
        import os, sys
        from shared.serving import log_store, prediction_log
from shared.core.catalog import Catalog
        for b in range(1000):
            prediction_log.append({str(log)!r}, [prediction_log.LoggedPrediction(f"t{{b}}-{{i}}", "positive",
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
    rows = prediction_log.read(log)
    assert sqlite3.connect(log).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every batch reported as committed is there, whole; batches are never partial
    assert len(rows) >= (committed + 1) * 50
    assert len(rows) % 50 == 0
    assert rows.groupby("batch_id").size().eq(50).all()
    present = set(rows["text"])
    assert all(f"t{b}-{i}" in present for b in range(committed + 1) for i in range(50))
    prediction_log.append(log, _batch(1), "v1", "after the crash")  # and it takes new writes


def test_feedback_links_to_a_prediction_and_refuses_unknown_ids(tmp_path):
    log = tmp_path / "log.sqlite"
    batch, ids = prediction_log.append(log, _batch(3), "v1", "test")
    assert prediction_log.add_feedback(log, ids[0], "negative") == "positive"
    prediction_log.add_feedback(log, ids[0], "positive")  # a later label supersedes the first
    assert prediction_log.add_feedback_many(log, [(ids[1], "negative")]) == 1
    with pytest.raises(prediction_log.UnknownPredictionError):
        prediction_log.add_feedback(log, "no-such-id", "positive")
    with pytest.raises(prediction_log.UnknownPredictionError):  # all or nothing
        prediction_log.add_feedback_many(log, [(ids[2], "negative"), ("no-such-id", "positive")])
    rows = prediction_log.read(log, batch, with_feedback=True)
    assert rows["true_label"].tolist() == ["positive", "negative", ""]
    with sqlite3.connect(log) as db:
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 3


def test_read_last_rows_and_several_batches(tmp_path):
    log = tmp_path / "log.sqlite"
    first, _ = prediction_log.append(log, _batch(3), "v1", "test")
    second, _ = prediction_log.append(log, _batch(2, 3), "v1", "test")
    assert prediction_log.read(log, last=2)["text"].tolist() == ["text 3", "text 4"]
    assert len(prediction_log.read(log, [first, second])) == 5
    assert prediction_log.count(log) == 5 and prediction_log.count(log, "other") == 0


def test_alerts_are_recorded_with_rule_value_and_threshold(tmp_path):
    log = tmp_path / "log.sqlite"
    table = pd.DataFrame({
        "rule": ["mean confidence", "domain classifier"], "metric": ["mean_confidence", "domain_auc"],
        "value": [0.55, 0.91], "threshold": [0.6, 0.75], "fired": [True, False],
    })
    assert prediction_log.record_alerts(log, table, "predictions 1-50", "v1") == 1
    alerts = prediction_log.read_alerts(log)
    assert alerts[["window_name", "metric", "value", "threshold"]].values.tolist() == [
        ["predictions 1-50", "mean_confidence", 0.55, 0.6]]
    assert alerts.loc[0, "created_at"]


def test_an_old_log_gets_the_new_column(tmp_path):
    log = tmp_path / "old.sqlite"
    with sqlite3.connect(log) as db:
        db.executescript(prediction_log.SCHEMA.replace(",\n    unknown_word_share REAL", ""))
    log_store._ready.discard(str(log.resolve()))
    prediction_log.append(log, _batch(1), "v1", "test")
    assert "unknown_word_share" in prediction_log.read(log).columns


def test_a_first_release_log_is_rebuilt_to_hold_failed_predictions(tmp_path):
    log = tmp_path / "first.sqlite"
    first = (prediction_log.SCHEMA.replace(",\n    unknown_word_share REAL", "")
             .replace(",\n    error TEXT NOT NULL DEFAULT ''", "")
             .replace("confidence REAL,", "confidence REAL NOT NULL,")
             .replace("score REAL,", "score REAL NOT NULL,"))
    with sqlite3.connect(log) as db:
        db.executescript(first)
    log_store._ready.discard(str(log.resolve()))
    _, kept = prediction_log.append(log, _batch(1), "v1", "test")
    prediction_log.add_feedback(log, kept[0], "positive")
    log_store._ready.discard(str(log.resolve()))  # as a new process would open it
    failed = prediction_log.LoggedPrediction("boom", "", float("nan"), float("nan"), 1.0,
                                             None, "the model returned an invalid score")
    prediction_log.append(log, [failed], "v1", "test")
    rows = prediction_log.read(log, with_feedback=True)
    assert rows["prediction_id"].iloc[0] == kept[0] and rows["true_label"].iloc[0] == "positive"
    assert rows["error"].tolist() == ["", "the model returned an invalid score"]
    assert rows["score"].isna().tolist() == [False, True]


def test_concurrent_writers_lose_no_row(tmp_path):
    log = tmp_path / "log.sqlite"
    errors = []

    def writer(n):
        try:
            for b in range(10):
                prediction_log.append(log, _batch(5, n * 1000 + b * 5), "v1", f"writer{n}")
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    rows = prediction_log.read(log)
    assert len(rows) == 8 * 10 * 5 and rows["prediction_id"].is_unique


def test_a_failed_write_transaction_leaves_nothing(tmp_path):
    log = tmp_path / "log.sqlite"
    prediction_log.append(log, _batch(2), "v1", "test")
    with pytest.raises(RuntimeError), prediction_log.write_transaction(log) as connection:
        connection.execute(
            "INSERT INTO alerts (created_at, model_version, window_name, rule, metric, value, "
            "threshold) VALUES ('t', 'v1', 'w', 'r', 'm', 1, 1)")
        raise RuntimeError("crash inside the transaction")
    assert prediction_log.read_alerts(log).empty
    assert len(prediction_log.read(log)) == 2


def test_group_commit_writes_every_batch_in_one_transaction(tmp_path):
    log = tmp_path / "log.sqlite"
    answers = prediction_log.append_batches(log, [_batch(2), _batch(1, 2), _batch(3, 3)], "v1", "t")
    assert [len(ids) for _, ids in answers] == [2, 1, 3]
    for batch_id, ids in answers:
        assert prediction_log.read(log, batch_id)["prediction_id"].tolist() == ids


def test_a_failed_group_commit_logs_no_batch(tmp_path):
    log = tmp_path / "log.sqlite"
    prediction_log.append(log, _batch(1), "v1", "test")
    with sqlite3.connect(log) as db:  # the third row of the group cannot be written
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON predictions WHEN NEW.text = 'text 102' "
                   "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    with pytest.raises(sqlite3.IntegrityError, match="injected failure"):
        prediction_log.append_batches(log, [_batch(2, 100), _batch(2, 102)], "v1", "test")
    assert prediction_log.count(log) == 1
    with sqlite3.connect(log) as db:
        db.execute("DROP TRIGGER refuse")
    prediction_log.append(log, _batch(1, 200), "v1", "test")  # the writer recovers
    assert prediction_log.count(log) == 2


def test_the_writer_follows_a_replaced_log_file(tmp_path):
    log = tmp_path / "log.sqlite"
    prediction_log.append(log, _batch(2), "v1", "test")
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"log.sqlite{suffix}").unlink(missing_ok=True)
    prediction_log.append(log, _batch(1), "v1", "test")
    assert prediction_log.count(log) == 1


def test_purge_deletes_old_predictions_and_their_feedback(tmp_path):
    root = tmp_path / "project"
    log = Catalog.for_task("sentiment", root).path("prediction_log")
    old_batch, old_ids = prediction_log.append(log, _batch(3), "v1", "test")
    _, new_ids = prediction_log.append(log, _batch(2, 3), "v1", "test")
    prediction_log.add_feedback_many(log, [(old_ids[0], "negative"), (new_ids[0], "positive")])
    with sqlite3.connect(log) as db:
        db.execute("UPDATE predictions SET created_at = '2000-01-01T00:00:00.000+00:00' "
                   "WHERE batch_id = ?", (old_batch,))
    assert prediction_log.main(["purge", "--task", "sentiment", "--older-than", "30",
                                "--root", str(root)]) == 0
    rows = prediction_log.read(log, with_feedback=True)
    assert rows["prediction_id"].tolist() == new_ids
    assert rows["true_label"].tolist() == ["positive", ""]
    with sqlite3.connect(log) as db:
        assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 1
    assert prediction_log.purge(log, 0) == {"predictions": 2, "feedback": 1}


def test_purge_reports_counts_and_refuses_what_it_cannot_do(tmp_path, capsys):
    root = tmp_path / "project"
    assert prediction_log.main(["purge", "--task", "spam", "--root", str(root)]) == 2
    assert "problem.json" in capsys.readouterr().err  # no --older-than and no spec to read
    log = Catalog.for_task("spam", root).path("prediction_log")
    prediction_log.append(log, _batch(2), "v1", "test")
    assert prediction_log.main(["purge", "--task", "spam", "--older-than", "-1",
                                "--root", str(root)]) == 2
    assert prediction_log.main(["purge", "--task", "spam", "--older-than", "7",
                                "--root", str(root)]) == 0
    assert ("purged what was older than 7 days under" in capsys.readouterr().out)
    assert prediction_log.count(log) == 2


def test_ids_are_unique_hex_and_sort_by_time():
    first = prediction_log.new_id()
    time.sleep(0.002)
    ids = [prediction_log.new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert all(first < i for i in ids)
