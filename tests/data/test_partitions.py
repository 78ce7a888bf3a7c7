"""Partitioned Parquet tables and seeded hashes (shared.data.partitions)."""

import numpy as np
import pandas as pd
import pytest

from shared.core import storage
from shared.data import partitions


def frame(rows: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"row": np.arange(start, start + rows),
                         "text": [f"text {i}" for i in range(start, start + rows)],
                         "label": np.where(np.arange(start, start + rows) % 4 == 0, "a", "b")})


def test_parts_hold_at_most_part_rows_in_arrival_order(tmp_path):
    target = tmp_path / "table.parquet"
    with partitions.PartWriter(target, part_rows=40) as writer:
        for start in range(0, 130, 25):
            writer.write(frame(25, start))
    files = partitions.part_files(target)
    assert [len(partitions.read_part(f)) for f in files] == [40, 40, 40, 30]
    assert partitions.count_rows(target) == 150
    back = pd.concat(partitions.iter_parts(target), ignore_index=True)
    pd.testing.assert_frame_equal(back, frame(150))


def test_a_failed_write_leaves_the_old_table(tmp_path):
    target = tmp_path / "table.parquet"
    with partitions.PartWriter(target, part_rows=10) as writer:
        writer.write(frame(5))
    digest = storage.sha256_path(target)
    with pytest.raises(RuntimeError), partitions.PartWriter(target, part_rows=10) as writer:
        writer.write(frame(30))
        raise RuntimeError("killed")
    assert storage.sha256_path(target) == digest
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_a_folder_hash_changes_with_any_part(tmp_path):
    target = tmp_path / "table.parquet"
    with partitions.PartWriter(target, part_rows=10) as writer:
        writer.write(frame(20))
    before = storage.sha256_path(target)
    partitions.read_part(target / "part-00001.parquet").head(3).to_parquet(
        target / "part-00001.parquet")
    assert storage.sha256_path(target) != before


def test_buckets_deal_rows_into_every_part(tmp_path):
    rows = frame(100)
    with partitions.BucketWriter(tmp_path / "b.parquet", 3) as writer:
        writer.set_schema(rows.iloc[:0])
        writer.write(rows, rows["row"].to_numpy() % 3)
    parts = [partitions.read_part(p) for p in partitions.part_files(tmp_path / "b.parquet")]
    assert [len(p) for p in parts] == [34, 33, 33]
    assert all((p["row"] % 3 == i).all() for i, p in enumerate(parts))


def test_the_hash_split_depends_on_the_text_and_seed_only():
    texts = np.array([f"review number {i}" for i in range(20_000)], dtype=object)
    test = partitions.is_test(texts, seed=42, test_size=0.2)
    assert abs(test.mean() - 0.2) < 0.01
    order = np.random.default_rng(0).permutation(len(texts))
    assert (partitions.is_test(texts[order], 42, 0.2) == test[order]).all()
    assert (partitions.is_test(texts, 7, 0.2) != test).any()


def test_first_seen_keeps_the_first_of_each_hash_across_chunks():
    seen = partitions.FirstSeen()
    assert seen.keep(np.array([5, 3, 5, 9], dtype=np.uint64)).tolist() == [True, True, False, True]
    assert seen.keep(np.array([9, 1, 1], dtype=np.uint64)).tolist() == [False, True, False]
    assert seen.distinct == 4


def test_a_stratified_sample_keeps_shares_and_ignores_part_order(tmp_path):
    rows = frame(1000)
    for name, order in (("a", rows), ("b", rows.iloc[::-1])):
        with partitions.PartWriter(tmp_path / name, part_rows=150) as writer:
            writer.write(order)
    one = partitions.stratified_sample(tmp_path / "a", 200, seed=1)
    other = partitions.stratified_sample(tmp_path / "b", 200, seed=1)
    assert one["label"].value_counts().to_dict() == {"b": 150, "a": 50}
    pd.testing.assert_frame_equal(one, other)
    assert len(partitions.stratified_sample(tmp_path / "a", 5000, seed=1)) == 1000
