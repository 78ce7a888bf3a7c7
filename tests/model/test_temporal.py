"""Time-ordered evaluation: the future is the newest dated test rows; the past model never
sees them or anything dated after them."""

import pandas as pd
from sklearn.linear_model import LogisticRegression

from shared.model import models, temporal


def _frame(texts, labels, dates):
    return pd.DataFrame({"text": texts, "label": labels, "date": dates})


def test_undated_splits_give_no_comparison(spam_spec):
    frame = _frame(["win cash now", "see you at 6"] * 10, ["spam", "ham"] * 10, [""] * 20)
    model = models.text_pipeline(LogisticRegression()).fit(frame["text"], frame["label"])
    assert temporal.compare(model, frame, frame, spam_spec) is None
    assert "no row of the test split carries a date" in temporal.describe(None)


def test_the_past_model_trains_on_rows_before_the_future_only(spam_spec):
    old = ["win cash now", "free prize call", "see you at 6", "lunch tomorrow?"] * 6
    new = ["your parcel fee is due, pay at xxurl", "hi mum new number, send money",
           "dinner at 8?", "the meeting moved to 3"] * 6
    labels = ["spam", "spam", "ham", "ham"] * 6
    train = pd.concat([_frame(old, labels, "2020-01-01"), _frame(new, labels, "2025-08-01")])
    test = pd.concat([_frame(old, labels, "2020-02-01"), _frame(new, labels, "2025-07-01")])
    spec = spam_spec.with_overrides(gender_augmentation=False)
    model = models.text_pipeline(LogisticRegression()).fit(train["text"], train["label"])
    table = temporal.compare(model, train, test, spec)
    assert table.attrs["cutoff"] == "2025-07-01"
    assert table["training rows"].tolist() == [len(train), len(old)]  # the 2025 rows are future
    assert table["future rows"].tolist() == [len(new)] * 2
    assert "2025-07-01" in temporal.describe(table)
