"""Stage 3 out of core: clean, drop exact duplicates, split and shuffle, part by part.

The same steps as ``shared.data.preparation``, in one pass over the raw parts:

- every text is cleaned by ``shared.core.text_rules.clean_text``;
- exact duplicates (``shared.core.text_rules.dedup_key``, hashed) are dropped before the
  split, the first occurrence kept, with 8 bytes of memory per distinct text;
- the split is a seeded hash of the de-duplication key (``shared.data.partitions.is_test``):
  deterministic, independent of row order, stratified in expectation;
- each split's rows are dealt into parts by a second seeded hash, so every part
  is a random share of the split (stage 4's ``partial_fit`` needs shuffled rows;
  a file sorted by label would otherwise train on one label at a time).

The figures of the in-memory notebook come from a stratified sample of the
training split (``EDA_ROWS`` texts); the split table counts every row
(``label_frames``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import PreparationReport
from shared.core.text_rules import clean_text
from shared.data import partitions
from shared.data.engines import OUT_OF_CORE, drop_stale

#: texts the stage-3 figures (lengths, telling terms) are drawn from
EDA_ROWS = 20_000


def prepare(cat: Catalog, spec: ProblemSpec,
            part_rows: int = partitions.PART_ROWS) -> PreparationReport:
    """Write ``clean_parts``, ``train_parts``, ``test_parts`` and the preparation report."""
    raw = cat.require("raw_parts")
    drop_stale(cat, 3, OUT_OF_CORE)
    rows = partitions.count_rows(raw)
    parts = {"train": max(1, math.ceil(rows * (1 - spec.test_size) / part_rows)),
             "test": max(1, math.ceil(rows * spec.test_size / part_rows))}
    seen = partitions.FirstSeen()
    changed = dropped = rows_in = 0
    with partitions.PartWriter(cat.path("clean_parts"), part_rows) as clean, \
            partitions.BucketWriter(cat.path("train_parts"), parts["train"]) as train, \
            partitions.BucketWriter(cat.path("test_parts"), parts["test"]) as test:
        for part in partitions.iter_parts(raw):
            cleaned = part.assign(text=part["text"].map(clean_text))
            changed += int((cleaned["text"] != part["text"]).sum())
            keys = cleaned["text"].str.casefold().to_numpy(dtype=object)  # dedup_key: cleaned
            keep = seen.keep(partitions.text_hashes(keys, "dedup", 0))
            rows_in += len(part)
            dropped += int((~keep).sum())
            kept, keys = cleaned[keep].reset_index(drop=True), keys[keep]
            clean.write(kept)
            held_out = partitions.is_test(keys, spec.seed, spec.test_size)
            shuffle = partitions.text_hashes(keys, "shuffle", spec.seed)
            for writer, mask in ((train, ~held_out), (test, held_out)):
                writer.set_schema(kept.iloc[:0])
                writer.write(kept[mask], (shuffle[mask] % np.uint64(writer.parts)).astype(int))
    report = PreparationReport(rows_in=rows_in, texts_changed_by_cleaning=changed,
                               exact_duplicates_dropped=dropped, rows_out=rows_in - dropped)
    report.save(cat)
    return report


def label_frames(cat: Catalog) -> dict[str, pd.DataFrame]:
    """Each split's label column (a few bytes a row): what the class-balance figure needs."""
    return {name: pd.DataFrame({"label": partitions.read_column(cat.require(f"{name}_parts"),
                                                                "label")})
            for name in ("train", "test")}


def eda_sample(cat: Catalog, spec: ProblemSpec, rows: int = EDA_ROWS) -> pd.DataFrame:
    """A stratified sample of the training split, for the figures (all of it when smaller)."""
    return partitions.stratified_sample(cat.require("train_parts"), rows, spec.seed)
