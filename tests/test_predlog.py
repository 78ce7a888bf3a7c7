import sqlite3
import subprocess
import sys
import textwrap

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
            writer.kill()
            break
    writer.wait()
    rows = predlog.read(log)
    assert sqlite3.connect(log).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every batch reported as committed is there, whole; batches are never partial
    assert len(rows) >= (committed + 1) * 50
    assert len(rows) % 50 == 0
