"""Reading a data set in chunks (shared.data.chunks): global row numbers, unreadable files."""

import numpy as np
import pytest

from shared.core.records import DataSourceError
from shared.data import chunks


@pytest.mark.parametrize(("content", "message"), [
    (b"text,label\ngood,positive\nbad,negative,extra\n", "line 3"),
    (b"text,label\ngood,positive\ncaf\xe9 noir,positive\n", r"not valid UTF-8.*line 3"),
    (b"review,label\ngood,positive\n", r"column\(s\) \['text'\] not found"),
    (b"%PDF-1.4 binary", "it is a PDF document"),
])
def test_unreadable_files_are_refused_naming_the_line(tmp_path, write_file, spec, content,
                                                      message):
    with pytest.raises(DataSourceError, match=message):
        list(chunks.iter_file_chunks(write_file("bad.csv", content), chunk_rows=1))


def test_chunks_number_rows_from_the_top_of_the_file(write_file):
    path = write_file("r.csv", "text,label\n" + "".join(f"t{i},positive\n" for i in range(10)))
    got = list(chunks.iter_file_chunks(path, chunk_rows=4))
    assert [len(c) for c in got] == [3, 4, 3]  # the header line is the first chunk's first
    assert np.concatenate([c["row"] for c in got]).tolist() == list(range(1, 11))
