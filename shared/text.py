"""Text cleaning shared by training and serving.

The same ``clean_text`` runs in stage 3 (before de-duplication and splitting)
and inside every model pipeline as its first step (``TextCleaner``), so a text
is cleaned identically whether it is trained on, evaluated or served: no
training/serving skew.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u200b-\u200d\ufeff]")
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Normalise one text: Unicode NFKC, no control characters or HTML breaks, single spaces.

    Case and punctuation are kept: "NOT good!!" carries signal the vectorizer
    can use. The function is idempotent: cleaning twice changes nothing.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _HTML_BREAK.sub(" ", text)
    text = _CONTROL.sub("", text)
    return _SPACES.sub(" ", text).strip()


def dedup_key(text: str) -> str:
    """The key under which two texts count as exact duplicates (case-insensitive)."""
    return clean_text(text).casefold()


def word_count(text: str) -> int:
    return len(text.split())


class TextCleaner(TransformerMixin, BaseEstimator):
    """Pipeline step that applies :func:`clean_text` to every text (stateless)."""

    def fit(self, X: Iterable[str], y: object = None) -> TextCleaner:  # noqa: N803
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:  # noqa: N803
        return np.array([clean_text(str(text)) for text in X], dtype=object)

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags
