"""Windows of the prediction log: the newest N predictions, or the last hour, day or week.

A window by count (``split_windows``) always holds the same number of predictions, however
busy the service; a window by time (``time_windows``) always covers the same span, however
quiet. The live-quality rules need true labels, which arrive later than the predictions
(a user reports spam hours after it was delivered): a time window's live metrics are
therefore read on the predictions of the same span shifted back by the spec's
``label_delay_hours``, joined with the feedback that arrived within that delay of each
prediction, so that a window is not judged on labels that could not have come back yet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

#: the time windows the watch loop checks unless told otherwise
DEFAULT_SPANS = ("1h", "1d", "7d")

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    """``"10m"``, ``"1h"``, ``"7d"`` (s, m, h, d or w) as a timedelta; ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: write a positive number and a unit, "
                         "s, m, h, d or w (for example 30s, 10m, 1h, 7d)")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def split_windows(log: pd.DataFrame, size: int, count: int | None = None) -> list[pd.DataFrame]:
    """The log cut into windows of ``size`` predictions, counted back from the newest.

    The newest window is always full (when the log holds ``size`` rows); an
    older remainder shorter than ``size`` is dropped unless it is all there is.
    ``count`` keeps only the newest windows. Oldest window first.
    """
    if size < 1:
        raise ValueError(f"window size must be at least 1, got {size}")
    log = log.reset_index(drop=True)
    ends = list(range(len(log), 0, -size))
    windows = [log.iloc[max(end - size, 0):end] for end in ends]
    if len(windows) > 1 and len(windows[-1]) < size:
        windows = windows[:-1]
    if count is not None:
        windows = windows[:count]
    return windows[::-1]


def window_name(window: pd.DataFrame) -> str:
    """A stable name for a window of logged predictions: its row-id range."""
    if window.empty:
        return "empty window"
    return f"predictions {int(window['id'].min())}-{int(window['id'].max())}"


@dataclass(frozen=True)
class TimeWindow:
    """The predictions of one span up to now, and those its live metrics are read on."""

    name: str
    #: predictions logged in (now - span, now]
    predictions: pd.DataFrame
    #: predictions logged in (now - delay - span, now - delay], with only the feedback that
    #: arrived within ``delay`` of each (``true_label`` '' otherwise)
    labelled: pd.DataFrame


def time_windows(
    log: pd.DataFrame, spans: Sequence[str], now: datetime, label_delay: timedelta,
) -> list[TimeWindow]:
    """One window per span (``"1h"``, ``"1d"`` ...) ending at ``now``, shortest first.

    ``log`` has the prediction log's columns with feedback (``prediction_log.read(...,
    with_feedback=True)``: ``created_at``, ``true_label``, ``feedback_at``). A window may be
    empty: the caller decides what an empty span means.
    """
    created = pd.to_datetime(log["created_at"], utc=True, format="ISO8601")
    arrived = pd.to_datetime(log["feedback_at"].replace("", None), utc=True, format="ISO8601")
    now = pd.Timestamp(now)
    now = now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")
    in_time = (arrived.notna() & (arrived - created <= label_delay)).to_numpy()
    windows = []
    for span_text in sorted(spans, key=parse_duration):
        span = parse_duration(span_text)
        current = ((created > now - span) & (created <= now)).to_numpy()
        shifted = ((created > now - label_delay - span) & (created <= now - label_delay)).to_numpy()
        labelled = log[shifted].copy()
        labelled.loc[~in_time[shifted], "true_label"] = ""
        windows.append(TimeWindow(f"last {span_text}", log[current], labelled))
    return windows
