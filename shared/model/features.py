"""Text features: word and character n-gram TF-IDF, a text's shape, a sentiment lexicon,
a pretrained encoder's sentence vectors (``shared.model.embedding``), and NB log-count-ratio
scaling.

Every TF-IDF pipeline's ``features`` step is a ``FeatureUnion``: the word n-grams,
always, then each optional group of :data:`OPTIONAL_GROUPS`, which stage 4's
grids switch off and on (``docs/adding_a_feature.md`` adds one). The groups that
read a text's surface (:class:`TextShape`, :class:`SentimentLexicon`) read each
text's ``raw`` attribute where it has one: the cleaned text before a normalising
step replaced names, links and numbers by placeholders.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from shared.core.text_rules import MAX_TEXT_CHARS
from shared.model.embedding import SentenceEmbedding
from shared.model.text import text_step_tags

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
        state.pop("_ngrams_by_word", None)  # a cache of this process (_count_vocab)
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

    def _count_vocab(self, raw_documents, fixed_vocab):  # noqa: ANN001, ANN202
        """scikit-learn's count matrix (and vocabulary), the same to the last entry; for
        character n-grams inside word boundaries ("char_wb"), counted word by word.

        Each word's n-grams depend on the word alone, so a text's counts are the sum of its
        words' counts (summed by scipy), and a word seen before is looked up, not cut into
        n-grams again: profiled, scikit-learn's loop over every n-gram of every text was
        most of the time a batch of texts took to score. Transforms keep each word's
        n-grams while the vocabulary stays the same (up to ``WORD_CACHE`` words).
        """
        if self.analyzer != "char_wb":
            return super()._count_vocab(raw_documents, fixed_vocab)
        if fixed_vocab:
            vocabulary = self.vocabulary_
            cache = getattr(self, "_ngrams_by_word", None)
            if cache is None or cache[0] is not vocabulary or len(cache[1]) > WORD_CACHE:
                cache = self._ngrams_by_word = (vocabulary, {})
            words = cache[1]
        else:  # a new vocabulary, each n-gram numbered when first seen, as scikit-learn does
            vocabulary = defaultdict()
            vocabulary.default_factory = vocabulary.__len__
            words = {}
        preprocess, decode = self.build_preprocessor(), self.decode
        min_n, max_n = self.ngram_range
        indices: list[int] = []
        indptr = [0]
        for doc in raw_documents:
            for word in preprocess(decode(doc)).split():
                found = words.get(word)
                if found is None:
                    found = words[word] = _word_ngram_indices(word, min_n, max_n, vocabulary,
                                                              fixed_vocab)
                indices.extend(found)
            indptr.append(len(indices))
        if not fixed_vocab:
            vocabulary = dict(vocabulary)
            if not vocabulary:
                raise ValueError("empty vocabulary; perhaps the documents only contain stop words")
        index_type = np.int64 if len(indices) > np.iinfo(np.int32).max else np.int32
        counts = sp.csr_matrix((np.ones(len(indices), dtype=np.intc),
                                np.asarray(indices, dtype=index_type),
                                np.asarray(indptr, dtype=index_type)),
                               shape=(len(indptr) - 1, len(vocabulary)), dtype=self.dtype)
        counts.sum_duplicates()  # each n-gram once per text, with how often the text has it
        return vocabulary, counts


#: the words whose character n-gram indices a fitted vectorizer keeps between transforms (a
#: few hundred bytes each: at most some 15 MB a vectorizer)
WORD_CACHE = 50_000


def _word_ngram_indices(word: str, min_n: int, max_n: int, vocabulary: dict[str, int],
                        fixed_vocab: bool) -> list[int]:
    """The vocabulary index of each character n-gram of ``word`` padded with a space on each
    side, once per occurrence, as scikit-learn's "char_wb" analyzer cuts them (a word shorter
    than n is one n-gram, once). With ``fixed_vocab`` an n-gram outside the vocabulary is
    dropped; else ``vocabulary`` numbers it."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(min_n, max_n + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams.extend([padded[i:i + n] for i in range(len(padded) - n + 1)])
    if fixed_vocab:
        return [vocabulary[g] for g in grams if g in vocabulary]
    return [vocabulary[g] for g in grams]


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


def raw_texts(X: Iterable[Any]) -> list[str]:  # noqa: N803
    """Each text as it was before normalisation: its ``raw`` attribute where it has one
    (a normalising step's output), else the text itself."""
    return [str(getattr(text, "raw", text)) for text in X]


# a link in a text: a URL with a scheme or "www.", an e-mail address, or a bare domain
# ("win.example.com", "bit.ly/x"); the endings are a short list, without the two-letter
# words ("in", "me", "us") that a missing space after a full stop would turn into domains
_LINK = re.compile(
    r"(?:https?://|www\.)\S"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|io|uk|ly|tv|gov|edu)"
    r"\b(?![.-]?\w)",
    re.IGNORECASE,
)
# the placeholders a normalising step puts where it removed a link or an address
_LINK_PLACEHOLDER = re.compile(r"\bxx(?:url|link|email|mail|domain)\b")


class TextShape(TransformerMixin, BaseEstimator):
    """How a text looks, not which words it has: its length (log scale, 1.0 at
    MAX_TEXT_CHARS), its share of upper-case letters, its share of digits, and whether it
    holds a link (a URL, a bare domain or an e-mail address: 1.0, else 0.0).

    The shares are read on the raw text (:func:`raw_texts`): a normaliser that lower-cases
    or replaces numbers by placeholders would otherwise hide what spam looks like. A link
    counts in the raw text, or as a link placeholder (``xxurl``) in the text itself.
    """

    def fit(self, X, y=None) -> TextShape:  # noqa: N803
        """Nothing to learn."""
        return self

    def transform(self, X) -> sp.csr_matrix:  # noqa: N803
        """One row of four values in [0, 1] per text."""
        texts = list(X)
        rows = [[np.log1p(len(raw)) / np.log1p(MAX_TEXT_CHARS),
                 sum(c.isupper() for c in raw) / max(1, sum(c.isalpha() for c in raw)),
                 sum(c.isdigit() for c in raw) / max(1, len(raw)),
                 float(_LINK.search(raw) is not None
                       or _LINK_PLACEHOLDER.search(str(text)) is not None)]
                for text, raw in zip(texts, raw_texts(texts), strict=True)]
        return sp.csr_matrix(np.array(rows, dtype=float).reshape(len(rows), 4))

    def __sklearn_tags__(self):  # noqa: D105
        # nothing to fit: a pipeline holding the group is fitted once its other steps are
        return text_step_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The columns' names (the union prefixes them: ``shape__upper_share``)."""
        return np.array(["length", "upper_share", "digit_share", "link"], dtype=object)


@functools.cache
def _vader() -> Any:
    """VADER's analyzer, built once per process: it reads its lexicon file (7,500 entries)
    when built. Imported here so that only a process that scores the group pays for it."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


#: texts up to this long are remembered by :func:`_cached_scores` (short texts are what the
#: search scores again and again; at most CACHED_TEXTS of them keep the cache to tens of MB)
CACHED_CHARS = 1_000
CACHED_TEXTS = 1 << 15


def vader_scores(text: str) -> tuple[float, float, float, float]:
    """VADER's neg, neu and pos shares and its compound score moved to [0, 1], of one text.

    The analyzer is pure Python (about 0.15 ms a sentence), and the search scores each
    training text once in every fold: a text scored before in this process is not scored
    again (:func:`_cached_scores`).
    """
    return _cached_scores(text) if len(text) <= CACHED_CHARS else _scores(text)


@functools.lru_cache(maxsize=CACHED_TEXTS)
def _cached_scores(text: str) -> tuple[float, float, float, float]:
    return _scores(text)


def _scores(text: str) -> tuple[float, float, float, float]:
    scores = _vader().polarity_scores(text)
    return scores["neg"], scores["neu"], scores["pos"], (scores["compound"] + 1.0) / 2.0


#: where VADER's compound polarity (-1 to 1) is cut into bins, one indicator column each
#: (:func:`binned_lexicon`); +-0.05 are VADER's own bounds of a neutral text
COMPOUND_EDGES = (-0.8, -0.6, -0.4, -0.2, -0.05, 0.05, 0.2, 0.4, 0.6, 0.8)


class SentimentLexicon(TransformerMixin, BaseEstimator):
    """Negation-aware lexicon scores of a text's raw words (VADER, Hutto & Gilbert 2014):
    the shares of negative, neutral and positive sentiment and the overall polarity, each
    in [0, 1] (complement naive Bayes refuses negative values), and with ``compound_edges``
    the polarity's bin.

    A bag of words sees "not good" as "not" and "good"; VADER's rules turn the polarity
    of a word after a negation, and weigh intensifiers ("very"), capitals and "!" too. It
    reads the text after the text path, names blinded: VADER's lexicon holds words that are
    also names ("Hardy", "Joy"), and on the raw text "Tom Hardy is wasted in this boring
    mess" scored P(positive) 0.52 against 0.43 with "Idris Elba". Its analyzer is held per
    process, never by the transformer: a fitted group's state is its parameters, and a model
    file holds no lexicon.

    With ``compound_edges`` (the NB-SVM's lexicon, :func:`binned_lexicon`) the polarity also
    comes as one indicator column per bin between the edges (a value on an edge goes to the
    bin above it). NB scaling (:class:`LogCountRatio`) weighs a column by how much more often
    it is present in one class: the four scores are present in most texts of both classes,
    so it shrank them to a tenth, whereas a bin is present like a word and gets a weight like
    one. With the bins, an NB-SVM (C=10, word and character n-grams) scored 0.811 on MR 5-fold
    against 0.802 with the four scores alone. The other families weigh the four scores as
    they are: logistic regression and the linear SVM scored the same either way on MR
    (within 0.002), and on the 768 built-in training reviews complement naive Bayes and the
    linear SVM tied over 20 folds (0.740 each), so the bins would only have turned the
    default's choice on noise.

    The values are multiplied by ``weight``: a TF-IDF row is normalised to length one over
    its n-grams, so each of its values is about 0.1-0.3, and dense columns near 1 beside them
    made a logistic regression on rt-polarity take 61 L-BFGS iterations instead of 19 (1.17 s
    a fit instead of 0.36 s) for no better accuracy (5-fold accuracy on its training split:
    0.786 at 1, 0.788 at 0.3).
    """

    #: a model file written before the bins holds no ``compound_edges``: it reads this empty
    #: tuple, so it keeps its four columns and scores as it did
    compound_edges: tuple[float, ...] = ()

    def __init__(self, weight: float = 0.3, compound_edges: tuple[float, ...] = ()) -> None:
        self.weight = weight
        self.compound_edges = compound_edges

    def fit(self, X, y=None) -> SentimentLexicon:  # noqa: N803
        """Nothing to learn: the lexicon is VADER's own. Checks the edges once, here rather
        than on every (served) transform."""
        if np.any(np.diff(np.asarray(self.compound_edges, dtype=float)) <= 0):
            raise ValueError(f"compound_edges={self.compound_edges!r}: give increasing values "
                             "between -1 and 1")
        return self

    def transform(self, X) -> sp.csr_matrix:  # noqa: N803
        """One row per text: four values in [0, ``weight``], then ``weight`` in the column of
        the polarity's bin and 0 in the other bins."""
        rows = np.array([vader_scores(str(text)) for text in X], dtype=float).reshape(-1, 4)
        scores = sp.csr_matrix(self.weight * rows)
        if not self.compound_edges:
            return scores
        edges = np.asarray(self.compound_edges, dtype=float)
        # VADER gives the compound to 4 decimals: rounding undoes the move to [0, 1], so that
        # a value on an edge (0.2) goes to the bin above it, as the names say
        polarity = np.round(2.0 * rows[:, 3] - 1.0, 4)
        bins = np.searchsorted(edges, polarity, side="right")
        shape = (len(rows), len(self.compound_edges) + 1)
        indicators = sp.csr_matrix((np.full(len(rows), self.weight), (np.arange(len(rows)), bins)),
                                   shape=shape)
        return sp.hstack([scores, indicators], format="csr")

    def __sklearn_tags__(self):  # noqa: D105
        # nothing to fit: a pipeline holding the group is fitted once its other steps are
        return text_step_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The columns' names (the union prefixes them: ``lexicon__compound``, then one per
        bin, ``lexicon__compound[-0.05,0.05)``)."""
        edges = [f"{edge:g}" for edge in self.compound_edges]
        bins = [f"compound[{low},{high}" for low, high in
                zip(["-1", *edges], [f"{edge})" for edge in edges] + ["1]"], strict=True)]
        return np.array(["negative", "neutral", "positive", "compound",
                         *(bins if edges else [])], dtype=object)


def binned_lexicon() -> SentimentLexicon:
    """The lexicon group of a pipeline with NB scaling: the four scores and the compound
    polarity's bin (:data:`COMPOUND_EDGES`)."""
    return SentimentLexicon(compound_edges=COMPOUND_EDGES)


#: the feature groups stage 4 switches off and on next to the word n-grams: each one's name
#: in the FeatureUnion (the grids' ``features__<name>``) and the function that makes it. A
#: group added here is in every TF-IDF pipeline, off ("drop"); a task searches those its
#: spec names (``ProblemSpec.feature_groups``, whose valid names are
#: ``shared.core.problem.FEATURE_GROUPS``: add it there too) in the grids of the linear families
#: (``shared.model.models.candidates``); its type must also be listed in
#: ``shared.core.modelfile.TRUSTED_TYPES``.
OPTIONAL_GROUPS: dict[str, Callable[[], Any]] = {
    "char": char_tfidf, "shape": TextShape, "lexicon": SentimentLexicon,
    "embedding": SentenceEmbedding,
}


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
