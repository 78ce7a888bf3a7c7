"""Stage 3 out of core equals the in-memory cleaning and de-duplication (shared.scale.prepare_parts)."""

import pandas as pd
from conftest import labelled_texts

from shared.core.catalog import Catalog
from shared.data import partitions, preparation
from shared.scale import prepare_parts


def raw_parts(cat, frame, part_rows=300):
    with partitions.PartWriter(cat.path("raw_parts"), part_rows) as writer:
        writer.write(frame.assign(row=range(1, len(frame) + 1), source="file")[
            ["row", "text", "label", "source"]])


def test_cleaning_and_duplicates_match_the_in_memory_stage(tmp_path, spec):
    frame = labelled_texts(2000)
    frame.loc[5, "text"] = "  GREAT   film<br>"
    frame.loc[1500, "text"] = "great film"  # the same text once cleaned: a duplicate
    cat = Catalog.for_task("sentiment", tmp_path)
    raw_parts(cat, frame)
    report = prepare_parts.prepare(cat, spec, part_rows=250)
    raw = pd.concat(partitions.iter_parts(cat.path("raw_parts")), ignore_index=True)
    clean, expected = preparation.clean_and_deduplicate(raw)
    assert report == expected
    written = pd.concat(partitions.iter_parts(cat.path("clean_parts")), ignore_index=True)
    pd.testing.assert_frame_equal(written, clean, check_dtype=False)


def test_the_split_is_seeded_by_text_and_shuffled_into_parts(tmp_path, spec):
    frame = labelled_texts(3000).drop_duplicates("text")
    first, second = (Catalog.for_task("sentiment", tmp_path / name) for name in ("a", "b"))
    raw_parts(first, frame)
    raw_parts(second, frame.iloc[::-1])
    for cat in (first, second):
        prepare_parts.prepare(cat, spec, part_rows=400)
    tests = [set(partitions.read_column(c.path("test_parts"), "text")) for c in (first, second)]
    assert tests[0] == tests[1]
    table = preparation.split_table(prepare_parts.label_frames(first), spec)
    assert abs(table.loc["test", "rows"] / len(frame) - spec.test_size) < 0.03
    parts = [partitions.read_part(p) for p in partitions.part_files(first.path("train_parts"))]
    assert len(parts) > 1
    assert all(abs((p["label"] == "positive").mean() - 0.5) < 0.1 for p in parts)
