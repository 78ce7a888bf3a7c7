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
    # 1 and 2 (as in the Yelp and Amazon polarity sets, where 2 is positive) are no convention
    path = write_file("reviews.csv", "text,label\ngreat,2\nawful,1\n")
    with pytest.raises(DataSourceError) as error:
        load_dataset(str(path), "sentiment")
    message = str(error.value)
    assert "reviews.csv" in message and "['1', '2']" in message
    assert "positive_label" in message


@pytest.mark.parametrize(("task", "negative", "spec"), [("sentiment", "0", SENTIMENT),
                                                        ("spam", "-1", SPAM)])
def test_labels_of_0_and_1_are_read_with_1_positive_and_a_warning(write_file, task, negative,
                                                                   spec):
    path = write_file("mine.csv", f"text,label\ngreat,1\nawful,{negative}\nok, 1 \n")
    with pytest.warns(UserWarning, match=rf"mine.csv: column 'label' holds {negative} and 1, "
                                         rf"read as '{spec.negative_label}' and "
                                         rf"'{spec.positive_label}'.*positive_label={negative}"):
        loaded = load_dataset(str(path), task)
    assert loaded.frame["label"].tolist() == [spec.positive_label, spec.negative_label,
                                              spec.positive_label]
    assert loaded.details["label_mapping"] == {"1": spec.positive_label,
                                               negative: spec.negative_label}
    # named, 0 is the positive class, and nothing is guessed
    flipped = load_dataset(str(path), task, positive_label=negative)
    assert flipped.frame["label"].tolist()[:2] == [spec.negative_label, spec.positive_label]


def test_a_stream_of_0_and_1_is_read_with_1_positive_and_checked_at_the_end(write_file):
    from shared.data.chunks import iter_source_chunks

    good = write_file("big.csv", "text,label\n" + "a,1\nb,1\n" * 3 + "c,0\n")
    with pytest.warns(UserWarning, match="read as 'negative' and 'positive'"):
        _, _, details, chunks = iter_source_chunks(str(good), "sentiment", chunk_rows=2)
    labels = [label for chunk in chunks for label in chunk["label"]]
    assert labels == ["positive"] * 6 + ["negative"] and details["label_mapping"] == \
        {"1": "positive", "0": "negative"}
    # the first chunk looked like 0/1, the column is not: refused once it is all read
    bad = write_file("bad.csv", "text,label\na,1\nb,0\nc,2\n")
    with pytest.warns(UserWarning):
        chunks = iter_source_chunks(str(bad), "sentiment", chunk_rows=2)[3]
    with pytest.raises(DataSourceError, match=r"bad.csv: column 'label' began with 0/1 labels.*"
                                              r"'2 \(1 rows\)'.*positive_label="):
        list(chunks)


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
