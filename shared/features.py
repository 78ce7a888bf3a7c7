"""Text features: word and character n-gram TF-IDF, and NB log-count-ratio scaling.

Every TF-IDF pipeline's ``features`` step is a ``FeatureUnion``: the word n-grams,
always, then each optional group of :data:`OPTIONAL_GROUPS`, which stage 4's
grids switch off and on (``docs/adding_a_feature.md`` adds one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

# No vocabulary term can hold a newline: texts are cleaned (white space collapsed to
# single spaces) before any vectorizer sees them.
_TERM_SEPARATOR = "\n"


class CompactTfidfVectorizer(TfidfVectorizer):
    """scikit-learn's ``TfidfVectorizer``, whose vocabulary is stored compactly in model files.

    skops writes a dict entry by entry, as a typed JSON node per key and per value,
    so a vocabulary of 100,000 n-grams becomes a schema of tens of megabytes that
    takes seconds to write and to read back. Stored instead as its terms in index
    order, joined by newlines, it is the same vocabulary in one string: the model
    predicts identically and its file loads in a fraction of the time.
    """

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__ itself
        vocabulary = state.get("vocabulary_")
        if vocabulary is not None and not any(_TERM_SEPARATOR in t for t in vocabulary):
            terms = sorted(vocabulary, key=vocabulary.__getitem__)
            state.pop("vocabulary_")
            state["vocabulary_terms_"] = _TERM_SEPARATOR.join(terms)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = (
                {term: index for index, term in enumerate(terms.split(_TERM_SEPARATOR))}
                if terms else {}
            )
        super().__setstate__(state)


def word_tfidf(ngram_range: tuple[int, int] = (1, 2), min_df: int = 1) -> TfidfVectorizer:
    """Word n-grams, lower-cased, accents stripped, sub-linear term frequency."""
    return CompactTfidfVectorizer(
        lowercase=True, ngram_range=ngram_range, min_df=min_df, sublinear_tf=True,
        strip_accents="unicode",
    )


def char_tfidf(ngram_range: tuple[int, int] = (2, 5), min_df: int = 2) -> TfidfVectorizer:
    """Character n-grams inside word boundaries: robust to typos and word forms."""
    return CompactTfidfVectorizer(
        analyzer="char_wb", lowercase=True, ngram_range=ngram_range, min_df=min_df,
        sublinear_tf=True,
    )


#: the feature groups stage 4 switches off and on next to the word n-grams: each one's name
#: in the FeatureUnion (the grids' ``features__<name>``) and the function that makes it. A
#: group added here is in every TF-IDF pipeline, off ("drop"), and both ways in every grid
#: of the linear families (``shared.models.candidates``); its type must also be listed in
#: ``shared.modelfile.TRUSTED_TYPES``.
OPTIONAL_GROUPS: dict[str, Callable[[], Any]] = {"char": char_tfidf}


def text_features(char: bool = False) -> FeatureUnion:
    """Word n-grams, then every optional group off ("drop"); ``char`` switches the
    character n-grams on (the search switches each group with ``features__<name>``)."""
    return FeatureUnion([("word", word_tfidf())] + [
        (name, make() if char and name == "char" else "drop")
        for name, make in OPTIONAL_GROUPS.items()
    ])


class LogCountRatio(TransformerMixin, BaseEstimator):
    """Scale each feature by its naive-Bayes log-count ratio (Wang & Manning, 2012).

    ``r = log((p / |p|_1) / (q / |q|_1))`` with ``p`` (``q``) the smoothed count
    of documents of the second (first) class in which the feature occurs. A
    linear model on ``x * r`` is the NB-SVM family: the ratio tells the model
    up front which features lean to which class, which helps most on short
    texts and small data sets.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X, y) -> LogCountRatio:  # noqa: N803
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(f"LogCountRatio needs two classes, got {len(self.classes_)}")
        present = sp.csr_matrix(X) > 0
        second = y == self.classes_[1]
        p = self.alpha + np.asarray(present[second].sum(axis=0), dtype=float).ravel()
        q = self.alpha + np.asarray(present[~second].sum(axis=0), dtype=float).ravel()
        self.ratio_ = np.log((p / p.sum()) / (q / q.sum()))
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X) -> sp.csr_matrix:  # noqa: N803
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {X.shape[1]}")
        return sp.csr_matrix(X).multiply(self.ratio_).tocsr()
