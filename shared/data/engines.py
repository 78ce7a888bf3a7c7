"""Which engine a run uses: everything in memory, or out of core in chunks and parts.

Stage 1's ``engine`` parameter says ``memory``, ``out_of_core`` or ``auto``;
stage 2 resolves ``auto`` by counting the data set's rows cheaply (Parquet
footers, or a count of line ends for a text file, read in blocks) against the
stated limit ``max_memory_rows``, and records the engine it used in the
collection report, where stages 3 to 5 read it.
"""

from __future__ import annotations

import os

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec

MEMORY, OUT_OF_CORE = "memory", "out_of_core"


def count_lines(path: str | os.PathLike[str], block: int = 1 << 24) -> int:
    """Line ends in a text file, counted in 16 MB blocks (a last line without one counts).

    For a CSV this is an upper bound of its records plus one for the header: a
    quoted text spanning lines counts once per line, which only errs toward
    ``out_of_core``.
    """
    lines, last = 0, b"\n"
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def count_rows(dataset: str, task: str) -> int:
    """About how many records ``dataset`` holds (every data set of a mix), without reading it."""
    from shared.data import partitions
    from shared.data.chunks import is_parquet
    from shared.data.sources import parse_dataset

    rows = 0
    for part in parse_dataset(dataset, task):
        if part.source is not None:  # named sets: one record a line (built-in CSVs have a header)
            rows += sum(count_lines(f) for f in part.source.files(task) if f.exists())
        elif part.path is not None and is_parquet(part.path):
            rows += partitions.count_rows(part.path)
        elif part.path is not None:
            rows += max(count_lines(part.path) - 1, 0)
    return rows


def resolve_engine(spec: ProblemSpec, dataset: str, task: str | None = None) -> tuple[str, str]:
    """The engine to use for ``dataset`` and why, from the spec's ``engine`` and limit."""
    if spec.engine != "auto":
        return spec.engine, f"engine={spec.engine!r} was asked for in stage 1"
    rows = count_rows(dataset, task or spec.task)
    if rows > spec.max_memory_rows:
        return OUT_OF_CORE, (f"engine='auto': the data set has about {rows:,} rows, more than "
                             f"max_memory_rows={spec.max_memory_rows:,}, so it is read in chunks")
    return MEMORY, (f"engine='auto': the data set has about {rows:,} rows, at most "
                    f"max_memory_rows={spec.max_memory_rows:,}, so it is held in memory")


def engine_of(cat: Catalog) -> str:
    """The engine stage 2 used (recorded in the collection report); memory if it says none."""
    from shared.core.records import CollectionReport

    return str(CollectionReport.load(cat).details.get("engine", MEMORY))


#: what only one engine writes, per stage: the other engine's run removes it, so that no
#: stage reads, fingerprints or lists a file an earlier run of the other engine left behind
ENGINE_ONLY = {
    MEMORY: {2: ("raw_snapshot",), 3: ("clean_dataset", "train", "test")},
    OUT_OF_CORE: {2: ("raw_parts",), 3: ("clean_parts", "train_parts", "test_parts")},
}


def drop_stale(cat: Catalog, stage: int, engine: str) -> list[str]:
    """Remove what the other engine's run of ``stage`` left; return the names removed."""
    import shutil

    other = OUT_OF_CORE if engine == MEMORY else MEMORY
    removed = []
    for name in ENGINE_ONLY[other].get(stage, ()):
        path = cat.path(name)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed
