"""Atomic writes and the readers of the project's own files."""

import pandas as pd
import pytest

from shared.core import storage


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path):
    target = tmp_path / "out" / "file.json"
    storage.write_json(target, {"version": 1})
    with pytest.raises(RuntimeError), storage.atomic_path(target) as tmp:
        tmp.write_text("half a file")
        raise RuntimeError("crash mid-write")
    assert storage.read_json(target) == {"version": 1}
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.json"]


def test_json_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        storage.write_json(tmp_path / "f.json", {"x": float("nan")})
    assert not list(tmp_path.iterdir())


def test_csv_round_trip_keeps_text_as_strings(tmp_path):
    frame = pd.DataFrame({"text": ["123", "", "NA", "None"], "label": ["a", "b", "a", "b"]})
    storage.write_csv(tmp_path / "f.csv", frame)
    back = storage.read_csv(tmp_path / "f.csv")
    assert back["text"].tolist() == ["123", "", "NA", "None"]


def test_sha256_file(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    assert storage.sha256_file(tmp_path / "a") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_user_cached_reads_a_good_copy_and_rebuilds_a_refused_one(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builds = []

    def build() -> tuple[str, bytes]:
        builds.append(1)
        return "value", b"good"

    def read(data: bytes) -> str | None:
        return "value" if data == b"good" else None

    assert storage.user_cached("thing.bin", read, build) == "value" and len(builds) == 1
    assert storage.user_cached("thing.bin", read, build) == "value" and len(builds) == 1
    copy = storage.user_cache_folder() / "thing.bin"
    copy.write_bytes(b"damaged")
    assert storage.user_cached("thing.bin", read, build) == "value" and len(builds) == 2
    assert copy.read_bytes() == b"good"


def test_user_cached_builds_each_time_without_a_cache_folder(monkeypatch):
    def no_home() -> None:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr("pathlib.Path.home", staticmethod(no_home))
    builds = []
    for _ in range(2):
        assert storage.user_cached("x", lambda data: "old", lambda: (builds.append(1) or "new",
                                                                     b"new")) == "new"
    assert len(builds) == 2
