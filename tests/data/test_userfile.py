"""Reading the user's own file: every file that cannot be read as a table is an error that
names the file, the line and what to do."""

from __future__ import annotations

import numpy as np
import pytest

from shared.core.records import DataSourceError
from shared.data import userfile
from shared.data.sources import load_dataset


def test_missing_column_names_file_columns_and_a_guess(write_file):
    path = write_file("reviews.csv", "Text,rating\ngreat,positive\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert str(path) in message
    assert "column(s) ['text', 'label'] not found" in message
    assert "['Text', 'rating']" in message
    assert "Did you mean 'Text' for 'text'" in message
    assert "text_column=" in message


def test_semicolon_file_read_as_csv_says_so(write_file):
    path = write_file("reviews.csv", "text;label\ngreat film;positive\nawful;negative\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert "reviews.csv" in message and "not found" in message
    assert "seems to use ';' (semicolon)" in message
    assert "sep=';'" in message and "CSV UTF-8" in message
    # and the advice works
    data = userfile.load_file(path, task="sentiment", sep=";")
    assert list(data.frame["label"]) == ["positive", "negative"]


def test_semicolon_file_with_commas_in_texts_says_so_too(write_file):
    path = write_file("reviews.csv", "text;label\ngreat, really great;positive\n")
    with pytest.raises(DataSourceError, match=r"line 2 has 2 fields but the header has 1.*"
                                              r"seems to use ';'"):
        load_dataset(str(path), "sentiment")


def test_tsv_keeps_commas_and_quotes(write_file):
    path = write_file("messages.tsv",
        'text\tlabel\nhi, are you "free" later?\tham\nWIN: claim, now\tspam\n',
    )
    data = load_dataset(str(path), "spam")
    assert data.details["delimiter"] == "\t"
    assert list(data.frame["text"]) == ['hi, are you "free" later?', "WIN: claim, now"]


def test_latin1_file_is_refused_with_position_and_advice(write_file):
    content = "text,label\ngood film,positive\nthe clichés pile up,negative\n"
    path = write_file("reviews.csv", content.encode("cp1252"))
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    position = content.encode("cp1252").index(b"\xe9")
    assert str(path) in message
    assert f"not valid UTF-8: byte 0xE9 at position {position} (line 3, column 10)" in message
    assert "'é'" in message and "Re-save it as UTF-8" in message


def test_utf8_byte_order_mark_is_removed(write_file):
    path = write_file("reviews.csv", b"\xef\xbb\xbftext,label\nd\xc3\xa9j\xc3\xa0 vu,"
                                          b"negative\n")
    data = load_dataset(str(path), "sentiment")
    assert data.details["columns"] == ["text", "label"]
    assert data.details["encoding"] == "utf-8 with byte-order mark"
    assert data.frame.loc[0, "text"] == "déjà vu"


def test_windows_line_ends(load_and_validate, write_file):
    path = write_file("reviews.csv", "text,label\r\ngreat,positive\r\nawful,negative\r\n")
    validated = load_and_validate(path)
    assert list(validated.kept["label"]) == ["positive", "negative"]


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
def test_not_a_table(content, expected, write_file):
    path = write_file("data.csv", content)
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    assert str(path) in str(error.value)
    assert expected in str(error.value)


def test_not_a_parquet_file(write_file):
    path = write_file("data.parquet", "text,label\ngreat,positive\n")
    with pytest.raises(DataSourceError, match="data.parquet: cannot be read as Parquet"):
        load_dataset(str(path), "sentiment")


def test_ragged_rows_name_their_lines(write_file):
    path = write_file("reviews.csv",
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


def test_extra_field_on_the_first_row_is_not_taken_for_an_index(write_file):
    # pandas' default would silently make "great" an index and shift the other values
    path = write_file("reviews.csv", "text,label\ngreat, really,positive\nbad,negative\n")
    with pytest.raises(DataSourceError, match="reviews.csv: line 2 has 3 fields but the header "
                                              "has 2"):
        load_dataset(str(path), "sentiment")


def test_repeated_column_name(write_file):
    path = write_file("reviews.csv", "text,label,text\ngreat,positive,x\n")
    with pytest.raises(DataSourceError, match=r"reviews.csv: the header line names column\(s\) "
                                              r"\['text'\] more than once"):
        load_dataset(str(path), "sentiment")


def test_unclosed_quote_names_its_line(write_file):
    path = write_file("reviews.csv", 'text,label\ngreat,positive\n"oops,negative\nok,positive\n'
    )
    with pytest.raises(DataSourceError, match=r"reviews.csv: line 3 opens a double quote"):
        load_dataset(str(path), "sentiment")


def test_missing_file():
    with pytest.raises(DataSourceError, match="no such file"):
        userfile.load_file("/nonexistent/reviews.csv")


def test_a_date_column_is_carried_and_named_ones_must_exist(write_file):
    path = write_file("dated.csv", "text,label,when\nGood,positive,2024-01-02\n")
    assert "date" not in userfile.load_file(path).frame.columns
    loaded = userfile.load_file(path, date_column="when")
    assert loaded.frame["date"].tolist() == ["2024-01-02"]
    assert loaded.details["date_column"] == "when"
    with pytest.raises(DataSourceError, match=r"column\(s\) \['day'\] not found"):
        userfile.load_file(path, date_column="day")
    auto = write_file("auto.csv", "text,label,date\nGood,positive,2024-01-02\n")
    assert userfile.load_file(auto).frame["date"].tolist() == ["2024-01-02"]
