"""The words a hashing model knows: a bounded vocabulary carried inside its pipeline.

A ``HashingVectorizer`` keeps no vocabulary, so nothing in a hashing model says
which words it has seen: monitoring's unknown-word share and stage 5's term
weights need one. The out-of-core training counts words as the training
stream goes by (:class:`WordCounter`, bounded) and keeps the most frequent in
a :class:`KnownWords` step placed after the cleaner. The step passes texts
through unchanged (it costs nothing when serving) and offers what
``shared.model.models.Vocabulary`` reads from a TF-IDF vectorizer: ``vocabulary_``
and ``build_analyzer()``. So the deployed file alone still answers "which
words are new", for this model as for the others, with no second artifact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer

from shared.model.text import text_step_tags

#: words kept by default: the most frequent of the training stream
MAX_WORDS = 100_000
_SEPARATOR = "\n"  # cleaned texts hold no newline, so no word does


def word_analyzer(lowercase: bool = True, strip_accents: str | None = "unicode") -> Any:
    """Unigrams as the hashing word vectorizer sees them (same tokens, case and accents)."""
    return CountVectorizer(lowercase=lowercase, strip_accents=strip_accents).build_analyzer()


class KnownWords(TransformerMixin, BaseEstimator):
    """Pipeline step holding the model's known words; ``transform`` returns the texts as given.

    ``words`` is set by the training code (:meth:`set_words`), not learnt in
    ``fit``: the words come from the whole training stream, while the step
    only ever sees one batch. Stored as one newline-joined string (a dict would
    cost skops a JSON node per word).
    """

    def __init__(self, lowercase: bool = True, strip_accents: str | None = "unicode") -> None:
        self.lowercase = lowercase
        self.strip_accents = strip_accents

    def fit(self, X: Any, y: Any = None) -> KnownWords:  # noqa: N803
        """Nothing to learn from one batch."""
        if not hasattr(self, "words_"):
            self.words_ = ""
        return self

    def set_words(self, words: Iterable[str]) -> KnownWords:
        """Remember ``words`` (in the given order: most frequent first)."""
        self.words_ = _SEPARATOR.join(w for w in words if w and _SEPARATOR not in w)
        return self

    def transform(self, X: Any) -> Any:  # noqa: N803
        """The texts, unchanged."""
        return X

    @property
    def vocabulary_(self) -> dict[str, int]:
        """Word -> rank, as a fitted vectorizer's ``vocabulary_`` (what ``Vocabulary`` reads)."""
        words = getattr(self, "words_", "")
        return {word: rank for rank, word in enumerate(words.split(_SEPARATOR))} if words else {}

    def build_analyzer(self) -> Any:
        """The word analyzer the counts were made with."""
        return word_analyzer(self.lowercase, self.strip_accents)

    def __sklearn_tags__(self):  # noqa: D105
        return text_step_tags(super().__sklearn_tags__())


class WordCounter:
    """Counts words of a stream in bounded memory and keeps the most frequent.

    When more than ``4 * limit`` distinct words are held, the counts are cut
    back to the ``2 * limit`` largest: a word that is frequent over the whole
    stream survives every cut, so the words finally kept are the frequent ones
    (exact when the stream's vocabulary fits, which it does for most text).
    """

    def __init__(self, limit: int = MAX_WORDS, analyzer: Any = None) -> None:
        self.limit = limit
        self.analyze = analyzer or word_analyzer()
        self.counts: Counter = Counter()
        self.pruned = False

    def update(self, texts: Iterable[str]) -> None:
        """Count the words of ``texts``."""
        analyze = self.analyze
        for text in texts:
            self.counts.update(analyze(text))
        if len(self.counts) > 4 * self.limit:
            self.counts = Counter(dict(self.most_common(2 * self.limit)))
            self.pruned = True

    def most_common(self, n: int | None = None) -> list[tuple[str, int]]:
        """Words by falling count, ties by the word itself (deterministic)."""
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
        return ranked if n is None else ranked[:n]

    def words(self) -> list[str]:
        """The ``limit`` most frequent words."""
        return [word for word, _ in self.most_common(self.limit)]


def hashed_columns(vectorizer: Any, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Column and sign of each word in a word ``HashingVectorizer`` (its own hash, no table)."""
    matrix = vectorizer.transform(words).tocsr()
    columns = np.full(len(words), -1)
    signs = np.zeros(len(words))
    for i in range(len(words)):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        if end > start:  # a unigram alone gives one feature (its bigrams need two words)
            columns[i] = matrix.indices[start]
            signs[i] = np.sign(matrix.data[start])
    return columns, signs
