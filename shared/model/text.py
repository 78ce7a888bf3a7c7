"""The text rules as a scikit-learn pipeline step: :class:`TextCleaner`, the first step of
every model, applies :func:`shared.core.text_rules.clean_text` to each text.

It lives apart from the rules so that only code that builds or loads a model imports
scikit-learn; its name, ``shared.model.text.TextCleaner``, is written into every model file and
stays where it is.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from shared.core.text_rules import clean_text


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


class NormalisedText(str):
    """A normalised text that remembers the cleaned text it came from (``raw``).

    Word and character n-grams read the normalised text; feature groups that describe how a
    message looks (its shape, its sentiment-lexicon scores) read ``raw``, so one pass of
    normalisation serves both.
    """

    __slots__ = ("raw",)

    def __new__(cls, text: str, raw: str) -> NormalisedText:  # noqa: D102
        value = super().__new__(cls, text)
        value.raw = raw
        return value

    def __reduce__(self) -> tuple:  # joblib hands texts to worker processes by pickling
        return NormalisedText, (str(self), self.raw)


def raw_text(text: str) -> str:
    """The cleaned text before normalisation (the text itself when it was not normalised)."""
    return getattr(text, "raw", text)


class TextNormalizer(TransformerMixin, BaseEstimator):
    """Pipeline step after :class:`TextCleaner`: the text path of ``shared.core.normalise``
    (confusables, typed placeholders, de-leet, name blinding), in that order.

    ``fit`` keeps the words the training texts teach (``shared.core.name_rules.known_words``: those
    held in lower case, or for ``names="list_and_unseen"`` every word), as one newline-joined
    string (skops would write a set word by word): de-leet accepts them as words, and the
    name rules blind a capitalised word only if it is not among them. The name list itself
    comes from ``shared.core.names``. An old model file has no such step and keeps its old
    behaviour.

    ``placeholders``: False (off), True (each link, number or amount becomes its placeholder
    alone) or "keep" (the placeholder, then what it stands for).
    """

    #: a model file written before ``name_words`` has none: it reads False, and its capitalised
    #: first names that are also English words ("Tyrone") stay words, as they did
    name_words: bool = False

    def __init__(self, confusables: bool = True, placeholders: bool | str = True,
                 leet: bool = True, names: str = "list", name_words: bool = True) -> None:
        self.confusables = confusables
        self.placeholders = placeholders
        self.leet = leet
        self.names = names
        self.name_words = name_words

    def fit(self, X: Iterable[str], y: object = None) -> TextNormalizer:  # noqa: N803
        """Remember what the (cleaned) training texts teach: the words they write in lower
        case (``shared.core.name_rules.known_words``)."""
        from shared.core.name_rules import known_words

        return self.fit_words(known_words([str(t) for t in X], self.names))

    def fit_words(self, words: Iterable[str]) -> TextNormalizer:
        """Remember ``words`` as :meth:`fit` remembers those its texts teach (out of core, the
        training stream's: ``shared.core.name_rules.WordCollector``)."""
        from shared.core.problem import NAME_BLINDING

        if self.names not in NAME_BLINDING:
            raise ValueError(f"names={self.names!r}: choose one of {', '.join(NAME_BLINDING)}")
        if self.placeholders not in (True, False, "keep"):
            raise ValueError(f"placeholders={self.placeholders!r}: choose True, False or 'keep'")
        self.known_words_ = "\n".join(sorted(words))
        self._path = None
        return self

    def _text_path(self):
        path = getattr(self, "_path", None)
        if path is None:
            from shared.core.normalise import text_path

            seen = frozenset(self.known_words_.split("\n")) if self.known_words_ else frozenset()
            path = self._path = text_path(self.confusables, self.placeholders, self.leet,
                                          self.names, seen, self.name_words)
        return path

    def transform(self, X: Iterable[str]) -> np.ndarray:  # noqa: N803
        """The normalised texts (each a :class:`NormalisedText`), as an object array."""
        path = self._text_path()
        texts = [str(t) for t in X]
        result = np.empty(len(texts), dtype=object)
        result[:] = [NormalisedText(path(t), t) for t in texts]
        return result

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_path", None)  # a closure over the word sets: rebuilt after loading
        return state

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags
