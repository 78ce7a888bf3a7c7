"""Atomic file I/O: every artifact is written whole or not at all.

The content goes to a temporary file in the destination folder, is flushed to
disk, then renamed over the target, so a crash never leaves a half-written
artifact behind. This module imports no other project module.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pandas is imported where a table is read or written, not at import
    import pandas as pd

T = TypeVar("T")


def user_cache_folder() -> Path:
    """The project's folder in the user's cache (``XDG_CACHE_HOME`` or ``~/.cache``): what is
    kept there (sentence vectors, the encoder's built graph, the name lists) can be rebuilt,
    and is checked."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ml-workflow"


def user_cached(name: str, read: Callable[[bytes], T | None],
                build: Callable[[], tuple[T, bytes]]) -> T:
    """A value kept as the file ``name`` in :func:`user_cache_folder`: what ``read`` makes of
    the file's bytes, unless it refuses them (None: a stale or damaged copy); otherwise the
    value and the bytes ``build`` returns, the bytes kept there atomically for the next
    process. Without a usable cache folder (no home folder, read-only) the value is built
    each time: slower, and the same."""
    try:
        path: Path | None = user_cache_folder() / name
    except RuntimeError:  # no home folder and no XDG_CACHE_HOME
        path = None
    if path is not None:
        with contextlib.suppress(OSError):  # not there yet
            value = read(path.read_bytes())
            if value is not None:
                return value
    value, data = build()
    if path is not None:
        with contextlib.suppress(OSError):
            write_bytes(path, data)
    return value


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], payload: Any) -> Path:
    """Write ``payload`` as indented, key-sorted JSON; NaN is refused (it is not JSON)."""
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return write_text(target, text + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON document at ``path``."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_csv(target: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    """Write ``frame`` as UTF-8 CSV with ``\\n`` line ends, without its index."""
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return Path(target)


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV this project wrote: UTF-8, text columns kept as strings, '' not NaN."""
    import pandas as pd

    return pd.read_csv(path, encoding="utf-8", keep_default_na=False, dtype={"text": str})


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_path(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, or of a folder: its files' relative names and contents, in order.

    A folder artifact (Parquet parts) changes when a part is added, removed, renamed or
    changed; temporary files (names starting with a dot) are not part of it.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for member in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = member.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        digest.update(relative.as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(member).encode("ascii"))
    return digest.hexdigest()
