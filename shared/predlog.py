"""The prediction log: every prediction appended to one SQLite database.

SQLite in WAL mode lets readers (the monitor) work while a writer appends,
and each batch is one transaction: a process killed mid-write leaves the
database readable, holding every batch committed before the kill.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Iterable
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
    latency_ms REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_batch ON predictions(batch_id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL REFERENCES predictions(prediction_id),
    true_label TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class LoggedPrediction:
    """One answered prediction, as it goes into the log."""

    text: str
    label: str
    confidence: float
    score: float
    latency_ms: float


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """Open (and create if needed) the log, in WAL mode with the schema in place."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.executescript(SCHEMA)
    return connection


def append(
    path: str | os.PathLike[str],
    predictions: Iterable[LoggedPrediction],
    model_version: str,
    source: str,
    store_text: bool = True,
) -> tuple[str, list[str]]:
    """Append a batch in one transaction; return its batch id and prediction ids."""
    batch_id = uuid.uuid4().hex
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
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
        ))
    connection = connect(path)
    try:
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(
                "INSERT INTO predictions (prediction_id, batch_id, created_at, model_version, "
                "source, text, text_sha256, text_length, label, confidence, score, latency_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    finally:
        connection.close()
    return batch_id, ids


def read(path: str | os.PathLike[str], batch_id: str | None = None) -> pd.DataFrame:
    """The logged predictions (of one batch, if given), oldest first."""
    connection = connect(path)
    try:
        query = "SELECT * FROM predictions"
        params: tuple[str, ...] = ()
        if batch_id is not None:
            query += " WHERE batch_id = ?"
            params = (batch_id,)
        return pd.read_sql_query(query + " ORDER BY id", connection, params=params)
    finally:
        connection.close()
