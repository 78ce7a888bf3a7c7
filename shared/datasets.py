"""Data sources, schema validation and quarantine.

Every source yields a DataFrame with the fixed schema ``text, label, source``
plus ``row``, the 1-based position of the record in the file it came from, so
that every quarantined record can be traced back. Validation never drops a
row silently: rows read = rows kept + rows quarantined.

Sources:

- ``builtin``: the small hand-written sets that ship with the project.
- ``rt-polarity`` (task sentiment) and ``sms-spam`` (task spam): public data
  sets, read from a cache folder (``data/external/`` in the project, or the
  folder named by the environment variable ``DATA_CACHE_DIR``) and downloaded
  from their publishers when missing. After reading, the row and label counts
  are checked against the published ones; a mismatch is an error, never a
  warning.
- a path to the user's own CSV, TSV or Parquet file (see :func:`load_file`).

Decisions about the user's own files (each is tested):

- CSV/TSV must be UTF-8 (a byte-order mark is allowed and removed). Another
  encoding is refused with the byte position, the line and the advice to
  re-save as UTF-8: guessing Windows-1252 would silently turn the text of a
  file in any other encoding into wrong characters.
- Every value is read as a string; nothing is turned into NaN by the parser.
  Blank lines are kept as rows (and then quarantined as empty texts), so that
  every line of the file is accounted for.
- A file that is not a text table (an image, a PDF, an Excel workbook, UTF-16
  text, binary data) is refused with what it seems to be.
- A row with more fields than the header is an error naming its line; when
  the header looks split by another delimiter, the error says which one.
- Texts that cannot be learnt from are quarantined, each with its reason:
  missing, a number ("12345": usually the wrong column), a missing-value
  marker ("NaN", "NULL", "N/A"), empty or whitespace-only, longer than
  :data:`MAX_TEXT_CHARS`, an unknown or missing label, or the same text with
  conflicting labels.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import numbers
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import pandas as pd

from shared import catalog
from shared.catalog import Catalog
from shared.problem import ProblemSpec
from shared.tasks import get_task
from shared.text import clean_text

SCHEMA = ("text", "label", "source")
MAX_TEXT_CHARS = 20_000

#: environment variable naming the folder that caches the public data sets
CACHE_ENV = "DATA_CACHE_DIR"
#: the cache folder when the environment variable is not set
DEFAULT_CACHE_DIR = catalog.PROJECT_DIR / "data" / "external"
#: where each public data set's archive is downloaded from (tests point these elsewhere)
DOWNLOAD_URLS: dict[str, str] = {
    "rt-polarity": "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
    "sms-spam": "https://archive.ics.uci.edu/static/public/228/sms+spam+collection.zip",
}
#: seconds to wait for the publisher's server before giving up
DOWNLOAD_TIMEOUT = 60.0
#: a member of a downloaded archive larger than this is refused (the real ones are < 1 MB)
MAX_MEMBER_BYTES = 64 * 1024 * 1024

#: texts that only say a value is missing (compared case-insensitively)
MISSING_MARKERS = frozenset({"nan", "na", "n/a", "#n/a", "null", "none", "nil", "undefined"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,' ]\d+)*|[.,]\d+)(?:[eE][+-]?\d+)?%?")


class DataSourceError(ValueError):
    """A data source cannot be read; the message names the file and what to do."""


@dataclass
class LoadedData:
    """What a source yielded, before validation."""

    name: str
    frame: pd.DataFrame
    origin: str
    details: dict[str, object] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return len(self.frame)


@dataclass
class ValidatedData:
    """The result of validation: kept rows, quarantined rows with a reason each."""

    kept: pd.DataFrame
    quarantined: pd.DataFrame

    @property
    def reasons(self) -> pd.Series:
        return self.quarantined["reason"].value_counts().sort_index()


# -- sources -------------------------------------------------------------
def load_builtin(task: str) -> LoadedData:
    """The data set that ships with the project for ``task``."""
    path = get_task(task).builtin_dataset
    frame = read_table(path, text_column="text", label_column="label", source_column="source")
    return LoadedData(
        name="builtin", frame=frame, origin=f"data/builtin/{task}/{path.name}"
    )


def load_file(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_column: str = "label",
    source_column: str | None = None,
    *,
    task: str | None = None,
    positive_label: str | None = None,
    sep: str | None = None,
) -> LoadedData:
    """A user's own CSV, TSV or Parquet file.

    The format follows the suffix: ``.parquet`` is Parquet, ``.tsv``/``.tab``
    tab-separated, anything else comma-separated (``sep`` overrides the
    delimiter). See the module docstring for what is refused and what is
    quarantined.

    Labels: without ``positive_label`` the label column must already hold the
    task's label names (e.g. ``negative``/``positive``); other values are
    quarantined as "unknown label". With ``positive_label`` (which needs
    ``task``), labels are compared as stripped strings (a Parquet integer 1 is
    ``"1"``) and mapped:

    - the value equal to ``positive_label`` becomes the task's positive label;
    - if exactly one other distinct non-empty value occurs, it becomes the
      task's negative label;
    - with three or more distinct values, every value other than
      ``positive_label`` is left as it is, so validation quarantines it as
      "unknown label" (unless it already is one of the task's label names).

    The mapping used is recorded in ``details["label_mapping"]``. An empty
    ``positive_label`` counts as not given.

    Raises DataSourceError, naming the file, when the file cannot be read as a
    table, a column is missing, it has no data rows, ``positive_label`` does
    not occur, or no row at all carries a label the task can use.
    """
    path = Path(path)
    if positive_label is not None and not str(positive_label).strip():
        positive_label = None
    spec = get_task(task).spec if task is not None else None
    if positive_label is not None and spec is None:
        raise DataSourceError(
            f"{path.name}: positive_label={positive_label!r} needs the task, to know which "
            "labels to map to; pass task='sentiment' or task='spam'"
        )
    frame, details = _read_file(path, text_column, label_column, source_column, sep)
    if frame.empty:
        raise DataSourceError(
            f"{path}: the file has a header ({', '.join(map(str, details['columns']))}) but no "
            "data rows; add the labelled texts below the header line"
        )
    if spec is not None:
        if positive_label is not None:
            labels, mapping = map_labels(frame["label"], positive_label, spec, path, label_column)
            frame["label"] = labels
            details["label_mapping"] = mapping
        _check_usable_labels(frame, spec, path, label_column, positive_label)
    return LoadedData(name=path.name, frame=frame, origin=path.name, details=details)


def map_labels(
    labels: pd.Series,
    positive_label: str,
    spec: ProblemSpec,
    path: str | os.PathLike[str] = "file",
    label_column: str = "label",
) -> tuple[pd.Series, dict[str, str]]:
    """Map the user's label values to the task's labels (the rule is in :func:`load_file`).

    Returns the new labels and the mapping used (user value -> task label).
    Missing values (None, NaN, empty strings) are left as they are.
    """
    keys = labels.map(_label_key)
    wanted = str(positive_label).strip()
    distinct = sorted(set(keys.dropna()))
    if wanted not in distinct:
        raise DataSourceError(
            f"{path}: positive_label={positive_label!r} does not occur in column "
            f"{label_column!r}; the values there are {_preview(distinct)}. "
            "Pass the value that marks the positive class exactly as it is written."
        )
    mapping = {wanted: spec.positive_label}
    others = [value for value in distinct if value != wanted]
    if len(others) == 1:
        mapping[others[0]] = spec.negative_label
    mapped = [
        mapping.get(key, value)
        for key, value in zip(keys, labels, strict=True)
    ]
    return pd.Series(mapped, index=labels.index, dtype=object), mapping


def _label_key(value: object) -> str | None:
    """A label value as the stripped string it is compared by, or None when missing."""
    if _is_missing(value):
        return None
    key = str(value).strip()
    return key or None


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _check_usable_labels(
    frame: pd.DataFrame,
    spec: ProblemSpec,
    path: Path,
    label_column: str,
    positive_label: str | None,
) -> None:
    """Refuse a file in which no row could ever be kept because of its labels."""
    labels = frame["label"]
    if positive_label is None and not labels.isin(spec.labels).any():
        values = sorted({k for k in labels.map(_label_key) if k is not None})
        hint = (
            f" pass positive_label=<the value that means {spec.positive_label!r}> "
            "to map them"
            if values
            else " fill in the labels"
        )
        raise DataSourceError(
            f"{path}: no row of column {label_column!r} holds a label of task "
            f"{spec.task!r} ({', '.join(spec.labels)}); the values there are "
            f"{_preview(values)}. Rename them to {' / '.join(spec.labels)}, or{hint}."
        )
    if positive_label is not None and not (labels == spec.negative_label).any():
        others = sorted(
            {k for k in labels.map(_label_key) if k is not None and k not in spec.labels}
        )
        if not others:
            why = (
                f"column {label_column!r} has no value other than {positive_label!r}, and a "
                "classifier needs examples of both classes"
            )
        else:
            why = (
                f"besides {positive_label!r}, column {label_column!r} has {len(others)} values "
                f"({_preview(others)}), and only a sole other value is mapped to "
                f"{spec.negative_label!r}"
            )
        raise DataSourceError(
            f"{path}: with positive_label={positive_label!r}, no row is left for "
            f"{spec.negative_label!r}: {why}. Keep two label values in the file, or "
            f"rename the negative one to {spec.negative_label!r}."
        )


def _preview(values: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"[{shown}{more}]" if values else "none (all empty)"


# -- public data sets ----------------------------------------------------
@dataclass(frozen=True, eq=False)
class PublicFile:
    """One file of a public data set: where it is in the archive, how to read it."""

    name: str
    member: str
    encoding: str
    #: published rows per label
    label_counts: dict[str, int]
    #: the label of every line, for files holding one class; None when each line names it
    label: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.label_counts.values())


@dataclass(frozen=True, eq=False)
class PublicDataset:
    """A public data set: its task, files, published counts and reference."""

    name: str
    task: str
    title: str
    files: tuple[PublicFile, ...]
    #: the label names used in the file -> the task's label names
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


PUBLIC_DATASETS: dict[str, PublicDataset] = {
    "rt-polarity": PublicDataset(
        name="rt-polarity",
        task="sentiment",
        title="Sentence polarity data set v1.0 (Pang & Lee, ACL 2005)",
        files=(
            PublicFile(
                "rt-polarity.pos", "rt-polaritydata/rt-polarity.pos", "cp1252",
                {"positive": 5331}, label="positive",
            ),
            PublicFile(
                "rt-polarity.neg", "rt-polaritydata/rt-polarity.neg", "cp1252",
                {"negative": 5331}, label="negative",
            ),
        ),
    ),
    "sms-spam": PublicDataset(
        name="sms-spam",
        task="spam",
        title="SMS Spam Collection v.1 (Almeida, Gómez Hidalgo & Yamakami, DocEng 2011)",
        files=(
            PublicFile(
                "SMSSpamCollection", "SMSSpamCollection", "utf-8", {"ham": 4827, "spam": 747}
            ),
        ),
        labels={"ham": "ham", "spam": "spam"},
    ),
}


def cache_dir() -> Path:
    """The folder caching the public data sets: $DATA_CACHE_DIR, else data/external/."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    return Path(configured).expanduser() if configured else DEFAULT_CACHE_DIR


def _shown(path: Path) -> str:
    """A path as written into reports: relative to the project or to $DATA_CACHE_DIR."""
    path = Path(path).absolute()
    try:
        return path.relative_to(catalog.PROJECT_DIR).as_posix()
    except ValueError:
        pass
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        try:
            relative = path.relative_to(Path(configured).expanduser().absolute())
            return f"${CACHE_ENV}/{relative.as_posix()}"
        except ValueError:
            pass
    return path.name


def load_public(name: str) -> LoadedData:
    """Read public data set ``name`` from the cache, downloading it first if missing.

    Every line of every file is one row (``row`` = its line number in its own
    file; for rt-polarity the label says which file). The row and label
    counts are checked against the published ones.
    """
    dataset = PUBLIC_DATASETS[name]
    folder = cache_dir() / dataset.name
    ensure_cached(dataset, folder)
    frames = []
    files: dict[str, object] = {}
    for public_file in dataset.files:
        path = folder / public_file.name
        data = path.read_bytes()
        frame = parse_public_file(dataset, public_file, data, where=str(path))
        check_counts(dataset, public_file, frame, where=str(path))
        frames.append(frame)
        files[public_file.name] = {
            "rows": len(frame),
            "encoding": public_file.encoding,
            "sha256": catalog.sha256_file(path),
        }
    frame = pd.concat(frames, ignore_index=True)
    counts = frame["label"].value_counts()
    return LoadedData(
        name=dataset.name,
        frame=frame,
        origin=_shown(folder),
        details={
            "title": dataset.title,
            "cache": _shown(folder),
            "files": files,
            "published_rows": dataset.rows,
            "label_counts": {label: int(counts.get(label, 0)) for label in sorted(counts.index)},
            "download_url": DOWNLOAD_URLS[dataset.name],
        },
    )


def load_rt_polarity(task: str = "sentiment") -> LoadedData:
    """Sentence polarity data set v1.0: 5,331 positive + 5,331 negative snippets."""
    return load_public("rt-polarity")


def load_sms_spam(task: str = "spam") -> LoadedData:
    """SMS Spam Collection v.1: 4,827 ham + 747 spam messages."""
    return load_public("sms-spam")


def _split_lines(text: str) -> list[str]:
    r"""Lines split on ``\n`` only (str.splitlines would also split on \x1c, \u2028...).

    The newline ending the last line does not start another one; a ``\r``
    before a newline (a copy saved with Windows line ends) is dropped.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _cache_advice(dataset: PublicDataset) -> str:
    return (
        "The file is damaged or not the published version: delete it and run again to "
        f"download it afresh from {DOWNLOAD_URLS[dataset.name]}"
    )


def _download_advice(dataset: PublicDataset) -> str:
    return (
        "The archive is not the published version, so nothing was written to the cache; "
        f"check the address (datasets.DOWNLOAD_URLS[{dataset.name!r}]) or put the published "
        "files in the cache by hand"
    )


def parse_public_file(
    dataset: PublicDataset, public_file: PublicFile, data: bytes, where: str,
    advice: str | None = None,
) -> pd.DataFrame:
    """The rows of one public file: one per line, nothing dropped, merged or guessed."""
    try:
        text = data.decode(public_file.encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataSourceError(
            f"{where}: byte 0x{data[error.start]:02X} at position {error.start} (line {line}) "
            f"is not valid {public_file.encoding}, the published encoding. "
            f"{advice or _cache_advice(dataset)}"
        ) from None
    lines = _split_lines(text)
    if public_file.label is not None:
        texts, labels = lines, [public_file.label] * len(lines)
    else:
        texts, labels = [], []
        for line in lines:
            label, tab, message = line.partition("\t")
            if not tab:  # no tab: keep the line as the text, with no label
                label, message = "", line
            texts.append(message)
            labels.append(dataset.labels.get(label, label))
    return pd.DataFrame(
        {
            "row": range(1, len(lines) + 1),
            "text": pd.Series(texts, dtype=object),
            "label": pd.Series(labels, dtype=object),
            "source": dataset.name,
        }
    )


def check_counts(
    dataset: PublicDataset, public_file: PublicFile, frame: pd.DataFrame, where: str,
    advice: str | None = None,
) -> None:
    """Raise DataSourceError unless ``frame`` has the published rows per label."""
    found = frame["label"].value_counts()
    found_counts = {label: int(found.get(label, 0)) for label in public_file.label_counts}
    other = len(frame) - sum(found_counts.values())
    if len(frame) == public_file.rows and found_counts == public_file.label_counts:
        return
    expected = ", ".join(f"{k} {v:,}" for k, v in public_file.label_counts.items())
    got = ", ".join(f"{k} {v:,}" for k, v in found_counts.items())
    if other:
        got += f", {other:,} with another or no label"
    raise DataSourceError(
        f"{where}: expected {public_file.rows:,} rows ({expected}) as published for "
        f"{dataset.title}, found {len(frame):,} ({got}). {advice or _cache_advice(dataset)}"
    )


def ensure_cached(dataset: PublicDataset, folder: Path) -> list[Path]:
    """Make sure every file of ``dataset`` is in ``folder``; download the missing ones.

    The archive goes to a temporary file in ``folder``; only the needed members
    are unpacked, each checked against the published counts, written to a
    temporary file and renamed into place, so that a failed download never
    leaves a partial file in the cache.
    """
    paths = [folder / f.name for f in dataset.files]
    missing = [f for f in dataset.files if not (folder / f.name).is_file()]
    if not missing:
        return paths
    url = DOWNLOAD_URLS[dataset.name]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{dataset.name}.", suffix=".download.tmp",
                                        dir=folder)
    except OSError as error:
        names = " and ".join(f.name for f in missing)
        raise DataSourceError(
            f"{dataset.name}: {names} not found in the data cache folder {folder}, and that "
            f"folder cannot be written to download {'them' if len(missing) > 1 else 'it'} "
            f"({error}). Point {CACHE_ENV} to a writable folder, or put the files there by "
            f"hand (from {url})."
        ) from None
    archive = Path(name)
    try:
        request = urllib.request.Request(
            url, headers={"User-Agent": "ml-workflow-notebooks (python urllib)"}
        )
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(
            request, timeout=DOWNLOAD_TIMEOUT
        ) as response:
            shutil.copyfileobj(response, out)
    except (OSError, HTTPException, ValueError) as error:
        raise DataSourceError(_missing_message(dataset, folder, missing, url, error)) from None
    else:
        _unpack(dataset, archive, folder, missing, url)
    finally:
        if archive.exists():
            archive.unlink()
    return paths


def _missing_message(
    dataset: PublicDataset, folder: Path, missing: list[PublicFile], url: str, error: Exception
) -> str:
    names = " and ".join(f.name for f in missing)
    members = " and ".join(f.member for f in missing)
    plain = isinstance(error, urllib.error.URLError) and not isinstance(
        error, urllib.error.HTTPError
    )
    reason = error.reason if plain else error
    return (
        f"{dataset.name}: {names} not found in the data cache folder {folder}, and the "
        f"download of {url} failed ({reason}). To fix it: get {url} on a machine with "
        f"network access, take {members} out of the archive and put "
        f"{'them' if len(missing) > 1 else 'it'} in {folder}/ (or set {CACHE_ENV} to a "
        f"folder that holds {dataset.name}/{missing[0].name}), then run again."
    )


def _unpack(
    dataset: PublicDataset, archive: Path, folder: Path, wanted: list[PublicFile], url: str
) -> None:
    """Verify and move the ``wanted`` members of ``archive`` into ``folder``."""
    try:
        contents = _read_members(archive, wanted, url)
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile) as error:
        raise DataSourceError(f"{url}: the downloaded archive cannot be unpacked ({error})") \
            from None
    for public_file in wanted:
        data = contents[public_file.name]
        where = f"{url} (member {public_file.member})"
        advice = _download_advice(dataset)
        frame = parse_public_file(dataset, public_file, data, where=where, advice=advice)
        check_counts(dataset, public_file, frame, where=where, advice=advice)
    for public_file in wanted:
        catalog.write_bytes(folder / public_file.name, contents[public_file.name])


def _read_members(archive: Path, wanted: list[PublicFile], url: str) -> dict[str, bytes]:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            names = [i.filename for i in zipped.infolist() if not i.is_dir()]
            found = {f.name: _member(names, f, url) for f in wanted}
            for member in found.values():
                _check_size(zipped.getinfo(member).file_size, member, url)
            return {name: zipped.read(member) for name, member in found.items()}
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as tarred:
            files = {m.name: m for m in tarred.getmembers() if m.isfile()}
            result = {}
            for public_file in wanted:
                member = files[_member(list(files), public_file, url)]
                _check_size(member.size, member.name, url)
                extracted = tarred.extractfile(member)
                assert extracted is not None  # a regular file always has content
                result[public_file.name] = extracted.read()
            return result
    start = archive.read_bytes()[:40]
    raise DataSourceError(
        f"{url}: the download is not a zip or tar archive (it starts with {start!r}); the "
        "address may have moved: open it in a browser, or get the files by hand"
    )


def _member(names: list[str], public_file: PublicFile, url: str) -> str:
    """The archive member holding ``public_file``: its published path, else its file name."""
    if public_file.member in names:
        return public_file.member
    same_name = [n for n in names if n.rsplit("/", 1)[-1] == public_file.name]
    if len(same_name) == 1:
        return same_name[0]
    raise DataSourceError(
        f"{url}: the archive has no member {public_file.member} (it holds "
        f"{_preview(sorted(names))}); it is not the published archive"
    )


def _check_size(size: int, member: str, url: str) -> None:
    if size > MAX_MEMBER_BYTES:
        raise DataSourceError(
            f"{url}: member {member} is {size:,} bytes, far more than the published file; "
            "refusing to unpack it"
        )


#: named sources: name -> (tasks it serves, loader taking the task name)
SOURCES: dict[str, tuple[tuple[str, ...], Callable[[str], LoadedData]]] = {
    "builtin": (("sentiment", "spam"), load_builtin),
    "rt-polarity": (("sentiment",), load_rt_polarity),
    "sms-spam": (("spam",), load_sms_spam),
}


def available_datasets(task: str) -> list[str]:
    """The source names that serve ``task``."""
    return [name for name, (tasks, _) in SOURCES.items() if task in tasks]


def check_dataset_name(dataset: str, task: str) -> None:
    """Refuse a data set that is neither a known name for ``task`` nor an existing file."""
    if dataset in SOURCES:
        tasks, _ = SOURCES[dataset]
        if task not in tasks:
            raise DataSourceError(
                f"data set {dataset!r} is for task {', '.join(tasks)}, not {task!r}; "
                f"for {task!r} choose one of: {', '.join(available_datasets(task))}, "
                "or a path to a CSV, TSV or Parquet file"
            )
        return
    if not Path(dataset).is_file():
        raise DataSourceError(
            f"unknown data set {dataset!r}: it is not a file and not one of "
            f"{', '.join(available_datasets(task))} (the names valid for task {task!r})"
        )


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
    apply to the user's own file (see :func:`load_file` for the label rule);
    named sources already use the task's label names, so for them
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
        return SOURCES[dataset][1](task)
    return load_file(
        dataset, text_column, label_column, source_column, task=task,
        positive_label=positive_label,
    )


# -- reading the user's own file ----------------------------------------
def read_table(
    path: str | os.PathLike[str],
    text_column: str,
    label_column: str,
    source_column: str | None = None,
    *,
    sep: str | None = None,
) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet file into the fixed schema, keeping every record.

    Values are read as they are (no NaN guessing on text), so that validation,
    not the parser, decides what is wrong with a row.
    """
    frame, _ = _read_file(Path(path), text_column, label_column, source_column, sep)
    return frame


# What a file that is not a text table starts with.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one); save the sheet as "
                    "'CSV UTF-8' instead"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls or other Office document; save the sheet as "
                          "'CSV UTF-8' instead"),
    (b"\x1f\x8b", "gzip-compressed; unpack it first"),
    (b"PAR1", "a Parquet file; give it the .parquet suffix"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text'); re-save it as 'CSV UTF-8'"),
    (b"\xfe\xff", "UTF-16 text; re-save it as UTF-8"),
)
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _read_file(
    path: Path,
    text_column: str,
    label_column: str,
    source_column: str | None,
    sep: str | None,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The fixed-schema frame of a user's file, and details on how it was read."""
    if not path.is_file():
        raise DataSourceError(f"{path}: no such file; check the path or the --dataset value")
    suffix = path.suffix.lower()
    details: dict[str, object] = {"file": path.name}
    header_line = ""
    delimiter = ""
    if suffix == ".parquet":
        details["format"] = "parquet"
        try:
            raw = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many kinds; all mean "not readable"
            raise DataSourceError(
                f"{path}: cannot be read as Parquet ({type(error).__name__}: {error}); "
                "check that it is a Parquet file, or save the table as CSV UTF-8"
            ) from None
    else:
        data = path.read_bytes()
        _refuse_non_text(path, data)
        text = _decode_utf8(path, data)
        details["encoding"] = "utf-8 with byte-order mark" if data[:3] == b"\xef\xbb\xbf" \
            else "utf-8"
        delimiter = sep or ("\t" if suffix in (".tsv", ".tab") else ",")
        details["format"] = "tsv" if delimiter == "\t" else "csv"
        details["delimiter"] = delimiter
        header_line = text.split("\n", 1)[0].rstrip("\r")
        raw = _parse_csv(path, text, delimiter, header_line)
    details["columns"] = [str(c) for c in raw.columns]
    _check_columns(path, raw, (text_column, label_column, source_column), delimiter,
                   header_line)
    frame = pd.DataFrame(
        {
            "row": range(1, len(raw) + 1),
            "text": raw[text_column].to_numpy(dtype=object),
            "label": raw[label_column].to_numpy(dtype=object),
            "source": raw[source_column].to_numpy(dtype=object) if source_column else path.stem,
        }
    )
    return frame, details


def _refuse_non_text(path: Path, data: bytes) -> None:
    if not data:
        raise DataSourceError(
            f"{path}: the file is empty (0 bytes); it needs a header line such as "
            "'text,label' and one labelled text per line"
        )
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataSourceError(f"{path}: not a CSV/TSV text table: it is {what}")
    if b"\x00" in data[:65536]:
        position = data.index(b"\x00")
        raise DataSourceError(
            f"{path}: not a CSV/TSV text table: it holds NUL bytes (the first at byte "
            f"{position}), so it is a binary file; export the table as 'CSV UTF-8'"
        )


def _decode_utf8(path: Path, data: bytes) -> str:
    """The file's text; a byte-order mark is removed, other encodings are refused."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = error.start
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        byte = data[start]
        try:
            character = bytes([byte]).decode("cp1252")
            as_cp1252 = f", which in Windows-1252/Latin-1 would be {character!r}"
        except UnicodeDecodeError:
            as_cp1252 = ""
        raise DataSourceError(
            f"{path}: not valid UTF-8: byte 0x{byte:02X} at position {start} (line {line}, "
            f"column {column}){as_cp1252}. The file was probably saved as Latin-1/Windows-1252. "
            "Re-save it as UTF-8 (Excel: 'CSV UTF-8'; or `iconv -f cp1252 -t utf-8 IN > OUT`) "
            "and load it again; nothing is guessed, so that no character is read wrong."
        ) from None


def _parse_csv(path: Path, text: str, delimiter: str, header_line: str) -> pd.DataFrame:
    """Every record of the text as strings; the first line names the columns.

    The header is read as a record (``header=None``) so that its width bounds
    every row: with ``header=0`` pandas silently turns the first field of rows
    that have one field too many into an index, shifting their values.
    """
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, dtype=object,
            keep_default_na=False, skip_blank_lines=False,
        )
    except pd.errors.EmptyDataError:
        raise DataSourceError(
            f"{path}: no header line (the file holds only blank lines); it needs a header such "
            "as 'text,label' and one labelled text per line"
        ) from None
    except pd.errors.ParserError as error:
        raise DataSourceError(_parser_message(path, text, delimiter, header_line, error)) \
            from None
    except (ValueError, csv.Error) as error:
        raise DataSourceError(f"{path}: cannot be read as a table ({error})") from None
    header = [value if isinstance(value, str) else "" for value in table.iloc[0]]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataSourceError(
            f"{path}: the header line names column(s) {repeated} more than once "
            f"({header_line[:80]!r}); give every column its own name"
        )
    raw = table.iloc[1:].reset_index(drop=True)
    raw.columns = header
    return raw


def _records(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(first line number, fields) of every record, read the way pandas reads them."""
    old_limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        records = []
        line = 0
        for fields in reader:
            records.append((line + 1, fields))
            line = reader.line_num
        return records
    finally:
        csv.field_size_limit(old_limit)


def _parser_message(
    path: Path, text: str, delimiter: str, header_line: str, error: Exception
) -> str:
    """Say which line breaks the table, and why, from pandas' terse ParserError."""
    name = _DELIMITERS.get(delimiter, repr(delimiter))
    hint = _delimiter_hint(delimiter, header_line)
    message = str(error).strip()
    lines = text.split("\n")
    try:
        records = _records(text, delimiter) if len(delimiter) == 1 else []
    except csv.Error:
        records = []
    unclosed = re.search(r"EOF inside string starting at row (\d+)", message)
    if unclosed:
        index = int(unclosed.group(1))
        line = records[index][0] if index < len(records) else index + 1
        excerpt = lines[line - 1][:120] if line <= len(lines) else ""
        return (
            f"{path}: line {line} opens a double quote that is never closed, so the rest of "
            f"the file would be read as one text: {excerpt!r}. Double every quote inside a "
            'text ("") or remove the stray one.' + hint
        )
    if records:
        width = len(records[0][1])
        bad = [(line, fields) for line, fields in records[1:] if len(fields) > width]
        if bad:
            line, fields = bad[0]
            more = ""
            if len(bad) > 1:
                others = ", ".join(str(b[0]) for b in bad[1:11])
                more = f" {len(bad) - 1} more line(s) have too many fields too: {others}."
            return (
                f"{path}: line {line} has {len(fields)} fields but the header has {width} "
                f"({header_line[:80]!r}): {lines[line - 1][:120]!r}.{more} A text that contains "
                f"the delimiter ({name} {delimiter!r}) must be wrapped in double quotes; fix or "
                "remove those lines." + hint
            )
    return f"{path}: cannot be read as a table ({message}).{hint}"


def _delimiter_hint(delimiter: str, header_line: str) -> str:
    """Advice when the header line seems split by another delimiter than ``delimiter``."""
    if not delimiter:
        return ""
    counts = {d: header_line.count(d) for d in _DELIMITERS if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0 or header_line.count(delimiter) >= counts[best]:
        return ""
    name = _DELIMITERS[best]
    fix = (
        "name the file .tsv"
        if best == "\t"
        else "re-save it comma-separated (Excel: 'CSV UTF-8 (Comma delimited)')"
    )
    return (
        f" The file seems to use {best!r} ({name}) as its delimiter, not {delimiter!r}: its "
        f"header line is {header_line[:80]!r}. To fix it, {fix}, or from Python pass "
        f"sep={best!r} to load_file."
    )


def _check_columns(
    path: Path,
    raw: pd.DataFrame,
    wanted: tuple[str | None, ...],
    delimiter: str,
    header_line: str,
) -> None:
    columns = [str(c) for c in raw.columns]
    missing = [c for c in wanted if c and c not in raw.columns]
    if not missing:
        return
    guesses = []
    for name in missing:
        close = [c for c in columns if c.strip().casefold() == name.strip().casefold()]
        close += [
            c for c in difflib.get_close_matches(name, columns, n=2, cutoff=0.75)
            if c not in close
        ]
        if close:
            guesses.append(f"{' or '.join(map(repr, close))} for {name!r}")
    guess = f" Did you mean {', '.join(guesses)}?" if guesses else ""
    raise DataSourceError(
        f"{path}: column(s) {missing} not found; the file has {columns}.{guess} "
        "Name the right ones with text_column= / label_column= (the notebook parameters; "
        "runner: -p text_column NAME)." + _delimiter_hint(delimiter, header_line)
    )


# -- validation ----------------------------------------------------------
def _is_number(value: object) -> bool:
    """True for a number, or a string that is only a number ("12345", "3.5", "-2", "1,000")."""
    if isinstance(value, str):
        return _NUMBER.fullmatch(value.strip()) is not None
    return isinstance(value, numbers.Number)


def validate(data: LoadedData, spec: ProblemSpec) -> ValidatedData:
    """Split rows into kept and quarantined; each quarantined row gets a reason.

    Reasons, the first that applies: missing text; text is a number, not
    words; text is not a string; text is a missing-value marker (NaN, NULL,
    N/A...); empty text (also one left empty by cleaning, e.g. only
    zero-width spaces); text longer than MAX_TEXT_CHARS; missing label;
    unknown label; same text with conflicting labels.
    """
    frame = data.frame.copy()
    reasons = pd.Series("", index=frame.index, dtype=object)

    def flag(mask: pd.Series, reason: str) -> None:
        fresh = mask & (reasons == "")
        reasons[fresh] = reason

    texts = frame["text"]
    is_str = texts.map(lambda v: isinstance(v, str))
    flag(texts.map(_is_missing).astype(bool) | texts.isna(), "missing text")
    flag(texts.map(_is_number).astype(bool), "text is a number, not words")
    flag(~is_str, "text is not a string")
    stripped = texts.where(is_str, "").map(lambda v: v.strip())
    flag(stripped.str.casefold().isin(MISSING_MARKERS),
         "text is a missing-value marker (NaN, NULL, N/A...)")
    flag(stripped == "", "empty text")
    flag(
        stripped.map(lambda v: len(v) <= MAX_TEXT_CHARS and clean_text(v) == ""),
        "empty text",
    )
    flag(stripped.str.len() > MAX_TEXT_CHARS, f"text longer than {MAX_TEXT_CHARS:,} characters")
    labels = frame["label"].map(lambda v: str(v).strip() if isinstance(v, str) else v)
    frame["label"] = labels
    flag(labels.map(lambda v: _is_missing(v) or v == "").astype(bool), "missing label")
    flag(~labels.isin(spec.labels), "unknown label")
    ok = reasons == ""
    keys = stripped.str.casefold()
    label_sets = frame[ok].groupby(keys[ok])["label"].nunique()
    conflicting = keys.isin(label_sets[label_sets > 1].index)
    flag(ok & conflicting, "same text with conflicting labels")

    frame["source"] = frame["source"].map(lambda v: str(v) if v is not None else "")
    quarantined = frame[reasons != ""].assign(reason=reasons[reasons != ""])
    kept = frame[reasons == ""].assign(text=stripped[reasons == ""])
    assert len(kept) + len(quarantined) == len(frame)
    return ValidatedData(
        kept=kept.reset_index(drop=True), quarantined=quarantined.reset_index(drop=True)
    )


def quarantine_table(quarantined: pd.DataFrame, max_chars: int = 200) -> pd.DataFrame:
    """The quarantine as written to disk: row, reason, a readable excerpt of text and label."""
    return pd.DataFrame(
        {
            "row": quarantined["row"],
            "reason": quarantined["reason"],
            "label": quarantined["label"].map(repr),
            "text": quarantined["text"].map(lambda v: repr(v)[:max_chars]),
        }
    )


def profile(kept: pd.DataFrame, spec: ProblemSpec) -> dict[str, object]:
    """Counts a reader wants before trusting a data set."""
    keys = kept["text"].str.casefold()
    return {
        "rows": len(kept),
        "labels": {label: int((kept["label"] == label).sum()) for label in spec.labels},
        "sources": {k: int(v) for k, v in kept["source"].value_counts().sort_index().items()},
        "duplicate_texts": int(keys.duplicated().sum()),
        "median_words": float(kept["text"].str.split().str.len().median()),
    }


def reconciliation(data: LoadedData, validated: ValidatedData) -> pd.DataFrame:
    """Rows read, kept and quarantined: the first two must add up to the read count."""
    kept, quarantined = len(validated.kept), len(validated.quarantined)
    if kept + quarantined != data.rows_read:
        raise AssertionError(f"{data.origin}: {data.rows_read} read != {kept} + {quarantined}")
    return pd.DataFrame(
        {"rows": [data.rows_read, kept, quarantined]},
        index=pd.Index(["read", "kept", "quarantined"], name=data.origin),
    )


def save_collection(
    cat: Catalog, data: LoadedData, validated: ValidatedData, spec: ProblemSpec
) -> dict:
    """Write the raw snapshot, the quarantine and the collection report of stage 2."""
    catalog.write_csv(cat.raw_snapshot, validated.kept[["row", *SCHEMA]])
    catalog.write_csv(cat.quarantine, quarantine_table(validated.quarantined))
    report = {
        "dataset": data.name,
        "origin": data.origin,
        "rows_read": data.rows_read,
        "rows_kept": len(validated.kept),
        "rows_quarantined": len(validated.quarantined),
        "quarantine_reasons": {k: int(v) for k, v in validated.reasons.items()},
        "profile": profile(validated.kept, spec),
        "snapshot_sha256": catalog.sha256_file(cat.raw_snapshot),
        **data.details,
    }
    catalog.write_json(cat.collection_report, report)
    return report


def load_snapshot(cat: Catalog) -> pd.DataFrame:
    """The raw snapshot written by stage 2."""
    return catalog.read_csv(
        catalog.require(cat.raw_snapshot, "stage 2, notebooks/02_data_collection.ipynb")
    )
