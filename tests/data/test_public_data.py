"""The public data sets: exact published counts, correct decoding, and the download
path run for real against a local HTTP server (no outside network needed)."""

from __future__ import annotations

import functools
import http.server
import io
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import free_port

from shared.core.catalog import PROJECT_DIR
from shared.core.records import DataSourceError
from shared.data import public_data
from shared.data.sources import load_dataset
from shared.data.tasks import get_task
from shared.data.validation import check_reconciled, validate


def _shared_datasets() -> Path | None:
    """The offline copies: beside the project (as CI lays them out), else /work/shared."""
    for candidate in (
        PROJECT_DIR.parent / "shared" / "datasets",
        Path("/work/shared/datasets"),
    ):
        if (candidate / "sms-spam" / "SMSSpamCollection").is_file():
            return candidate
    return None


SHARED = _shared_datasets()
needs_copies = pytest.mark.skipif(
    SHARED is None,
    reason="the offline copies of the public data sets (shared/datasets beside the project, "
    "or /work/shared/datasets) are not on this machine",
)
RT_FILES = ("rt-polarity.pos", "rt-polarity.neg")


@pytest.fixture
def shared_cache(monkeypatch) -> Path:
    assert SHARED is not None
    monkeypatch.setenv("DATA_CACHE_DIR", str(SHARED))
    return SHARED


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DATA_CACHE_DIR", str(cache))
    return cache


# -- reading the offline copies ------------------------------------------------
@needs_copies
def test_rt_polarity_published_counts_and_text(shared_cache):
    data = load_dataset("rt-polarity", "sentiment")
    frame = data.frame
    assert data.rows_read == 10_662
    assert frame["label"].value_counts().to_dict() == {"positive": 5331, "negative": 5331}
    assert set(frame["source"]) == {"rt-polarity"}
    assert data.details["cache"] == "$DATA_CACHE_DIR/rt-polarity"
    # every line, byte for byte: the texts are exactly the cp1252-decoded lines
    for name, label in zip(RT_FILES, ("positive", "negative"), strict=True):
        raw = (shared_cache / "rt-polarity" / name).read_bytes()
        lines = raw.decode("cp1252").split("\n")[:-1]
        part = frame[frame["label"] == label]
        assert list(part["text"]) == lines
        assert list(part["row"]) == list(range(1, len(lines) + 1))
    # validation keeps everything, and the counts reconcile
    validated = validate(data, get_task("sentiment").spec)
    check_reconciled(data, validated)


@needs_copies
def test_rt_polarity_decodes_windows_1252(shared_cache):
    raw = (shared_cache / "rt-polarity" / "rt-polarity.neg").read_bytes()
    number, line = next(
        (n, line) for n, line in enumerate(raw.split(b"\n"), start=1)
        if any(byte > 127 for byte in line)
    )
    frame = load_dataset("rt-polarity", "sentiment").frame
    text = frame[(frame["label"] == "negative") & (frame["row"] == number)]["text"].item()
    assert text == line.decode("cp1252")
    assert text == "the action clichés just pile up . "
    texts = "".join(frame["text"])
    # 0x85 and 0x97 are an ellipsis and an em dash in Windows-1252, not control characters
    assert "\u2026" in texts and "\u2014" in texts
    assert "\x85" not in texts and "\x97" not in texts and "\ufffd" not in texts
    pos = (shared_cache / "rt-polarity" / "rt-polarity.pos").read_bytes()
    assert texts.count("é") == (raw + pos).count(b"\xe9")


@needs_copies
def test_sms_spam_published_counts_and_quotes(shared_cache):
    data = load_dataset("sms-spam-only", "spam")
    frame = data.frame
    assert data.rows_read == 5574
    assert frame["label"].value_counts().to_dict() == {"ham": 4827, "spam": 747}
    raw = (shared_cache / "sms-spam" / "SMSSpamCollection").read_text(encoding="utf-8")
    lines = raw.split("\n")[:-1]
    assert list(frame["text"]) == [line.split("\t", 1)[1] for line in lines]
    # messages with double quotes are neither merged nor split
    assert sum('"' in t for t in frame["text"]) == sum('"' in line for line in lines) > 100
    validated = validate(data, get_task("spam").spec)
    check_reconciled(data, validated)
    # the one all-digit message ("645") is quarantined, the rest kept
    assert validated.reasons.to_dict() == {"text is a number, not words": 1}


# -- the download path ---------------------------------------------------------
class _Server:
    """A static HTTP server on 127.0.0.1 that records the paths requested."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                requests.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(tmp_path) -> Iterator[_Server]:
    served = tmp_path / "served"
    served.mkdir()
    running = _Server(served)
    yield running
    running.close()


def _served(server: _Server) -> Path:
    return Path(server.httpd.RequestHandlerClass.keywords["directory"])


def _rt_archive(folder: Path, pos: bytes, neg: bytes) -> Path:
    path = folder / "rt-polaritydata.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("rt-polarity.pos", pos), ("rt-polarity.neg", neg),
                           ("rt-polaritydata.README.1.0.txt", b"readme\n")):
            info = tarfile.TarInfo(f"rt-polaritydata/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _sms_archive(folder: Path, collection: bytes) -> Path:
    path = folder / "smsspamcollection.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("SMSSpamCollection", collection)
        archive.writestr("readme", "SMS Spam Collection v.1\n")
    return path


@needs_copies
def test_download_unpack_verify_then_read_from_cache(server, empty_cache, monkeypatch):
    assert SHARED is not None
    folder = _served(server)
    rt = [(SHARED / "rt-polarity" / name).read_bytes() for name in RT_FILES]
    sms = (SHARED / "sms-spam" / "SMSSpamCollection").read_bytes()
    _rt_archive(folder, *rt)
    _sms_archive(folder, sms)
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, "rt-polarity",
                        f"{server.url}/rt-polaritydata.tar.gz")
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, "sms-spam", f"{server.url}/smsspamcollection.zip")

    data = load_dataset("rt-polarity", "sentiment")
    assert data.rows_read == 10_662
    assert server.requests == ["/rt-polaritydata.tar.gz"]
    for name, content in zip(RT_FILES, rt, strict=True):
        assert (empty_cache / "rt-polarity" / name).read_bytes() == content
    assert sorted(p.name for p in (empty_cache / "rt-polarity").iterdir()) == sorted(RT_FILES)

    spam = load_dataset("sms-spam-only", "spam")
    assert spam.frame["label"].value_counts().to_dict() == {"ham": 4827, "spam": 747}
    assert server.requests == ["/rt-polaritydata.tar.gz", "/smsspamcollection.zip"]
    assert [p.name for p in (empty_cache / "sms-spam").iterdir()] == ["SMSSpamCollection"]

    # the second time everything comes from the cache: no request
    assert load_dataset("rt-polarity", "sentiment").rows_read == 10_662
    assert load_dataset("sms-spam-only", "spam").rows_read == 5574
    assert len(server.requests) == 2


@needs_copies
def test_only_missing_files_are_fetched(server, empty_cache, monkeypatch):
    assert SHARED is not None
    rt = [(SHARED / "rt-polarity" / name).read_bytes() for name in RT_FILES]
    _rt_archive(_served(server), *rt)
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, "rt-polarity",
                        f"{server.url}/rt-polaritydata.tar.gz")
    (empty_cache / "rt-polarity").mkdir(parents=True)
    shutil.copyfile(SHARED / "rt-polarity" / "rt-polarity.pos",
                    empty_cache / "rt-polarity" / "rt-polarity.pos")
    assert load_dataset("rt-polarity", "sentiment").rows_read == 10_662
    assert server.requests == ["/rt-polaritydata.tar.gz"]
    assert (empty_cache / "rt-polarity" / "rt-polarity.neg").read_bytes() == rt[1]


@needs_copies
def test_a_wrong_download_never_reaches_the_cache(server, empty_cache, monkeypatch):
    assert SHARED is not None
    sms = (SHARED / "sms-spam" / "SMSSpamCollection").read_bytes()
    truncated = sms[: sms.rindex(b"\n", 0, len(sms) - 1) + 1]  # one message short
    _sms_archive(_served(server), truncated)
    url = f"{server.url}/smsspamcollection.zip"
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, "sms-spam", url)
    with pytest.raises(DataSourceError) as error:
        load_dataset("sms-spam-only", "spam")
    message = str(error.value)
    assert url in message and "SMSSpamCollection" in message
    assert "expected 5,574 rows (ham 4,827, spam 747)" in message
    assert "found 5,573" in message
    assert "nothing was written to the cache" in message
    assert list((empty_cache / "sms-spam").iterdir()) == []  # no file, no temporary left


def test_not_an_archive(server, empty_cache, monkeypatch):
    (_served(server) / "moved.html").write_text("<html>This page has moved</html>")
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, "sms-spam", f"{server.url}/moved.html")
    with pytest.raises(DataSourceError, match="the download is not a zip or tar archive"):
        load_dataset("sms-spam-only", "spam")
    assert list((empty_cache / "sms-spam").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "task", "files", "member"),
    [
        ("rt-polarity", "sentiment", "rt-polarity.pos and rt-polarity.neg",
         "rt-polaritydata/rt-polarity.pos"),
        ("sms-spam", "spam", "SMSSpamCollection", "SMSSpamCollection"),
    ],
)
def test_no_cache_and_no_network_says_what_to_put_where(
    empty_cache, monkeypatch, name, task, files, member
):
    url = f"http://127.0.0.1:{free_port()}/x"
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, name, url)
    with pytest.raises(DataSourceError) as error:
        load_dataset(name, task)
    message = str(error.value)
    folder = empty_cache / name
    assert f"{files} not found in the data cache folder {folder}" in message
    assert f"the download of {url} failed" in message
    assert f"take {member}" in message and "put" in message and f"{folder}/" in message
    assert "DATA_CACHE_DIR" in message
    assert list(folder.iterdir()) == []


def test_cache_folder_that_cannot_be_written(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("a file, not a folder")
    monkeypatch.setenv("DATA_CACHE_DIR", str(not_a_folder))
    with pytest.raises(DataSourceError) as error:
        load_dataset("sms-spam-only", "spam")
    message = str(error.value)
    assert f"SMSSpamCollection not found in the data cache folder {not_a_folder}" in message
    assert "cannot be written" in message and "DATA_CACHE_DIR" in message


def test_http_error_is_reported_too(server, empty_cache, monkeypatch):
    monkeypatch.setitem(public_data.DOWNLOAD_URLS, "sms-spam", f"{server.url}/missing.zip")
    with pytest.raises(DataSourceError, match=r"SMSSpamCollection not found .*HTTP Error 404"):
        load_dataset("sms-spam-only", "spam")


def test_default_cache_folder(monkeypatch):
    monkeypatch.delenv("DATA_CACHE_DIR", raising=False)
    assert public_data.cache_dir() == PROJECT_DIR / "data" / "external"
    monkeypatch.setenv("DATA_CACHE_DIR", "/somewhere/else")
    assert public_data.cache_dir() == Path("/somewhere/else")


# -- a damaged cache -------------------------------------------------------------
@needs_copies
def test_corrupted_sms_cache_is_a_count_mismatch(empty_cache):
    assert SHARED is not None
    lines = (SHARED / "sms-spam" / "SMSSpamCollection").read_bytes().split(b"\n")
    target = empty_cache / "sms-spam" / "SMSSpamCollection"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\n".join(lines[:100] + lines[101:]))  # a ham message lost
    with pytest.raises(DataSourceError) as error:
        load_dataset("sms-spam-only", "spam")
    message = str(error.value)
    assert str(target) in message
    assert "expected 5,574 rows (ham 4,827, spam 747)" in message
    assert "found 5,573 (ham 4,826, spam 747)" in message
    assert "delete it and run again" in message


@needs_copies
def test_corrupted_rt_polarity_cache_is_a_count_mismatch(empty_cache):
    assert SHARED is not None
    folder = empty_cache / "rt-polarity"
    folder.mkdir(parents=True)
    shutil.copyfile(SHARED / "rt-polarity" / "rt-polarity.neg", folder / "rt-polarity.neg")
    pos = (SHARED / "rt-polarity" / "rt-polarity.pos").read_bytes()
    (folder / "rt-polarity.pos").write_bytes(pos + b"one line too many\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset("rt-polarity", "sentiment")
    message = str(error.value)
    assert str(folder / "rt-polarity.pos") in message
    assert "expected 5,331 rows (positive 5,331)" in message
    assert "found 5,332 (positive 5,332)" in message


def test_wrong_encoding_in_cache(empty_cache):
    folder = empty_cache / "sms-spam"
    folder.mkdir(parents=True)
    (folder / "SMSSpamCollection").write_bytes("ham\tcafé\n".encode("cp1252"))
    with pytest.raises(DataSourceError, match=r"SMSSpamCollection: byte 0xE9 at position 7 "
                                              r"\(line 1\) is not valid utf-8"):
        load_dataset("sms-spam-only", "spam")
