"""The SQLite file behind the prediction log: schema, connections and write transactions.

SQLite in WAL mode lets readers (the monitor) work while writers append. Each
process keeps ONE long-lived write connection per log file (opening one, with
its pragmas, costs more than a small transaction); threads take turns on it and
processes wait for each other (``BEGIN IMMEDIATE`` with a busy timeout), so
several service workers can share one log and lose no row. What is stored is
``shared.serving.prediction_log``'s business.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

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
    confidence REAL,
    score REAL,
    latency_ms REAL NOT NULL,
    unknown_word_share REAL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS predictions_batch ON predictions(batch_id);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    prediction_id TEXT NOT NULL REFERENCES predictions(prediction_id),
    true_label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    api_key_id TEXT
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
_ADDED_COLUMNS = {"predictions": {"unknown_word_share": "REAL",
                                  "error": "TEXT NOT NULL DEFAULT ''"},
                  "feedback": {"api_key_id": "TEXT"}}
#: columns that were NOT NULL in the first release and may now be NULL: a prediction the
#: model failed on is logged with its error, and a NaN score can only be stored as NULL
_NULLABLE = ("confidence", "score")

_ready: set[str] = set()
_ready_lock = threading.Lock()
_writers: dict[tuple[int, str], _Writer] = {}


class _Writer:
    """The long-lived write connection of one process to one log file.

    Opening a connection (and its pragmas) costs more than a small transaction,
    so each process keeps one per log and threads take turns on it (``lock``).
    SQLite's own busy handler, which still arbitrates between processes, waits
    by sleeping in growing steps (up to 100 ms); taking turns in-process first
    keeps concurrent requests of the service from paying those sleeps. The
    connection is reopened when the file was replaced or removed (it would
    otherwise write to a deleted file) and after any SQLite error.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.connection: sqlite3.Connection | None = None
        self.identity: tuple[int, int] | None = None

    def open(self) -> sqlite3.Connection:
        """The connection, (re)opened if the file it was opened on is no longer at ``path``."""
        try:
            found = os.stat(self.path)
            identity: tuple[int, int] | None = (found.st_dev, found.st_ino)
        except FileNotFoundError:
            identity = None
        if self.connection is None or identity != self.identity:
            self.close()
            self.connection = connect(self.path)
            found = os.stat(self.path)
            self.identity = (found.st_dev, found.st_ino)
        return self.connection

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back); the next write reopens."""
        if self.connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self.connection.close()
            self.connection = None


def _writer(path: str | os.PathLike[str]) -> _Writer:
    """This process's writer for the log at ``path`` (a new process gets its own)."""
    key = (os.getpid(), str(path))
    writer = _writers.get(key)
    if writer is None:
        with _ready_lock:
            writer = _writers.setdefault(key, _Writer(Path(path)))
    return writer


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
            _allow_nulls(connection)
            _ready.add(key)
    return connection


def _allow_nulls(connection: sqlite3.Connection) -> None:
    """Rebuild an older log's ``predictions`` table so that a failed prediction fits in it.

    SQLite cannot drop a NOT NULL constraint in place; the documented way is a
    new table, a copy and a rename, in one transaction (foreign keys off while
    the feedback table points at the table being replaced).
    """
    def strict() -> bool:
        info = connection.execute("PRAGMA table_info(predictions)").fetchall()
        return any(row[1] in _NULLABLE and row[3] for row in info)

    if not strict():
        return
    connection.execute("PRAGMA foreign_keys=OFF")
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            if strict():  # another process may have rebuilt it while this one waited
                columns = ", ".join(
                    row[1] for row in connection.execute("PRAGMA table_info(predictions)"))
                table = SCHEMA.split("CREATE TABLE IF NOT EXISTS predictions ", 1)[1]
                table = table.split(";", 1)[0]
                connection.execute(f"CREATE TABLE predictions_rebuilt {table}")
                connection.execute(f"INSERT INTO predictions_rebuilt ({columns}) "
                                   f"SELECT {columns} FROM predictions")
                connection.execute("DROP TABLE predictions")
                connection.execute("ALTER TABLE predictions_rebuilt RENAME TO predictions")
                connection.execute(
                    "CREATE INDEX IF NOT EXISTS predictions_batch ON predictions(batch_id)")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.execute("PRAGMA foreign_keys=ON")


@contextlib.contextmanager
def write_transaction(path: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A connection inside ``BEGIN IMMEDIATE``: committed if the block succeeds, else rolled back.

    The connection is this process's long-lived writer for the file; threads of
    the process take turns on it, other processes wait on SQLite's busy
    timeout. Either everything the block wrote is in the log, or nothing is.
    """
    writer = _writer(path)
    with writer.lock:
        connection = writer.open()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        except sqlite3.Error:
            writer.close()  # a connection that failed is not trusted with the next batch
            raise


def checkpoint(path: str | os.PathLike[str]) -> None:
    """Copy the write-ahead log into the database file and empty it (after a purge)."""
    writer = _writer(path)
    with writer.lock:
        writer.open().execute("PRAGMA wal_checkpoint(TRUNCATE)")
