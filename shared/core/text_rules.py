"""What a text is to this project: which texts can be scored, how a text is cleaned, and
when two texts are the same. Plain Python, numpy and pandas: the data stages (2 and 3)
apply these rules without loading scikit-learn.

One function, :func:`unscoreable_reason`, decides whether a text can be learnt
from or scored: stage 2 quarantines the texts it refuses, and the predictor
(stage 7, the batch command, the HTTP service) answers them with the same
reason instead of a label, so training and serving never disagree on it.

The same :func:`clean_text` runs in stage 3 (before de-duplication and
splitting) and inside every model pipeline as its first step (``shared.model.text.TextCleaner``),
so a text is cleaned identically whether it is trained on, evaluated or served.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata

import pandas as pd

#: the longest text accepted for training or scoring, in characters
MAX_TEXT_CHARS = 20_000
#: texts that only say a value is missing (compared case-insensitively)
MISSING_MARKERS = frozenset({"nan", "na", "n/a", "#n/a", "null", "none", "nil", "undefined"})

_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,' ]\d+)*|[.,]\d+)(?:[eE][+-]?\d+)?%?")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200d\ufeff]")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def is_missing(value: object) -> bool:
    """True for None, pandas' NA and a float NaN: a value that is not there."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def is_number(value: object) -> bool:
    """True for a number, or a string that is only a number ("12345", "3.5", "-2", "1,000")."""
    if isinstance(value, str):
        return _NUMBER.fullmatch(value.strip()) is not None
    return isinstance(value, numbers.Number)


def unscoreable_reason(text: object, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why ``text`` can be neither learnt from nor scored, or None when it can.

    The reasons, the first that applies: missing text; a number, not words
    (usually the wrong column); not a string; a missing-value marker such as
    "NaN" or "NULL"; empty (also when only characters that cleaning removes);
    longer than ``max_chars`` characters.
    """
    if is_missing(text):
        return "missing text"
    if is_number(text):
        return "text is a number, not words"
    if not isinstance(text, str):
        return "text is not a string"
    stripped = text.strip()
    if stripped.casefold() in MISSING_MARKERS:
        return "text is a missing-value marker (NaN, NULL, N/A...)"
    if not stripped:
        return "empty text"
    if len(stripped) > max_chars:
        return f"text longer than {max_chars:,} characters"
    if not clean_text(stripped):
        return "empty text"
    return None


def clean_text(text: str) -> str:
    """Normalise one text: no control characters, Unicode NFKC, no HTML breaks, single spaces.

    Case and punctuation are kept: "NOT good!!" carries signal the vectorizer
    can use. The function is idempotent: cleaning twice changes nothing, which stage 3
    relies on (it keeps cleaned texts, which every model cleans again, and the
    out-of-core engine keys duplicates by the cleaned text case-folded). Hence the
    order: control characters go before NFKC, so that a letter and an accent a
    zero-width space held apart ("cafe\u200b\u0301") are composed now, not on the next
    pass; HTML breaks go after NFKC (full-width "＜br＞") and until none is left
    ("<br<br>>").
    """
    text = _CONTROL.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    while (unbroken := _HTML_BREAK.sub(" ", text)) != text:
        text = unbroken
    return _SPACES.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """The key under which two texts count as exact duplicates (case-insensitive)."""
    return clean_text(text).casefold()
