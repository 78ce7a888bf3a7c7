"""Mapping the labels of a user's file to the task's labels with ``positive_label``."""

from __future__ import annotations

import pandas as pd
import pytest

from shared.core.records import DataSourceError
from shared.data.label_mapping import StreamingLabelMap
from shared.data.sources import load_dataset
from shared.data.tasks import get_task
from shared.data.validation import validate

SENTIMENT = get_task("sentiment").spec
SPAM = get_task("spam").spec


def test_positive_label_maps_custom_columns(write_file):
    path = write_file("reviews.csv",
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


def test_three_label_values_leave_the_extras_to_quarantine(load_and_validate, reasons_by_row, write_file):
    path = write_file("sms.csv",
        "text,label\nWIN cash now,junk\nlunch at 1?,ham\nmaybe an ad,unsure\ncall me,ham\n",
    )
    validated = load_and_validate(path, "spam", positive_label="junk")
    assert reasons_by_row(validated) == {3: "unknown label"}
    assert list(validated.kept["label"]) == ["spam", "ham", "ham"]


def test_three_label_values_with_no_negative_left_is_an_error(write_file):
    path = write_file("reviews.csv",
        "text,label\ngreat,pos\nawful,neg\nfine I guess,neutral\n",
    )
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment", positive_label="pos")
    message = str(error.value)
    assert "reviews.csv" in message and "no row is left for 'negative'" in message
    assert "'neg', 'neutral'" in message


def test_positive_label_that_does_not_occur(write_file):
    path = write_file("reviews.csv", "text,label\ngreat,1\nawful,0\n")
    with pytest.raises(DataSourceError, match=r"reviews.csv: positive_label='yes' does not "
                                              r"occur in column 'label'.*\['0', '1'\]"):
        load_dataset(str(path), "sentiment", positive_label="yes")


def test_labels_that_are_not_the_tasks_need_positive_label(write_file):
    path = write_file("reviews.csv", "text,label\ngreat,1\nawful,0\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert "reviews.csv" in message and "['0', '1']" in message
    assert "positive_label" in message


def test_a_streaming_mapping_of_two_values_is_kept():
    mapper = StreamingLabelMap(" 5 ", SENTIMENT, "big.csv", "stars")
    first = mapper(pd.DataFrame({"label": pd.Series(["5", "1", None, ""], dtype=object)}))
    second = mapper(pd.DataFrame({"label": [5, " 1"]}))
    assert first["label"].tolist() == ["positive", "negative", None, ""]
    assert second["label"].tolist() == ["positive", "negative"]
    assert mapper.finish() == {"5": "positive", "1": "negative"}


@pytest.mark.parametrize(("chunks", "message"), [
    ([["5", "1"], ["3"]], r"big.csv: with positive_label='5', column 'stars' holds 3 distinct "
                          r"values \(\['1 \(1 rows\)', '3 \(1 rows\)', '5 \(1 rows\)'\]\), not two"),
    ([["5"], ["5"]], "has no other value, and a classifier needs examples of both classes"),
    ([["1"], ["0"]], r"never holds '5'; its values are \['0 \(1 rows\)', '1 \(1 rows\)'\]"),
])
def test_a_streaming_mapping_that_is_not_binary_is_refused(chunks, message):
    mapper = StreamingLabelMap("5", SENTIMENT, "big.csv", "stars")
    for labels in chunks:
        mapper(pd.DataFrame({"label": labels}))
    with pytest.raises(DataSourceError, match=message):
        mapper.finish()


def test_a_streaming_mapping_of_many_values_stops_remembering_them():
    mapper = StreamingLabelMap("5", SENTIMENT, "big.csv", "stars")
    mapper(pd.DataFrame({"label": [str(i) for i in range(500)]}))
    assert len(mapper.seen) <= 52
    with pytest.raises(DataSourceError, match=r"holds 5\d\+ distinct values .* and more"):
        mapper.finish()
