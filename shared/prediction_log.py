"""The prediction log: every prediction, feedback label and alert in one SQLite database.

SQLite in WAL mode lets readers (the monitor) work while writers append, and
each batch is one transaction: a process killed mid-write leaves the database
readable, holding every batch committed before the kill. Writers wait for each
other (``BEGIN IMMEDIATE`` with a busy timeout), so concurrent requests of the
service lose no row.

Tables:

- ``predictions``: one row per answered text: time, model version, source,
  the text (or only its SHA-256 when texts are not stored), its length, label,
  confidence, score, latency and the share of its words unknown to the model.
- ``feedback``: true labels that arrived later, each linked to a prediction.
- ``alerts``: every monitoring rule that fired, with its value and threshold.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL UNIQUE,
    batch_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    model_version TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT,
    text_sha256 TEXT NOT NULL,
    text_length INTEGER NOT NULL,
    label TEXT NOT NULL,
    confidence REAL NOT NULL,
    score REAL NOT NULL,
    latency_ms REAL NOT NULL,
    unknown_word_share REAL
);
CREATE INDEX IF NOT EXISTS predictions_batch ON predictions(batch_id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL REFERENCES predictions(prediction_id),
    true_label TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_prediction ON feedback(prediction_id);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    model_version TEXT NOT NULL,
    window_name TEXT NOT NULL,
    rule TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    threshold REAL NOT NULL
);
"""

#: columns added after the first release; older log files get them on first open
_ADDED_COLUMNS = {"predictions": {"unknown_word_share": "REAL"}}

_ready: set[str] = set()
_ready_lock = threading.Lock()
_write_locks: dict[str, threading.Lock] = {}


def _write_lock(path: str | os.PathLike[str]) -> threading.Lock:
    """One lock per log file and process: threads of one process take turns to write.

    SQLite's own busy handler, which still arbitrates between processes, waits by
    sleeping in growing steps (up to 100 ms); taking turns in-process first keeps
    concurrent requests of the service from paying those sleeps.
    """
    key = str(Path(path).resolve())
    with _ready_lock:
        return _write_locks.setdefault(key, threading.Lock())


class UnknownPredictionError(KeyError):
    """Feedback names a prediction id that the log does not hold."""


@dataclass(frozen=True)
class LoggedPrediction:
    """One answered prediction, as it goes into the log."""

    text: str
    label: str
    confidence: float
    score: float
    latency_ms: float
    unknown_word_share: float | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (and create if needed) the log, in WAL mode with the schema in place.

    The schema is checked once per process and file; the connection runs in
    autocommit mode, so callers open their own transactions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    fresh = not path.exists()
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    if fresh or key not in _ready:
        with _ready_lock:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(SCHEMA)
            for table, columns in _ADDED_COLUMNS.items():
                have = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                for name, kind in columns.items():
                    if name not in have:
                        connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            _ready.add(key)
    return connection


@contextlib.contextmanager
def write_transaction(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A connection inside ``BEGIN IMMEDIATE``: committed if the block succeeds, else rolled back.

    Threads of this process take turns (one lock per log file); other processes
    wait on SQLite's busy timeout. Either everything the block wrote is in the
    log, or nothing is.
    """
    with _write_lock(path):
        connection = connect(path)
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            connection.close()


def _optional(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def append(
    path: str | os.PathLike[str],
    predictions: Iterable[LoggedPrediction],
    model_version: str,
    source: str,
    store_text: bool = True,
) -> tuple[str, list[str]]:
    """Append a batch in one transaction; return its batch id and prediction ids.

    With ``store_text=False`` only the text's SHA-256 and length are kept.
    """
    batch_id = uuid.uuid4().hex
    now = _now()
    rows = []
    ids = []
    for p in predictions:
        prediction_id = uuid.uuid4().hex
        ids.append(prediction_id)
        rows.append((
            prediction_id, batch_id, now, model_version, source,
            p.text if store_text else None,
            hashlib.sha256(p.text.encode("utf-8")).hexdigest(),
            len(p.text), p.label, float(p.confidence), float(p.score), float(p.latency_ms),
            _optional(p.unknown_word_share),
        ))
    with write_transaction(path) as connection:
        connection.executemany(
            "INSERT INTO predictions (prediction_id, batch_id, created_at, model_version, "
            "source, text, text_sha256, text_length, label, confidence, score, latency_ms, "
            "unknown_word_share) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return batch_id, ids


def read(
    path: str | os.PathLike[str],
    batch_id: str | Sequence[str] | None = None,
    last: int | None = None,
    with_feedback: bool = False,
) -> pd.DataFrame:
    """The logged predictions, oldest first.

    ``batch_id`` keeps one batch (or several, given a list); ``last`` keeps the
    most recent rows; ``with_feedback`` adds ``true_label``, the latest feedback
    for each prediction (empty where none arrived).
    """
    connection = connect(path)
    try:
        columns = "p.*"
        joins = ""
        if with_feedback:
            columns += ", COALESCE(f.true_label, '') AS true_label"
            joins = (
                " LEFT JOIN feedback f ON f.id = (SELECT MAX(id) FROM feedback "
                "WHERE prediction_id = p.prediction_id)"
            )
        query = f"SELECT {columns} FROM predictions p{joins}"
        params: list[object] = []
        if batch_id is not None:
            batches = [batch_id] if isinstance(batch_id, str) else list(batch_id)
            query += f" WHERE p.batch_id IN ({', '.join('?' * len(batches))})"
            params += batches
        if last is not None:
            query = f"SELECT * FROM ({query} ORDER BY p.id DESC LIMIT ?)"
            params.append(int(last))
            return pd.read_sql_query(query + " ORDER BY id", connection, params=params)
        return pd.read_sql_query(query + " ORDER BY p.id", connection, params=params)
    finally:
        connection.close()


def count(path: str | os.PathLike[str], source: str | None = None) -> int:
    """How many predictions the log holds (from one source, if given)."""
    connection = connect(path)
    try:
        if source is None:
            return int(connection.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
        return int(connection.execute(
            "SELECT COUNT(*) FROM predictions WHERE source = ?", (source,)).fetchone()[0])
    finally:
        connection.close()


def add_feedback(path: str | os.PathLike[str], prediction_id: str, true_label: str) -> str:
    """Record the true label of one prediction; return the label the model had predicted.

    Raises UnknownPredictionError when the log holds no such prediction. A
    later feedback for the same prediction supersedes an earlier one.
    """
    with write_transaction(path) as connection:
        return _insert_feedback(connection, prediction_id, true_label, _now())


def add_feedback_many(
    path: str | os.PathLike[str], feedback: Iterable[tuple[str, str]]
) -> int:
    """Record many (prediction id, true label) pairs in one transaction; return the count.

    Raises UnknownPredictionError, and records nothing, if any id is unknown.
    """
    pairs = list(feedback)
    now = _now()
    with write_transaction(path) as connection:
        for prediction_id, true_label in pairs:
            _insert_feedback(connection, prediction_id, true_label, now)
    return len(pairs)


def _insert_feedback(
    connection: sqlite3.Connection, prediction_id: str, true_label: str, now: str
) -> str:
    """Insert one feedback row; return the predicted label, or raise for an unknown id."""
    row = connection.execute(
        "SELECT label FROM predictions WHERE prediction_id = ?", (prediction_id,)
    ).fetchone()
    if row is None:
        raise UnknownPredictionError(prediction_id)
    connection.execute(
        "INSERT INTO feedback (prediction_id, true_label, created_at) VALUES (?, ?, ?)",
        (prediction_id, true_label, now),
    )
    return str(row[0])


def record_alerts(
    path: str | os.PathLike[str], alerts: pd.DataFrame, window: str, model_version: str
) -> int:
    """Append the rules that fired (rows of ``alerts`` with ``fired``); return how many."""
    fired = alerts[alerts["fired"]]
    now = _now()
    rows = [
        (now, model_version, window, r.rule, r.metric, float(r.value), float(r.threshold))
        for r in fired.itertuples()
    ]
    if not rows:
        return 0
    with write_transaction(path) as connection:
        connection.executemany(
            "INSERT INTO alerts (created_at, model_version, window_name, rule, metric, value, "
            "threshold) VALUES (?, ?, ?, ?, ?, ?, ?)", rows,
        )
    return len(rows)


def read_alerts(path: str | os.PathLike[str], window: str | None = None) -> pd.DataFrame:
    """The recorded alerts (of one window, if given), oldest first."""
    connection = connect(path)
    try:
        query = "SELECT * FROM alerts"
        params: tuple[str, ...] = ()
        if window is not None:
            query += " WHERE window_name = ?"
            params = (window,)
        return pd.read_sql_query(query + " ORDER BY id", connection, params=params)
    finally:
        connection.close()
