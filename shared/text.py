"""The text rules as a scikit-learn pipeline step: :class:`TextCleaner`, the first step of
every model, applies :func:`shared.text_rules.clean_text` to each text.

It lives apart from the rules so that only code that builds or loads a model imports
scikit-learn; its name, ``shared.text.TextCleaner``, is written into every model file and
stays where it is.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from shared.text_rules import clean_text


class TextCleaner(TransformerMixin, BaseEstimator):
    """Pipeline step that applies :func:`clean_text` to every text (stateless)."""

    def fit(self, X: Iterable[str], y: object = None) -> TextCleaner:  # noqa: N803
        """Nothing to learn."""
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:  # noqa: N803
        """The cleaned texts, as an object array."""
        return np.array([clean_text(str(text)) for text in X], dtype=object)

    def __sklearn_tags__(self):  # noqa: D105
        return text_step_tags(super().__sklearn_tags__())


def text_step_tags(tags: object) -> object:
    """scikit-learn tags of a step that takes a list of strings and needs no fit."""
    tags.input_tags.string = True
    tags.input_tags.two_d_array = False
    tags.requires_fit = False
    return tags
