"""Windows of the prediction log: by count, by time, and live labels that arrive late."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from shared.monitoring import windows


def test_split_windows_counts_back_from_the_newest():
    log = pd.DataFrame({"id": range(1, 121)})
    split = windows.split_windows(log, 50)
    assert [(w["id"].min(), w["id"].max()) for w in split] == [(21, 70), (71, 120)]
    assert [len(w) for w in windows.split_windows(log, 50, count=1)] == [50]
    assert [len(w) for w in windows.split_windows(log.head(30), 50)] == [30]
    assert windows.window_name(split[-1]) == "predictions 71-120"


@pytest.mark.parametrize(("text", "expected"), [
    ("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)), ("1h", timedelta(hours=1)),
    ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)), ("1.5h", timedelta(minutes=90)),
])
def test_durations(text, expected):
    assert windows.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "1y", "-1h", "0m", "h"])
def test_a_bad_duration_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="s, m, h, d or w"):
        windows.parse_duration(text)


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _log(rows):
    """Predictions made ``age`` hours before NOW, labelled ``after`` hours later (or never)."""
    frame = []
    for i, (age, after) in enumerate(rows):
        made = NOW - timedelta(hours=age)
        frame.append({"id": i + 1, "created_at": made.isoformat(), "label": "positive",
                      "true_label": "" if after is None else "positive",
                      "feedback_at": "" if after is None
                      else (made + timedelta(hours=after)).isoformat()})
    return pd.DataFrame(frame)


def test_time_windows_cover_their_span_and_read_live_labels_a_delay_earlier():
    log = _log([(0.5, None), (5, 1), (25, 2), (26, 30), (30, 1), (24 * 8, 1)])
    found = windows.time_windows(log, ["1d", "1h"], NOW, label_delay=timedelta(hours=24))
    assert [w.name for w in found] == ["last 1h", "last 1d"]
    hour, day = found
    assert hour.predictions["id"].tolist() == [1]
    assert day.predictions["id"].tolist() == [1, 2]
    # live labels: predictions 24 to 48 hours old, feedback counted when it came within 24 h
    assert day.labelled["id"].tolist() == [3, 4, 5]
    assert day.labelled["true_label"].tolist() == ["positive", "", "positive"]
    assert hour.labelled["id"].tolist() == []  # none made 24-25 hours ago
