"""The one reader of a user's table, in chunks: every row as written, or an error naming the line."""

from __future__ import annotations

import pandas as pd
import pytest

from shared.core import csv_reader
from shared.core.records import DataSourceError


def _read(path, **kwargs) -> list[pd.DataFrame]:
    return list(csv_reader.iter_csv(path, **kwargs))


def test_chunks_hold_every_record_as_strings_blank_lines_included(write_file):
    path = write_file("in.csv", 'id,text\n1,"two\nlines"\n\n3\n4,"a ""quoted"" word"\n5,last\n')
    chunks = _read(path, chunk_rows=2)
    assert len(chunks) > 1 and all(list(c.columns) == ["id", "text"] for c in chunks)
    whole = pd.concat(chunks, ignore_index=True)
    assert whole.values.tolist() == [["1", "two\nlines"], ["", ""], ["3", ""],
                                     ["4", 'a "quoted" word'], ["5", "last"]]


def test_an_extra_field_after_the_first_chunk_names_its_line(write_file):
    # the record on lines 2-3 spans two lines, so the wide record is line 7, record 6
    path = write_file("in.csv", 'text\n"two\nlines"\nb\nc\nd\nJessica loved it, wonderful film.\n')
    with pytest.raises(DataSourceError, match=r"in.csv: line 7 has 2 fields but the header has "
                                              r"1 \('text'\): 'Jessica loved it, wonderful "
                                              r"film.'\. A text that contains the delimiter"):
        _read(path, chunk_rows=2)


def test_a_required_column_that_is_missing_is_named(write_file):
    path = write_file("in.tsv", "body\tlabel\nhello\tpositive\n")
    with pytest.raises(DataSourceError, match=r"column\(s\) \['text'\] not found"):
        _read(path, required=("text", "label"))
    assert _read(path, required=("body",))[0]["body"].tolist() == ["hello"]  # tab from .tsv


def test_a_file_that_is_not_utf8_names_byte_and_line(write_file):
    path = write_file("in.csv", b"text\nok\ncaf\xe9\n")
    with pytest.raises(DataSourceError, match=r"not valid UTF-8: byte 0xE9 at position 11 "
                                              r"\(line 3\)"):
        _read(path)
