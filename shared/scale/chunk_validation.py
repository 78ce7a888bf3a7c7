"""Stage 2 out of core: every chunk validated, the kept rows written as Parquet parts.

Each chunk (``shared.data.chunks``) goes through the very same
``shared.data.validation.validate``. One rule spans chunks: the same text with two
labels. So pass 1 validates every chunk and stages its kept rows,
remembering a 64-bit hash and the label of each; pass 2 reads the staged rows
back (Parquet, fast) and quarantines the texts whose hash carries two labels.
Rows read = rows kept + rows quarantined, as in memory. With a Dask client
and a Parquet input, the chunks are the partitions of a ``dask.dataframe``,
validated on the workers.

The quarantine lists rows with a per-row reason in file order, then the rows
of texts with conflicting labels in file order.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shared.core import storage
from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import CollectionReport, LoadedData
from shared.data import partitions
from shared.data.chunks import CHUNK_ROWS, _schema_frame, is_parquet, iter_source_chunks
from shared.data.engines import OUT_OF_CORE, drop_stale
from shared.data.userfile import _check_columns
from shared.data.validation import quarantine_table, snapshot_columns, validate

CONFLICT = "same text with conflicting labels"
#: distinct sources listed in the profile; more are summed under "(other sources)"
MAX_SOURCES = 1_000

@dataclass
class ChunkResult:
    """One validated chunk: kept rows (with their text hash) and quarantined rows."""

    kept: pd.DataFrame
    quarantined: pd.DataFrame
    rows_read: int


def key_hashes(texts: pd.Series) -> np.ndarray:
    """The hash of the key under which validation compares texts (stripped, case-folded)."""
    return partitions.text_hashes(texts.map(lambda t: t.strip().casefold()).to_numpy(dtype=object),
                                  "conflict", 0)


def validate_chunk(chunk: pd.DataFrame, spec: ProblemSpec) -> ChunkResult:
    """``shared.data.validation.validate`` on one chunk, the kept rows keyed by their text hash.

    Rows quarantined here for a conflict inside the chunk stay in ``kept`` marked
    ``_conflict``: their labels are needed to find the same text in other chunks.
    """
    validated = validate(LoadedData("chunk", chunk, "chunk"), spec)
    quarantined = validated.quarantined
    conflicted = quarantined[quarantined["reason"] == CONFLICT]
    kept = pd.concat([
        validated.kept.assign(_conflict=False),
        conflicted.drop(columns="reason").assign(
            text=conflicted["text"].map(str.strip), _conflict=True),
    ], ignore_index=True)
    kept["_key"] = key_hashes(kept["text"])
    return ChunkResult(kept, quarantined[quarantined["reason"] != CONFLICT], len(chunk))


@dataclass
class Profile:
    """Stage 2's profile (``shared.data.validation.profile``), counted chunk by chunk."""

    spec: ProblemSpec
    labels: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    source_labels: Counter = field(default_factory=Counter)
    words: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    rows: int = 0
    distinct: partitions.FirstSeen = field(default_factory=partitions.FirstSeen)

    def add(self, kept: pd.DataFrame, keys: np.ndarray) -> None:
        """Count the kept rows of one part (``keys``: their ``key_hashes``)."""
        self.rows += len(kept)
        self.labels.update(kept["label"])
        self.sources.update(kept["source"])
        self.source_labels.update(zip(kept["source"], kept["label"], strict=True))
        counts = np.bincount(kept["text"].str.split().str.len().to_numpy(dtype=np.int64))
        if len(counts) > len(self.words):
            self.words = np.pad(self.words, (0, len(counts) - len(self.words)))
        self.words[:len(counts)] += counts
        self.distinct.keep(keys)

    def as_dict(self) -> dict[str, object]:
        """The same keys as ``shared.data.validation.profile``."""
        names = sorted(self.sources) if len(self.sources) <= MAX_SOURCES else \
            sorted(name for name, _ in self.sources.most_common(MAX_SOURCES))
        sources = {str(name): {label: self.source_labels.get((name, label), 0)
                               for label in self.spec.labels} for name in names}
        if len(self.sources) > MAX_SOURCES:
            sources["(other sources)"] = {
                label: self.labels.get(label, 0) - sum(s[label] for s in sources.values())
                for label in self.spec.labels}
        cumulative = np.cumsum(self.words)
        middle = [(self.rows - 1) // 2, self.rows // 2]
        median = float(np.mean([np.searchsorted(cumulative, m, side="right") for m in middle])) \
            if self.rows else float("nan")
        return {
            "rows": self.rows,
            "labels": {label: int(self.labels.get(label, 0)) for label in self.spec.labels},
            "sources": {name: {k: int(v) for k, v in counts.items()}
                        for name, counts in sources.items()},
            "duplicate_texts": self.rows - self.distinct.distinct,
            "median_words": median,
        }


def collect(
    cat: Catalog, spec: ProblemSpec, dataset: str, text_column: str = "text",
    label_column: str = "label", positive_label: str | None = None,
    chunk_rows: int = CHUNK_ROWS, part_rows: int = partitions.PART_ROWS, client: Any = None,
) -> CollectionReport:
    """Stage 2 out of core: validate ``dataset`` chunk by chunk and write its artifacts.

    Writes the kept rows as Parquet parts (``raw_parts``), the quarantine CSV
    and the collection report (``details["engine"] = "out_of_core"``). With a
    Dask ``client`` and a Parquet input, the chunks are the partitions of a
    ``dask.dataframe``, validated on the workers (:func:`dask_validated`).
    """
    name, origin, details, chunks = iter_source_chunks(
        dataset, spec.task, text_column, label_column, positive_label, chunk_rows)
    drop_stale(cat, 2, OUT_OF_CORE)
    # the cluster validates a Parquet input as it is; labels to map are mapped while streaming
    if client is not None and dataset_is_parquet(dataset) and positive_label in (None, ""):
        results = (_with_dataset(r, name) for r in dask_validated(
            client, Path(dataset), (text_column, label_column, None), spec))
        details["dask"] = client.scheduler.address
    else:
        results = (validate_chunk(chunk, spec) for chunk in chunks)
    staging = cat.path("raw_parts").with_name(".staging.parquet")
    rows_read, quarantined = 0, 0
    reasons: Counter = Counter()
    hashes, labels = [], []
    with storage.atomic_path(cat.path("quarantine")) as quarantine_tmp:
        first = True

        def quarantine(rows: pd.DataFrame) -> None:
            nonlocal first, quarantined
            quarantine_table(rows).to_csv(quarantine_tmp, mode="w" if first else "a",
                                          header=first, index=False, encoding="utf-8",
                                          lineterminator="\n")
            first = False
            quarantined += len(rows)
            reasons.update(rows["reason"])

        with partitions.PartWriter(staging, part_rows) as staged:
            for result in results:
                rows_read += result.rows_read
                quarantine(result.quarantined)
                staged.write(result.kept[[*snapshot_columns(result.kept), "_key", "_conflict"]])
                hashes.append(result.kept["_key"].to_numpy())
                labels.append(result.kept["label"].to_numpy(dtype=object))
        conflicts = _conflicting(hashes, labels)
        del hashes, labels
        profile = Profile(spec)
        try:
            with partitions.PartWriter(cat.path("raw_parts"), part_rows) as snapshot:
                for part in partitions.iter_parts(staging):
                    bad = part["_conflict"].to_numpy() | np.isin(part["_key"].to_numpy(), conflicts)
                    if bad.any():
                        quarantine(part[bad].drop(columns=["_key", "_conflict"]).assign(
                            reason=CONFLICT))
                    kept = part[~bad][snapshot_columns(part)]
                    snapshot.write(kept)
                    profile.add(kept, part["_key"].to_numpy()[~bad])
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if first:
            quarantine(pd.DataFrame(columns=["row", "text", "label", "source", "dataset",
                                              "reason"]))
    report = CollectionReport(
        dataset=name, origin=origin, rows_read=rows_read, rows_kept=profile.rows,
        rows_quarantined=quarantined,
        quarantine_reasons={k: int(v) for k, v in sorted(reasons.items())},
        profile=profile.as_dict(),
        snapshot_sha256=storage.sha256_path(cat.path("raw_parts")),
        details={**details, "engine": "out_of_core", "chunk_rows": chunk_rows,
                 "parts": len(partitions.part_files(cat.path("raw_parts")))},
        by_dataset={name: {"rows_read": rows_read, "rows_kept": profile.rows,
                           "rows_quarantined": quarantined,
                           "quarantine_reasons": {k: int(v) for k, v in sorted(reasons.items())},
                           **_provenance(dataset, spec.task, details)}},
    )
    report.save(cat)
    return report


def _with_dataset(result: ChunkResult, name: str) -> ChunkResult:
    """A partition validated on the cluster, its rows marked with their data set."""
    result.kept["dataset"] = name
    result.quarantined["dataset"] = name
    return result


def _provenance(dataset: str, task: str, details: dict[str, Any]) -> dict[str, str]:
    """The data set's provenance; a user file's dates are not scanned out of core."""
    from shared.data.sources import parse_dataset, provenance

    if "provenance" in details:
        return dict(details["provenance"])
    found = provenance(parse_dataset(dataset, task)[0], task)
    return {**found, "dates": "not scanned (out-of-core engine)"}


def dataset_is_parquet(dataset: str) -> bool:
    """A user's Parquet file or folder (named data sets are not)."""
    from shared.data.sources import SOURCES

    return dataset not in SOURCES and Path(dataset).exists() and is_parquet(Path(dataset))


def validate_partition(
    raw: pd.DataFrame, wanted: tuple[str | None, ...], default_source: str, spec: ProblemSpec
) -> ChunkResult:
    """One partition of the input validated on a worker (rows numbered from 1 in it)."""
    return validate_chunk(_schema_frame(0, raw, wanted, default_source), spec)


def dask_validated(
    client: Any, path: Path, wanted: tuple[str | None, ...], spec: ProblemSpec, window: int = 8,
) -> Iterator[ChunkResult]:
    """Validate the partitions of a Parquet input on the cluster, yielded in file order.

    The rows of each partition are renumbered here by the rows before it, so the
    numbers are global as in the local reader. At most ``window`` partitions are
    in flight, so finished results never pile up.
    """
    import dask
    import dask.dataframe as dd

    files = partitions.part_files(path)
    for file in files:  # a missing column is an error naming the file, before any work
        _check_columns(file, pd.DataFrame(columns=pq.ParquetFile(file).schema_arrow.names),
                       wanted, "", "")
    columns = [c for c in dict.fromkeys(wanted) if c]
    with dask.config.set({"dataframe.convert-string": False}):
        frame = dd.read_parquet(files, columns=columns)
    source = files[0].stem if len(files) == 1 else path.stem
    tasks = [dask.delayed(validate_partition)(part, wanted, source, spec)
             for part in frame.to_delayed()]
    futures = [client.compute(task) for task in tasks[:window]]
    offset = 0
    for index in range(len(tasks)):
        result = futures[index].result()
        futures[index] = None  # let the cluster forget it
        if index + window < len(tasks):
            futures.append(client.compute(tasks[index + window]))
        result.kept["row"] += offset
        result.quarantined["row"] += offset
        offset += result.rows_read
        yield result


def _conflicting(hashes: list[np.ndarray], labels: list[np.ndarray]) -> np.ndarray:
    """The hashes that occur with more than one label (sorted)."""
    if not hashes:
        return np.zeros(0, dtype=np.uint64)
    keys = np.concatenate(hashes)
    codes = pd.factorize(np.concatenate(labels))[0].astype(np.int64)
    pairs = np.unique(np.stack([keys.astype(np.int64), codes]), axis=1)
    values, counts = np.unique(pairs[0], return_counts=True)
    return values[counts > 1].astype(np.uint64)


def read_quarantine(cat: Catalog, limit: int = 1_000) -> pd.DataFrame:
    """The first ``limit`` rows of the quarantine (it can be large for a large bad file)."""
    return pd.read_csv(cat.path("quarantine"), nrows=limit, keep_default_na=False,
                       encoding="utf-8")
