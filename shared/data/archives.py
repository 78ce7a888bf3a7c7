"""A downloaded archive's files: found by their published path, size-checked, read whole.

The public data sets (``shared.data.public_data``) arrive as a zip or tar archive; only the
files a data set needs are taken out of it, each refused when it is far larger than the
published file could be.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from shared.core.records import DataSourceError, preview

#: a member of a downloaded archive larger than this is refused (the real ones are < 1 MB)
MAX_MEMBER_BYTES = 64 * 1024 * 1024


def read_members(archive: Path, wanted: dict[str, str], url: str) -> dict[str, bytes]:
    """The bytes of each wanted file of ``archive`` (a zip or tar file downloaded from ``url``).

    ``wanted`` maps a file name to its published path in the archive; a member is found by
    that path, else by the file name alone, and refused if larger than ``MAX_MEMBER_BYTES``.
    """
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            names = [i.filename for i in zipped.infolist() if not i.is_dir()]
            found = {name: _member(names, name, member, url) for name, member in wanted.items()}
            for member in found.values():
                _check_size(zipped.getinfo(member).file_size, member, url)
            return {name: zipped.read(member) for name, member in found.items()}
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive, "r:*") as tarred:
            files = {m.name: m for m in tarred.getmembers() if m.isfile()}
            result = {}
            for name, published in wanted.items():
                member = files[_member(list(files), name, published, url)]
                _check_size(member.size, member.name, url)
                extracted = tarred.extractfile(member)
                assert extracted is not None  # a regular file always has content
                result[name] = extracted.read()
            return result
    start = archive.read_bytes()[:40]
    raise DataSourceError(
        f"{url}: the download is not a zip or tar archive (it starts with {start!r}); the "
        "address may have moved: open it in a browser, or get the files by hand"
    )


def _member(names: list[str], name: str, published: str, url: str) -> str:
    """The archive member holding file ``name``: its ``published`` path, else its file name."""
    if published in names:
        return published
    same_name = [n for n in names if n.rsplit("/", 1)[-1] == name]
    if len(same_name) == 1:
        return same_name[0]
    raise DataSourceError(
        f"{url}: the archive has no member {published} (it holds "
        f"{preview(sorted(names))}); it is not the published archive"
    )


def _check_size(size: int, member: str, url: str) -> None:
    if size > MAX_MEMBER_BYTES:
        raise DataSourceError(
            f"{url}: member {member} is {size:,} bytes, far more than the published file; "
            "refusing to unpack it"
        )
