"""Stage 2's validation: every row kept or quarantined with its reason; read = kept +
quarantined, always."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared import validation
from shared.sources import load_dataset
from shared.tasks import get_task
from shared.validation import validate

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
    assert len(excerpt) <= 200


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
