"""Stage 2's validation: every row kept or quarantined with its reason; read = kept +
quarantined, always."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from shared.core.catalog import Catalog
from shared.core.records import LoadedData
from shared.data import preparation, validation
from shared.data.sources import load_dataset
from shared.data.tasks import get_task
from shared.data.validation import validate
from shared.model import search

SENTIMENT = get_task("sentiment").spec


def test_unknown_and_missing_labels_are_quarantined(load_and_validate, reasons_by_row, write_file):
    path = write_file("reviews.csv",
        "text,label\ngreat,positive\nawful,negative\nso-so,neutral\nno label here,\n"
        "shouting,POSITIVE\n",
    )
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {
        3: "unknown label", 4: "missing label", 5: "unknown label"
    }


def test_empty_whitespace_nan_and_number_texts_are_quarantined(load_and_validate, reasons_by_row, write_file):
    path = write_file("reviews.csv",
        "text,label\n"
        "a fine film,positive\n"      # 1 kept
        ",negative\n"                 # 2 empty
        "   \t ,positive\n"           # 3 whitespace only
        "NaN,negative\n"              # 4 missing-value marker
        "null,positive\n"             # 5 missing-value marker
        "12345,negative\n"            # 6 a number
        "-3.5,positive\n"             # 7 a number
        "10/10 would watch again,positive\n"  # 8 kept: has words
        "\u200b\u200b,negative\n"     # 9 empty once cleaned
        "\n"                          # 10 blank line: a row, quarantined
        "awful,negative\n",           # 11 kept
    )
    validated = load_and_validate(path)
    marker = "text is a missing-value marker (NaN, NULL, N/A...)"
    number = "text is a number, not words"
    assert reasons_by_row(validated) == {
        2: "empty text", 3: "empty text", 4: marker, 5: marker, 6: number, 7: number,
        9: "empty text", 10: "empty text",
    }
    assert list(validated.kept["row"]) == [1, 8, 11]


def test_parquet_missing_and_numeric_texts(tmp_path, load_and_validate, reasons_by_row):
    path = tmp_path / "reviews.parquet"
    pd.DataFrame(
        {"text": ["great", None, "awful", np.nan], "label": ["positive"] * 2 + ["negative"] * 2}
    ).to_parquet(path)
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {2: "missing text", 4: "missing text"}
    numeric = tmp_path / "numbers.parquet"
    pd.DataFrame({"text": [1.5, 2.0], "label": ["positive", "negative"]}).to_parquet(numeric)
    validated = load_and_validate(numeric)
    assert set(validated.quarantined["reason"]) == {"text is a number, not words"}


def test_ten_megabyte_text_is_quarantined(load_and_validate, reasons_by_row, write_file):
    huge = "word " * 2_000_000  # 10 MB
    content = f"text,label\ngood,positive\n{huge},negative\nbad,negative\n"
    path = write_file("reviews.csv", content)
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {2: "text longer than 20,000 characters"}
    excerpt = validation.quarantine_table(validated.quarantined)["text"].iloc[0]
    assert len(excerpt) <= validation.EXCERPT_CHARS


def test_conflicting_duplicates_are_quarantined(load_and_validate, reasons_by_row, write_file):
    path = write_file("reviews.csv",
                 "text,label\nIt was fine,positive\nit was fine ,negative\nawful,negative\n")
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {
        1: "same text with conflicting labels", 2: "same text with conflicting labels"
    }


def test_source_column_is_kept(write_file):
    path = write_file("reviews.csv",
                 "text,label,where\ngreat,positive,web\nawful,negative,app\n")
    data = load_dataset(str(path), "sentiment", source_column="where")
    assert list(validate(data, SENTIMENT).kept["source"]) == ["web", "app"]


def _reviews(positives: int, negatives: int) -> str:
    rows = [f"great little gadget number {i},positive" for i in range(positives)]
    rows += [f"broke again on day {i},negative" for i in range(negatives)]
    return "text,label\n" + "\n".join(rows) + "\n"


def test_a_data_set_too_small_to_split_is_refused_by_name(write_file, tmp_path):
    path = write_file("two_rows.csv", "text,label\ngreat,positive\nawful,negative\n")
    data = load_dataset(str(path), "sentiment")
    cat = Catalog.for_task("sentiment", tmp_path / "run")
    with pytest.raises(validation.DataTooSmallError) as refused:
        validation.save_collection(cat, data, validate(data, SENTIMENT), SENTIMENT)
    message = str(refused.value)
    assert message.startswith(f"{data.origin}: too few texts")
    assert "Distinct texts kept per label: negative 1, positive 1" in message
    assert "need at least 7 of each label" in message
    assert not cat.path("raw_snapshot").exists(), "nothing is written for a refused data set"


def test_duplicates_do_not_count_towards_the_minimum(write_file):
    path = write_file("copies.csv", _reviews(7, 7) + "Great little gadget number 1,positive\n" * 5)
    kept = validate(load_dataset(str(path), "sentiment"), SENTIMENT).kept
    validation.check_enough_texts(kept, SENTIMENT, "copies.csv")  # 7 distinct of each
    short = kept[kept["text"] != "great little gadget number 0"]
    with pytest.raises(validation.DataTooSmallError, match="positive 6"):
        validation.check_enough_texts(short, SENTIMENT, "copies.csv")


def test_the_minimum_is_enough_for_the_split_and_the_folds(write_file):
    """At the minimum, stage 3's split and stage 4's folds run without sklearn's warning
    about a label with fewer members than folds."""
    minimum = SENTIMENT.min_texts_per_label()
    path = write_file("minimum.csv", _reviews(minimum, 50))
    kept = validate(load_dataset(str(path), "sentiment"), SENTIMENT).kept
    validation.check_enough_texts(kept, SENTIMENT, "minimum.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        splits = preparation.split(kept, SENTIMENT)
        train = splits["train"]
        for _, validation_rows in search.folds(SENTIMENT).split(train["text"], train["label"]):
            assert (train["label"].iloc[validation_rows] == "positive").any()
    assert (splits["test"]["label"] == "positive").any()


def test_quarantine_excerpts_are_short_and_say_when_cut():
    long_text = "word " * 1000
    assert validation.excerpt("short") == "'short'"
    assert validation.excerpt(12345) == "12345"
    cut = validation.excerpt(long_text)
    assert len(cut) == validation.EXCERPT_CHARS and cut.endswith("... (5,002 characters)")


def test_dates_must_be_iso_or_empty(write_file):
    path = write_file("dated.csv",
        "text,label,date\nLovely film,positive,2024-05-31\nDull film,negative,\n"
        "Great cast,positive,2024-05-31T10:00:00\nSlow plot,negative,31/05/2024\n"
        "Fine story,positive,2024-13-01\n")
    validated = validate(load_dataset(str(path), "sentiment"), SENTIMENT)
    assert validated.kept["date"].tolist() == ["2024-05-31", "", "2024-05-31T10:00:00"]
    assert validated.quarantined["row"].tolist() == [4, 5]
    assert set(validated.quarantined["reason"]) == {"date not ISO 8601 (YYYY-MM-DD)"}


def test_a_missing_parquet_date_is_no_date():
    frame = pd.DataFrame({"row": [1, 2], "text": ["Lovely film", "Dull film"],
                          "label": ["positive", "negative"], "source": ["x", "x"],
                          "date": pd.to_datetime(["2024-05-31", None])})
    validated = validate(LoadedData("dated.parquet", frame, "dated.parquet"), SENTIMENT)
    assert validated.kept["date"].tolist() == ["2024-05-31 00:00:00", ""]
