"""Where stage 2's data comes from: the built-in sets, the public sets, or the user's file.

Every source yields a :class:`~shared.records.LoadedData` whose frame has the
fixed schema ``text, label, source`` plus ``row``, the 1-based position of the
record in the file it came from, so that every quarantined record can be
traced back. Named sources already use the task's label names; a user's file
is read by ``shared.userfile`` (which also maps its labels).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shared import public_data
from shared.catalog import PROJECT_DIR
from shared.records import DataSourceError, LoadedData
from shared.tasks import TASKS, get_task


@dataclass(frozen=True)
class Source:
    """A data set known by name: the tasks it serves, how to load it, its files."""

    name: str
    tasks: tuple[str, ...]
    load: Callable[[str], LoadedData]
    files: Callable[[str], list[Path]]


def load_builtin(task: str) -> LoadedData:
    """The data set that ships with the project for ``task``."""
    from shared.userfile import read_table  # pandas: not needed to name files (the runner)

    path = get_task(task).builtin_dataset
    frame = read_table(path, text_column="text", label_column="label", source_column="source")
    return LoadedData(name="builtin", frame=frame, origin=path.relative_to(PROJECT_DIR).as_posix())


def _public(name: str) -> Source:
    dataset = public_data.PUBLIC_DATASETS[name]
    return Source(
        name, (dataset.task,), lambda task: public_data.load_public(name),
        lambda task: [public_data.cache_dir() / name / f.name for f in dataset.files],
    )


#: the data sets known by name
SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("builtin", tuple(TASKS), load_builtin, lambda task: [get_task(task).builtin_dataset]),
    _public("rt-polarity"),
    _public("sms-spam"),
)}


def available_datasets(task: str) -> list[str]:
    """The source names that serve ``task``."""
    return [name for name, source in SOURCES.items() if task in source.tasks]


def check_dataset_name(dataset: str, task: str) -> None:
    """Refuse a data set that is neither a known name for ``task`` nor an existing file."""
    if dataset in SOURCES:
        tasks = SOURCES[dataset].tasks
        if task not in tasks:
            raise DataSourceError(
                f"data set {dataset!r} is for task {', '.join(tasks)}, not {task!r}; "
                f"for {task!r} choose one of: {', '.join(available_datasets(task))}, "
                "or a path to a CSV, TSV or Parquet file"
            )
        return
    if not Path(dataset).is_file() and not _parquet_folder(Path(dataset)):
        raise DataSourceError(
            f"unknown data set {dataset!r}: it is not a file, nor a folder of Parquet files, "
            f"and not one of "
            f"{', '.join(available_datasets(task))} (the names valid for task {task!r})"
        )


def source_files(dataset: str, task: str) -> list[Path]:
    """The files that make up ``dataset`` for ``task``: a change to any of them is new data.

    A public set's files may not be in the cache yet (stage 2 downloads them).
    """
    check_dataset_name(dataset, task)
    if dataset in SOURCES:
        return SOURCES[dataset].files(task)
    if _parquet_folder(Path(dataset)):
        return sorted(p.resolve() for p in Path(dataset).glob("*.parquet"))
    return [Path(dataset).resolve()]


def _parquet_folder(path: Path) -> bool:
    """A folder of Parquet files: one data set, read part by part (or whole, in memory)."""
    return path.is_dir() and any(path.glob("*.parquet"))


def load_dataset(
    dataset: str,
    task: str,
    text_column: str = "text",
    label_column: str = "label",
    source_column: str | None = None,
    positive_label: str | None = None,
) -> LoadedData:
    """Load ``dataset`` (a source name or a file path) for ``task``.

    ``text_column``, ``label_column``, ``source_column`` and ``positive_label``
    apply to the user's own file (see ``shared.userfile.load_file`` for the
    label rule); named sources already use the task's label names, so for them
    ``positive_label`` may only be empty or the task's positive label.
    """
    check_dataset_name(dataset, task)
    if dataset in SOURCES:
        spec = get_task(task).spec
        if positive_label not in (None, "", spec.positive_label):
            raise DataSourceError(
                f"positive_label={positive_label!r} applies to your own file only; data set "
                f"{dataset!r} already uses the labels {', '.join(spec.labels)}"
            )
        return SOURCES[dataset].load(task)
    from shared.userfile import load_file

    return load_file(
        dataset, text_column, label_column, source_column, task=task,
        positive_label=positive_label,
    )
