"""Loading the user's own file: every broken input is an error that says what to do,
or a quarantined row with its reason; rows read = kept + quarantined, always."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared import datasets
from shared.catalog import read_csv
from shared.datasets import DataSourceError, load_dataset, reconciliation, validate
from shared.tasks import TASKS, get_task

SENTIMENT = get_task("sentiment").spec
SPAM = get_task("spam").spec


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def load_and_validate(path: Path, task: str = "sentiment", **kwargs) -> datasets.ValidatedData:
    data = load_dataset(str(path), task, **kwargs)
    validated = validate(data, get_task(task).spec)
    table = reconciliation(data, validated)  # raises unless read = kept + quarantined
    assert table.loc["read", "rows"] == data.rows_read
    return validated


def reasons_by_row(validated: datasets.ValidatedData) -> dict[int, str]:
    return dict(zip(validated.quarantined["row"], validated.quarantined["reason"], strict=True))


# -- built-in data ---------------------------------------------------------
@pytest.mark.parametrize("task", sorted(TASKS))
def test_builtin_loads_and_reconciles(task):
    data = load_dataset("builtin", task)
    validated = validate(data, get_task(task).spec)
    table = reconciliation(data, validated)
    assert data.rows_read == len(read_csv(get_task(task).builtin_dataset))
    assert table.loc["read", "rows"] == table.loc["kept", "rows"] + table.loc["quarantined", "rows"]
    assert len(validated.quarantined) == 0


def test_named_sources_and_their_tasks():
    assert datasets.available_datasets("sentiment") == ["builtin", "rt-polarity"]
    assert datasets.available_datasets("spam") == ["builtin", "sms-spam"]
    with pytest.raises(DataSourceError, match="'rt-polarity' is for task sentiment"):
        datasets.check_dataset_name("rt-polarity", "spam")
    with pytest.raises(DataSourceError, match="unknown data set 'nope.csv'"):
        datasets.check_dataset_name("nope.csv", "spam")


def test_positive_label_only_for_own_files():
    with pytest.raises(DataSourceError, match="applies to your own file only"):
        load_dataset("builtin", "sentiment", positive_label="pos")
    assert load_dataset("builtin", "sentiment", positive_label="positive").rows_read > 0


# -- labels ----------------------------------------------------------------
def test_positive_label_maps_custom_columns(tmp_path):
    path = write(
        tmp_path, "reviews.csv",
        "id,review,verdict\n1,Loved every minute,pos\n2,Dull and far too long,neg\n"
        "3,A delight from start to end, pos\n4,Not worth the ticket,neg\n",
    )
    data = load_dataset(str(path), "sentiment", text_column="review", label_column="verdict",
                        positive_label="pos")
    assert data.details["label_mapping"] == {"pos": "positive", "neg": "negative"}
    validated = validate(data, SENTIMENT)
    assert len(validated.quarantined) == 0
    assert list(validated.kept["label"]) == ["positive", "negative", "positive", "negative"]
    assert list(validated.kept["text"])[1] == "Dull and far too long"


def test_positive_label_on_parquet_integers(tmp_path):
    path = tmp_path / "messages.parquet"
    pd.DataFrame(
        {"body": ["WIN a prize now", "see you at 6", "free entry txt", "ok thanks"],
         "is_spam": [1, 0, 1, 0]}
    ).to_parquet(path)
    data = load_dataset(str(path), "spam", text_column="body", label_column="is_spam",
                        positive_label="1")
    assert data.details["label_mapping"] == {"1": "spam", "0": "ham"}
    assert list(validate(data, SPAM).kept["label"]) == ["spam", "ham", "spam", "ham"]


def test_three_label_values_leave_the_extras_to_quarantine(tmp_path):
    path = write(
        tmp_path, "sms.csv",
        "text,label\nWIN cash now,junk\nlunch at 1?,ham\nmaybe an ad,unsure\ncall me,ham\n",
    )
    validated = load_and_validate(path, "spam", positive_label="junk")
    assert reasons_by_row(validated) == {3: "unknown label"}
    assert list(validated.kept["label"]) == ["spam", "ham", "ham"]


def test_three_label_values_with_no_negative_left_is_an_error(tmp_path):
    path = write(
        tmp_path, "reviews.csv",
        "text,label\ngreat,pos\nawful,neg\nfine I guess,neutral\n",
    )
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment", positive_label="pos")
    message = str(error.value)
    assert "reviews.csv" in message and "no row is left for 'negative'" in message
    assert "'neg', 'neutral'" in message


def test_positive_label_that_does_not_occur(tmp_path):
    path = write(tmp_path, "reviews.csv", "text,label\ngreat,1\nawful,0\n")
    with pytest.raises(DataSourceError, match=r"reviews.csv: positive_label='yes' does not "
                                              r"occur in column 'label'.*\['0', '1'\]"):
        load_dataset(str(path), "sentiment", positive_label="yes")


def test_labels_that_are_not_the_tasks_need_positive_label(tmp_path):
    path = write(tmp_path, "reviews.csv", "text,label\ngreat,1\nawful,0\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert "reviews.csv" in message and "['0', '1']" in message
    assert "positive_label" in message


def test_unknown_and_missing_labels_are_quarantined(tmp_path):
    path = write(
        tmp_path, "reviews.csv",
        "text,label\ngreat,positive\nawful,negative\nso-so,neutral\nno label here,\n"
        "shouting,POSITIVE\n",
    )
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {
        3: "unknown label", 4: "missing label", 5: "unknown label"
    }


# -- columns, delimiter, encoding --------------------------------------------
def test_missing_column_names_file_columns_and_a_guess(tmp_path):
    path = write(tmp_path, "reviews.csv", "Text,rating\ngreat,positive\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert str(path) in message
    assert "column(s) ['text', 'label'] not found" in message
    assert "['Text', 'rating']" in message
    assert "Did you mean 'Text' for 'text'" in message
    assert "text_column=" in message


def test_semicolon_file_read_as_csv_says_so(tmp_path):
    path = write(tmp_path, "reviews.csv", "text;label\ngreat film;positive\nawful;negative\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert "reviews.csv" in message and "not found" in message
    assert "seems to use ';' (semicolon)" in message
    assert "sep=';'" in message and "CSV UTF-8" in message
    # and the advice works
    data = datasets.load_file(path, task="sentiment", sep=";")
    assert list(data.frame["label"]) == ["positive", "negative"]


def test_semicolon_file_with_commas_in_texts_says_so_too(tmp_path):
    path = write(tmp_path, "reviews.csv", "text;label\ngreat, really great;positive\n")
    with pytest.raises(DataSourceError, match=r"line 2 has 2 fields but the header has 1.*"
                                              r"seems to use ';'"):
        load_dataset(str(path), "sentiment")


def test_tsv_keeps_commas_and_quotes(tmp_path):
    path = write(
        tmp_path, "messages.tsv",
        'text\tlabel\nhi, are you "free" later?\tham\nWIN: claim, now\tspam\n',
    )
    data = load_dataset(str(path), "spam")
    assert data.details["delimiter"] == "\t"
    assert list(data.frame["text"]) == ['hi, are you "free" later?', "WIN: claim, now"]


def test_latin1_file_is_refused_with_position_and_advice(tmp_path):
    content = "text,label\ngood film,positive\nthe clichés pile up,negative\n"
    path = write(tmp_path, "reviews.csv", content.encode("cp1252"))
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    position = content.encode("cp1252").index(b"\xe9")
    assert str(path) in message
    assert f"not valid UTF-8: byte 0xE9 at position {position} (line 3, column 10)" in message
    assert "'é'" in message and "Re-save it as UTF-8" in message


def test_utf8_byte_order_mark_is_removed(tmp_path):
    path = write(tmp_path, "reviews.csv", b"\xef\xbb\xbftext,label\nd\xc3\xa9j\xc3\xa0 vu,"
                                          b"negative\n")
    data = load_dataset(str(path), "sentiment")
    assert data.details["columns"] == ["text", "label"]
    assert data.details["encoding"] == "utf-8 with byte-order mark"
    assert data.frame.loc[0, "text"] == "déjà vu"


def test_windows_line_ends(tmp_path):
    path = write(tmp_path, "reviews.csv", "text,label\r\ngreat,positive\r\nawful,negative\r\n")
    validated = load_and_validate(path)
    assert list(validated.kept["label"]) == ["positive", "negative"]


# -- not a table -------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "it is a PNG image"),
        (b"PK\x03\x04" + bytes(100), "Excel .xlsx workbook"),
        (np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
         "binary file"),
        ("text,label\ngreat,positive\n".encode("utf-16"), "UTF-16"),
        (b"", "the file is empty"),
        (b"\n\n", "no header line"),
        (b"text,label\n", "has a header (text, label) but no data rows"),
    ],
    ids=["png", "xlsx", "random-bytes", "utf16", "empty", "blank-lines", "header-only"],
)
def test_not_a_table(tmp_path, content, expected):
    path = write(tmp_path, "data.csv", content)
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_not_a_parquet_file(tmp_path):
    path = write(tmp_path, "data.parquet", "text,label\ngreat,positive\n")
    with pytest.raises(DataSourceError, match="data.parquet: cannot be read as Parquet"):
        load_dataset(str(path), "sentiment")


def test_ragged_rows_name_their_lines(tmp_path):
    path = write(
        tmp_path, "reviews.csv",
        'text,label\ngreat,positive\ngreat, really,positive\n"two\nlines",negative\n'
        "bad,negative,extra\n",
    )
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert "reviews.csv: line 3 has 3 fields but the header has 2" in message
    assert "'great, really,positive'" in message
    assert "1 more line(s) have too many fields too: 6" in message
    assert "double quotes" in message


def test_extra_field_on_the_first_row_is_not_taken_for_an_index(tmp_path):
    # pandas' default would silently make "great" an index and shift the other values
    path = write(tmp_path, "reviews.csv", "text,label\ngreat, really,positive\nbad,negative\n")
    with pytest.raises(DataSourceError, match="reviews.csv: line 2 has 3 fields but the header "
                                              "has 2"):
        load_dataset(str(path), "sentiment")


def test_repeated_column_name(tmp_path):
    path = write(tmp_path, "reviews.csv", "text,label,text\ngreat,positive,x\n")
    with pytest.raises(DataSourceError, match=r"reviews.csv: the header line names column\(s\) "
                                              r"\['text'\] more than once"):
        load_dataset(str(path), "sentiment")


def test_unclosed_quote_names_its_line(tmp_path):
    path = write(
        tmp_path, "reviews.csv", 'text,label\ngreat,positive\n"oops,negative\nok,positive\n'
    )
    with pytest.raises(DataSourceError, match=r"reviews.csv: line 3 opens a double quote"):
        load_dataset(str(path), "sentiment")


def test_missing_file():
    with pytest.raises(DataSourceError, match="no such file"):
        datasets.load_file("/nonexistent/reviews.csv")


# -- quarantined rows ----------------------------------------------------------
def test_empty_whitespace_nan_and_number_texts_are_quarantined(tmp_path):
    path = write(
        tmp_path, "reviews.csv",
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


def test_parquet_missing_and_numeric_texts(tmp_path):
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


def test_ten_megabyte_text_is_quarantined(tmp_path):
    huge = "word " * 2_000_000  # 10 MB
    content = f"text,label\ngood,positive\n{huge},negative\nbad,negative\n"
    path = write(tmp_path, "reviews.csv", content)
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {2: "text longer than 20,000 characters"}
    excerpt = datasets.quarantine_table(validated.quarantined)["text"].iloc[0]
    assert len(excerpt) <= 200


def test_conflicting_duplicates_are_quarantined(tmp_path):
    path = write(tmp_path, "reviews.csv",
                 "text,label\nIt was fine,positive\nit was fine ,negative\nawful,negative\n")
    validated = load_and_validate(path)
    assert reasons_by_row(validated) == {
        1: "same text with conflicting labels", 2: "same text with conflicting labels"
    }


def test_source_column_is_kept(tmp_path):
    path = write(tmp_path, "reviews.csv",
                 "text,label,where\ngreat,positive,web\nawful,negative,app\n")
    data = load_dataset(str(path), "sentiment", source_column="where")
    assert list(validate(data, SENTIMENT).kept["source"]) == ["web", "app"]
