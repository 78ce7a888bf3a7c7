"""Partitioned Parquet tables and seeded hashes: the out-of-core engine's storage.

A table too large for memory lives in a folder of Parquet parts
(``part-00000.parquet``, ...), each small enough to hold in memory, read
and written one part at a time. A folder is written beside its target under a
temporary name and renamed into place when complete, so a crash never leaves
half a table where a stage expects a whole one.

Text hashes are 64-bit SipHash values of the strings (pandas' ``hash_array``,
the same on every machine and process), keyed by a seed: they decide
duplicates (stage 3), the train/test split and the shuffling of rows into
parts (stage 3), and stratified samples (stage 4) without holding the texts.
Two different texts share a hash with probability about n^2 / 2^65 (3e-8 for a
million texts). A de-duplication keeps 8 bytes per distinct text, never the text.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: rows per part file: a part is what one process holds in memory at a time
PART_ROWS = 50_000
PART_GLOB = "part-*.parquet"


def part_name(index: int) -> str:
    """The file name of part ``index``."""
    return f"part-{index:05d}.parquet"


def part_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The parts of a partitioned table, in order; an error naming the folder if it has none."""
    folder = Path(folder)
    if folder.is_file() and folder.suffix == ".parquet":
        return [folder]
    files = sorted(folder.glob(PART_GLOB)) or sorted(folder.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{folder}: no Parquet parts (part-*.parquet) in this folder")
    return files


def count_rows(folder: str | os.PathLike[str]) -> int:
    """Rows of a partitioned table, from the Parquet footers (no data is read)."""
    return sum(pq.ParquetFile(path).metadata.num_rows for path in part_files(folder))


def read_part(path: str | os.PathLike[str], columns: list[str] | None = None) -> pd.DataFrame:
    """One part as a DataFrame (text columns as Python strings)."""
    return pq.read_table(path, columns=columns).to_pandas()


def iter_parts(
    folder: str | os.PathLike[str], columns: list[str] | None = None
) -> Iterator[pd.DataFrame]:
    """Every part of a table, one DataFrame at a time, in order."""
    for path in part_files(folder):
        yield read_part(path, columns)


def read_column(folder: str | os.PathLike[str], column: str) -> np.ndarray:
    """One column of the whole table (for labels: a few bytes a row)."""
    return np.concatenate([read_part(p, [column])[column].to_numpy(dtype=object)
                           for p in part_files(folder)])


@contextlib.contextmanager
def replacing_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success it replaces ``target``.

    On an exception the temporary folder is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old.{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _table(frame: pd.DataFrame, schema: pa.Schema | None) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


class PartWriter:
    """Writes a table as parts of at most ``part_rows`` rows, in the order rows arrive.

    Use as a context manager; the folder appears at ``target`` only when the block
    ends without an error.
    """

    def __init__(self, target: str | os.PathLike[str], part_rows: int = PART_ROWS,
                 schema: pa.Schema | None = None) -> None:
        self.target = Path(target)
        self.part_rows = part_rows
        self.schema = schema
        self.rows = 0
        self.parts = 0
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0
        self._context = replacing_folder(self.target)
        self._folder: Path | None = None

    def __enter__(self) -> PartWriter:
        self._folder = self._context.__enter__()
        return self

    def write(self, frame: pd.DataFrame) -> None:
        """Add rows; full parts are written as soon as they are complete."""
        if len(frame) == 0:
            return
        self._pending.append(frame)
        self._pending_rows += len(frame)
        while self._pending_rows >= self.part_rows:
            joined = pd.concat(self._pending, ignore_index=True)
            self._flush(joined.iloc[:self.part_rows])
            rest = joined.iloc[self.part_rows:]
            self._pending, self._pending_rows = ([rest] if len(rest) else []), len(rest)

    def _flush(self, frame: pd.DataFrame) -> None:
        assert self._folder is not None
        table = _table(frame.reset_index(drop=True), self.schema)
        self.schema = self.schema or table.schema
        pq.write_table(table, self._folder / part_name(self.parts))
        self.parts += 1
        self.rows += len(frame)

    def __exit__(self, kind, value, traceback) -> bool | None:
        if kind is None and (self._pending_rows or self.parts == 0):
            # an empty table is one empty part, so that readers find its columns
            frame = (pd.concat(self._pending, ignore_index=True) if self._pending
                     else pd.DataFrame({name: pd.Series(dtype=object) for name in
                                        (self.schema.names if self.schema else [])}))
            self._flush(frame)
        return self._context.__exit__(kind, value, traceback)


class BucketWriter:
    """Writes rows into ``parts`` parts chosen per row (e.g. by a hash): a shuffle on disk.

    Each part is one Parquet file written row group by row group, so memory
    holds one incoming chunk, not the table.
    """

    def __init__(self, target: str | os.PathLike[str], parts: int) -> None:
        self.target = Path(target)
        self.parts = max(1, parts)
        self.rows = 0
        self._writers: dict[int, pq.ParquetWriter] = {}
        self._schema: pa.Schema | None = None
        self._context = replacing_folder(self.target)
        self._folder: Path | None = None

    def __enter__(self) -> BucketWriter:
        self._folder = self._context.__enter__()
        return self

    def write(self, frame: pd.DataFrame, buckets: np.ndarray) -> None:
        """Append each row of ``frame`` to part ``buckets[i]`` (0 <= bucket < parts)."""
        assert self._folder is not None
        for bucket in np.unique(buckets):
            table = _table(frame[buckets == bucket].reset_index(drop=True), self._schema)
            self._schema = self._schema or table.schema
            if bucket not in self._writers:
                self._writers[bucket] = pq.ParquetWriter(self._folder / part_name(int(bucket)),
                                                         self._schema)
            self._writers[bucket].write_table(table)
        self.rows += len(frame)

    def set_schema(self, frame: pd.DataFrame) -> None:
        """Fix the schema from an (empty) frame, for parts that may get no rows."""
        self._schema = self._schema or _table(frame, None).schema

    def __exit__(self, kind, value, traceback) -> bool | None:
        for writer in self._writers.values():
            writer.close()
        if kind is None and self._schema is not None:
            for bucket in range(self.parts):  # every part exists, even an empty one
                path = self._folder / part_name(bucket)
                if not path.exists():
                    pq.write_table(self._schema.empty_table(), path)
        return self._context.__exit__(kind, value, traceback)


# -- seeded hashes ----------------------------------------------------------------------------
def _hash_key(purpose: str, seed: int) -> str:
    """The 16-character SipHash key for one use of the seed (split, shuffle, sample...)."""
    return f"{purpose[:6]}{seed:010d}"[-16:].rjust(16, "0")


def text_hashes(texts: Iterable[str] | np.ndarray, purpose: str = "", seed: int = 0) -> np.ndarray:
    """A 64-bit hash of each text, keyed by ``purpose`` and ``seed`` (uint64)."""
    values = np.asarray(list(texts) if not isinstance(texts, np.ndarray) else texts, dtype=object)
    if len(values) == 0:
        return np.zeros(0, dtype=np.uint64)
    return pd.util.hash_array(values, hash_key=_hash_key(purpose, seed), categorize=False)


def unit_interval(hashes: np.ndarray) -> np.ndarray:
    """Hashes mapped to [0, 1): uniformly spread, so ``u < share`` picks that share in expectation."""
    return (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def is_test(keys: Iterable[str] | np.ndarray, seed: int, test_size: float) -> np.ndarray:
    """The seeded hash split: True where a text goes to the test split.

    Decided by the text alone (its de-duplication key), never by its position:
    the same text always lands in the same split, whatever the file's order,
    and each label keeps the test share in expectation (stratified in expectation).
    """
    return unit_interval(text_hashes(keys, "split", seed)) < test_size


class FirstSeen:
    """Keeps the first occurrence of every hash across chunks (8 bytes per distinct hash)."""

    def __init__(self) -> None:
        self._seen = np.zeros(0, dtype=np.uint64)

    def keep(self, hashes: np.ndarray) -> np.ndarray:
        """True for each hash not seen in an earlier chunk nor earlier in this one."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        first = np.zeros(len(hashes), dtype=bool)
        _, index = np.unique(hashes, return_index=True)
        first[index] = True
        keep = first & ~np.isin(hashes, self._seen, assume_unique=False)
        self._seen = np.union1d(self._seen, hashes[keep])
        return keep

    @property
    def distinct(self) -> int:
        """How many distinct hashes were kept."""
        return len(self._seen)


def label_quotas(labels: np.ndarray, size: int) -> dict[Any, int]:
    """How many of ``size`` rows each label gets: its share of ``labels``, rounded by largest
    remainders (the quotas add up to ``size``)."""
    names, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * size
    quota = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - quota), kind="stable")[: size - quota.sum()]:
        quota[i] += 1
    return {name: int(q) for name, q in zip(names, quota, strict=True)}


def stratified_sample(
    folder: str | os.PathLike[str], size: int, seed: int, label_column: str = "label",
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """``size`` rows of a partitioned table with its label shares, chosen by seeded hash.

    Per label the quota is its share of ``size`` (largest remainders); the rows
    taken are those with the smallest hash of their text, so the sample is the
    same whatever the order of the parts, and memory holds at most the sample
    plus one part. All rows, in table order, when ``size`` is at least the table.
    """
    labels = read_column(folder, label_column)
    if size >= len(labels):
        return pd.concat(list(iter_parts(folder, columns)), ignore_index=True)
    quotas = label_quotas(labels, size)
    kept: pd.DataFrame | None = None
    for part in iter_parts(folder, columns):
        part = part.assign(_hash=text_hashes(part["text"].to_numpy(dtype=object), "sample", seed))
        pool = part if kept is None else pd.concat([kept, part], ignore_index=True)
        pool = pool.sort_values("_hash", kind="stable")
        rank = pool.groupby(label_column, sort=False).cumcount().to_numpy()
        limit = np.array([quotas.get(label, 0) for label in pool[label_column]], dtype=int)
        kept = pool[rank < limit]
    assert kept is not None
    return kept.sort_values("_hash", kind="stable").drop(columns="_hash").reset_index(drop=True)
