"""Stage 3: cleaning, de-duplication before the split, and a stratified, seeded split."""

import pandas as pd
import pytest

from shared.core.catalog import Catalog, stage
from shared.core.records import PreparationReport
from shared.core.text_rules import dedup_key
from shared.data import preparation
from shared.data.engines import ENGINE_ONLY, OUT_OF_CORE


def raw_frame() -> pd.DataFrame:
    texts = [f"review number {i} was {'great' if i % 2 else 'awful'}" for i in range(40)]
    texts += ["Great  film", "great film", "GREAT FILM ", "zero\u200bwidth"]
    labels = ["positive" if i % 2 else "negative" for i in range(40)]
    labels += ["positive"] * 4
    return pd.DataFrame({"row": range(1, 45), "text": texts, "label": labels, "source": "test"})


def test_duplicates_go_before_the_split_and_the_counts_add_up():
    clean, report = preparation.clean_and_deduplicate(raw_frame())
    assert isinstance(report, PreparationReport)
    assert report.rows_in == 44 and report.exact_duplicates_dropped == 2 and report.rows_out == 42
    assert report.texts_changed_by_cleaning == 3  # "Great  film", "GREAT FILM ", zero width
    assert clean["text"].map(dedup_key).is_unique
    assert "Great film" in set(clean["text"])  # the first of each group is kept, cleaned


def test_splits_are_disjoint_stratified_and_seeded(spec):
    clean, _ = preparation.clean_and_deduplicate(raw_frame())
    splits = preparation.split(clean, spec)
    train_keys = set(splits["train"]["text"].map(dedup_key))
    test_keys = set(splits["test"]["text"].map(dedup_key))
    assert not train_keys & test_keys
    assert len(splits["train"]) + len(splits["test"]) == len(clean)
    shares = {name: (frame["label"] == "positive").mean() for name, frame in splits.items()}
    assert abs(shares["train"] - shares["test"]) < 0.1
    again = preparation.split(clean, spec)
    assert again["test"]["text"].tolist() == splits["test"]["text"].tolist()
    other = preparation.split(clean, spec.with_overrides(seed=7))
    assert other["test"]["text"].tolist() != splits["test"]["text"].tolist()


def test_a_hash_split_moves_no_other_row_and_keeps_each_text_on_its_side(spec):
    original = raw_frame().assign(dataset="builtin")
    clean, _ = preparation.clean_and_deduplicate(original)
    before = preparation.split(clean, spec)
    feedback = pd.DataFrame({"row": range(1, 101), "text": [f"feedback text {i}" for i in
                                                              range(100)],
                             "label": ["positive", "negative"] * 50, "source": "feedback",
                             "dataset": "feedback.csv"})
    mixed, _ = preparation.clean_and_deduplicate(pd.concat([original, feedback]))
    after = preparation.split(mixed, spec, ["feedback.csv"])
    for name in ("train", "test"):
        part = after[name]
        assert part[part["dataset"] == "builtin"]["text"].tolist() == before[name]["text"].tolist()
    added_test = set(after["test"].query("dataset == 'feedback.csv'")["text"])
    assert 10 <= len(added_test) <= 30  # about test_size of them, by hash
    fewer, _ = preparation.clean_and_deduplicate(pd.concat([original, feedback.head(60)]))
    again = preparation.split(fewer, spec, ["feedback.csv"])
    assert set(again["test"].query("dataset == 'feedback.csv'")["text"]) == {
        t for t in added_test if t in set(feedback.head(60)["text"])}
    with pytest.raises(ValueError, match="does not hold"):
        preparation.split(mixed, spec, ["other.csv"])
    with pytest.raises(ValueError, match="in-memory engine only"):
        preparation.refuse_hash_split(["feedback.csv"])


def test_telling_terms_come_from_the_training_split(spec):
    clean, _ = preparation.clean_and_deduplicate(raw_frame())
    train = preparation.split(clean, spec)["train"]
    terms = preparation.telling_terms(train, spec, n=2)
    assert set(terms["label"]) == {"positive", "negative"}
    assert set(terms.loc[terms["label"] == "positive", "term"]) & {"great", "film"}
    assert "awful" in set(terms.loc[terms["label"] == "negative", "term"])


def test_save_writes_what_stage_3_declares(spec, tmp_path):
    cat = Catalog.for_task("sentiment", tmp_path)
    clean, report = preparation.clean_and_deduplicate(raw_frame())
    preparation.save(cat, clean, report, preparation.split(clean, spec))
    assert all(cat.path(name).is_file() for name in stage(3).writes
               if name not in ENGINE_ONLY[OUT_OF_CORE][3])
    assert PreparationReport.load(cat) == report
