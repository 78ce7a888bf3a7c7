"""Model pipelines: every candidate is one scikit-learn Pipeline from raw text to label.

Keeping the cleaner and the vectorizers inside the pipeline means the deployed
file alone turns a raw text into a prediction, exactly as in training, and
that vectorizer settings are tuned together with the model.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from shared.model.embedding import WEIGHTS, SentenceEmbedding, searched_groups
from shared.model.features import (
    OPTIONAL_GROUPS,
    LogCountRatio,
    binned_lexicon,
    text_features,
    word_tfidf,
)
from shared.model.known_words import KnownWords
from shared.model.text import TextCleaner, TextNormalizer

BUDGETS = ("quick", "full")
#: the optional feature groups every grid searches unless told otherwise (a task's own list
#: is its spec's ``feature_groups``)
DEFAULT_GROUPS = ("char",)
#: the groups the full budget crosses with every vectorizer setting. The others (a few dense
#: columns each: shape, lexicon) add about the same to every setting, so on the full budget
#: they are tried at each family's best configuration only (``Candidate.local_grids``,
#: ``shared.model.grid_extension``) instead of doubling a grid of 24 to 32 configurations a family
FULL_GRID_GROUPS = ("char",)
#: groups tried at the best configuration only, on both budgets (they cost more than the rest),
#: of logistic regression and the linear SVM: complement NB refuses negative values, and NB
#: scaling weighs a column by its presence in each class, which a dense column always has
LOCAL_ONLY_GROUPS = ("embedding",)


def majority_baseline() -> Pipeline:
    """Always predicts the most frequent training label: the score any model must beat."""
    return Pipeline([("clean", TextCleaner()), ("clf", DummyClassifier(strategy="most_frequent"))])


def text_pipeline(classifier: Any, nb_scaling: bool = False, char: bool = False,
                  normaliser: TextNormalizer | None = None) -> Pipeline:
    """Cleaner, the text path (``normaliser``: names, placeholders, ...; none when None), word
    TF-IDF (+ the optional groups switched on: ``char``), optional NB scaling, then
    ``classifier``."""
    return Pipeline(
        [
            ("clean", TextCleaner()),
            ("normalise", normaliser if normaliser is not None else "passthrough"),
            ("features", text_features(char)),
            ("nb", LogCountRatio() if nb_scaling else "passthrough"),
            ("clf", classifier),
        ]
    )


@dataclass(frozen=True)
class Candidate:
    """A model family to search: its pipeline, its grids per budget, its simplicity rank.

    ``expensive`` marks a family whose fits cost minutes on a large training set:
    the full budget searches its grid by successive halving (``shared.model.search``).
    """

    name: str
    description: str
    complexity: int
    pipeline: Pipeline
    grids: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    expensive: bool = False
    #: per budget, parameters tried after the grid at the family's best configuration only,
    #: each other value one at a time (``shared.model.grid_extension.try_at_best``)
    local_grids: dict[str, dict[str, list[Any]]] = field(default_factory=dict)


def text_normaliser(spec: Any) -> TextNormalizer | None:
    """The text path stage 1's spec asks for (``text_normalisation``, ``name_blinding``), as
    the pipeline step every candidate starts with after the cleaner; None when all is off."""
    if not spec.text_normalisation and spec.name_blinding == "off":
        return None
    from shared.core.normalise import placeholder_mode

    on = bool(spec.text_normalisation)
    return TextNormalizer(confusables=on, placeholders=placeholder_mode(spec), leet=on,
                          names=spec.name_blinding)


def for_spec(spec: Any, train_rows: int) -> list[Candidate]:
    """Stage 4's candidates for stage 1's spec: its seed, feature groups (those searched on
    ``train_rows`` training texts: ``embedding.searched_groups``) and text path."""
    return candidates(spec.seed, searched_groups(spec.feature_groups, train_rows),
                      text_normaliser(spec))


def candidates(seed: int, groups: Sequence[str] = DEFAULT_GROUPS,
               normaliser: TextNormalizer | None = None) -> list[Candidate]:
    """The candidates of stage 4, simplest first, each with a grid per budget.

    The ``quick`` grids (small data sets) search each model's main setting and
    each optional feature group of ``groups`` off and on (:func:`feature_group_grid`:
    word versus word + character n-grams, and so on); the forest searches its leaf size, with
    100 trees and log2 features per split (sqrt scored as log2 did on the built-in reviews,
    0.633 against 0.634, in 2.5 times the time). Every pipeline
    starts with the cleaner and ``normaliser`` (:func:`text_normaliser`). The
    ``full`` grids (real data sets) also search the word n-gram range and the
    minimum document frequency of the vectorizer, and the forest's size too; its
    leaves hold at least two texts there (a leaf of one text grows deep trees that
    take eight times as long), and its grid is searched by successive halving. On the
    full budget the groups outside ``FULL_GRID_GROUPS`` are switched at each linear
    family's best configuration only (``local_grids``). The groups a task searches are
    its spec's ``feature_groups``; the others stay off.
    """
    unknown = sorted(set(groups) - set(OPTIONAL_GROUPS))
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}: choose among "
                         f"{', '.join(OPTIONAL_GROUPS)}")
    lr = LogisticRegression(class_weight="balanced", max_iter=3000, random_state=seed)
    svm = CalibratedClassifierCV(
        LinearSVC(class_weight="balanced", random_state=seed), method="sigmoid", cv=3
    )
    forest = RandomForestClassifier(class_weight="balanced", n_jobs=1, random_state=seed)
    forest_features = Pipeline(
        [("clean", TextCleaner()), ("normalise", normaliser if normaliser is not None
                                     else "passthrough"),
         ("features", word_tfidf(min_df=2)), ("clf", forest)]
    )
    crossed = [g for g in groups if g not in LOCAL_ONLY_GROUPS]

    def grids(nb_scaled: bool = False) -> tuple[dict, dict, dict]:
        """The quick grid's groups, the full grid's and the full budget's local grids."""
        quick = feature_group_grid(crossed, nb_scaled)
        words = {**feature_group_grid([g for g in crossed if g in FULL_GRID_GROUPS], nb_scaled),
                 "features__word__ngram_range": [(1, 1), (1, 2)],
                 "features__word__min_df": [1, 2]}
        local = {"full": feature_group_grid([g for g in crossed if g not in FULL_GRID_GROUPS],
                                            nb_scaled)}
        return quick, words, local

    quick, words, local = grids()
    nb_quick, nb_words, nb_local = grids(nb_scaled=True)
    # the families that weigh dense columns also try LOCAL_ONLY_GROUPS, on both budgets
    only_local = feature_group_grid([g for g in groups if g in LOCAL_ONLY_GROUPS])
    dense_local = {"full": {**local["full"], **only_local}, "quick": only_local}
    shown, dense_shown = _features_description(crossed), _features_description(groups)
    return [
        Candidate(
            "complement naive Bayes", f"{shown}, complement naive Bayes", 1,
            text_pipeline(ComplementNB(), normaliser=normaliser),
            {"quick": {"clf__alpha": [0.3, 1.0], **quick},
             "full": {"clf__alpha": [0.1, 0.3, 1.0], **words}}, local_grids=local,
        ),
        Candidate(
            "logistic regression", f"{dense_shown}, logistic regression", 2,
            text_pipeline(lr, normaliser=normaliser),
            {"quick": {"clf__C": [3.0, 10.0], **quick},
             "full": {"clf__C": [1.0, 3.0, 10.0, 30.0], **words}}, local_grids=dense_local,
        ),
        Candidate(
            "linear SVM", f"{dense_shown}, linear SVM with sigmoid-calibrated scores", 3,
            text_pipeline(svm, normaliser=normaliser),
            {"quick": {"clf__estimator__C": [0.1, 0.5], **quick},
             "full": {"clf__estimator__C": [0.05, 0.2, 0.5], **words}}, local_grids=dense_local,
        ),
        Candidate(
            "NB-SVM", f"{shown} scaled by NB log-count ratios, logistic regression", 4,
            text_pipeline(lr, nb_scaling=True, normaliser=normaliser),
            {"quick": {"clf__C": [1.0, 3.0], **nb_quick},
             "full": {"clf__C": [1.0, 3.0, 10.0], **nb_words}}, local_grids=nb_local,
        ),
        Candidate(
            "random forest", "word TF-IDF (min_df 2), random forest", 5,
            forest_features,
            # small data sets only: on rt-polarity and sms-spam its best cross-validated score
            # was 0.742 against 0.794 and 0.75 against 0.89 for the linear families, for a
            # fifth of the search's time (halving included)
            {"quick": {"clf__n_estimators": [100], "clf__max_features": ["log2"],
                       "clf__min_samples_leaf": [1, 2]}},
            expensive=True,
        ),
    ]


def _features_description(groups: Sequence[str]) -> str:
    """The linear families' features in words: "word (+char) TF-IDF (+lexicon features)"."""
    shown = "word (+char) TF-IDF" if "char" in groups else "word TF-IDF"
    others = [name for name in groups if name != "char"]
    return f"{shown} (+{', '.join(others)} features)" if others else shown


def feature_group_grid(groups: Sequence[str] | None = None,
                       nb_scaled: bool = False) -> dict[str, list[Any]]:
    """Each optional feature group of ``groups`` (default: every one of
    ``shared.model.features.OPTIONAL_GROUPS``) off and on, as grid entries:
    ``{"features__char": ["drop", char_tfidf()], ...}``. ``nb_scaled``: for a pipeline
    with NB scaling, whose lexicon also holds the polarity's bin (``binned_lexicon``)."""
    names = list(OPTIONAL_GROUPS) if groups is None else list(groups)
    makers = {**OPTIONAL_GROUPS, **({"lexicon": binned_lexicon} if nb_scaled else {})}
    return {f"features__{name}": ["drop", *_group(name, makers[name])] for name in names}


@functools.cache
def _group(name: str, make: Any) -> tuple[Any, ...]:
    """One unfitted instance per group for the whole process (the sentence vectors: one per
    scale of ``embedding.WEIGHTS``): a grid point holds the estimator itself, and
    configurations drawn twice (the same seed) must compare equal."""
    return tuple(make(weight=w) for w in WEIGHTS) if name == "embedding" else (make(),)


def _word_step(pipeline: Pipeline) -> tuple[int, TfidfVectorizer | KnownWords]:
    """Position and object of the word-level TF-IDF step (alone or inside a union), or of
    the known words a hashing model carries (``shared.model.known_words``)."""
    for index, (_, step) in enumerate(pipeline.steps):
        if isinstance(step, KnownWords):
            return index, step
        if isinstance(step, TfidfVectorizer) and step.analyzer == "word":
            return index, step
        if isinstance(step, FeatureUnion):
            word = dict(step.transformer_list).get("word")
            if isinstance(word, TfidfVectorizer):
                return index, word
    raise ValueError(f"the pipeline {[name for name, _ in pipeline.steps]} has no word TF-IDF step")


def word_vectorizer(pipeline: Pipeline) -> TfidfVectorizer:
    """The word-level vectorizer of a fitted pipeline (its vocabulary is the model's)."""
    return _word_step(pipeline)[1]


class Vocabulary:
    """The words a fitted model knows, and the share of a text's words it has never seen.

    The vocabulary is the union over the model's fitted pipelines (a calibrated
    wrapper holds one per fold). Texts go through the steps before the word
    vectorizer (the cleaner) first, so the words counted are those the model
    really receives. A model can only weigh words from its training vocabulary;
    when most words of incoming texts are new to it, the texts come from
    somewhere else. This is the one place that share is computed.
    """

    def __init__(self, model: Any) -> None:
        pipelines = fitted_pipelines(model)
        index, vectorizer = _word_step(pipelines[0])
        # the steps before the vectorizer, called directly: a Pipeline slice would pay
        # scikit-learn's per-call routing (tens of microseconds) on every request
        self._before = [step for _, step in pipelines[0].steps[:index]
                        if step is not None and step != "passthrough"]
        if getattr(vectorizer, "analyzer", None) == "word" and vectorizer.ngram_range[0] == 1:
            # unigrams are all the share counts: an analyzer that builds no longer
            # n-grams yields the same words (stop words removed alike) in less time
            vectorizer = clone(vectorizer).set_params(ngram_range=(1, 1))
        self._analyze = vectorizer.build_analyzer()
        self.words: set[str] = set().union(*(word_vectorizer(p).vocabulary_ for p in pipelines))

    @classmethod
    def of(cls, model: Any) -> Vocabulary | None:
        """The model's vocabulary, or None for a model without a word vectorizer."""
        try:
            return cls(model)
        except ValueError:
            return None

    def prepare(self, texts: Sequence[str]) -> Sequence[str]:
        """The texts as the word vectorizer receives them (after the cleaner)."""
        prepared: Any = list(texts)
        for step in self._before:
            prepared = step.transform(prepared)
        return prepared

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """Each text's words (unigrams), as the model's word vectorizer sees them."""
        analyze = self._analyze
        return [[term for term in analyze(str(t)) if " " not in term] for t in self.prepare(texts)]

    def unknown_shares(self, texts: Sequence[str]) -> np.ndarray:
        """For each text, the share of its words the model never saw (1.0 for no words).

        One membership test per word over all texts at once, then a sum per text
        (``np.add.reduceat``), instead of a Python loop per text.
        """
        words = self.tokens(texts)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        flat = list(chain.from_iterable(words))
        known = np.fromiter(map(self.words.__contains__, flat), dtype=np.int64, count=len(flat))
        shares = np.ones(len(words), dtype=float)
        has_words = lengths > 0
        if has_words.any():
            starts = (np.cumsum(lengths) - lengths)[has_words]
            known_per_text = np.add.reduceat(known, starts)
            # integer counts divided once: the same float as counting unknown words per text
            shares[has_words] = (lengths[has_words] - known_per_text) / lengths[has_words]
        return shares


def describe_params(params: dict[str, Any]) -> str:
    """Readable search parameters: 'C=3, word+char n-grams' rather than estimator reprs."""
    parts = []
    for key, value in sorted(params.items()):
        name = key.rsplit("__", 1)[-1]
        if key == "features__char":
            parts.append("word+char n-grams" if value != "drop" else "word n-grams")
        elif key.removeprefix("features__") in OPTIONAL_GROUPS:
            scale = f" at weight {value.weight:g}" if isinstance(value, SentenceEmbedding) else ""
            parts.append(f"without {name}" if value == "drop" else f"with {name}{scale}")
        elif name == "ngram_range":
            parts.append(f"words {value[0]}-{value[1]}")
        elif isinstance(value, float):
            parts.append(f"{name}={value:g}")
        else:
            parts.append(f"{name}={value}")
    return ", ".join(parts)


def fitted_pipelines(model: Any) -> list[Pipeline]:
    """The fitted pipelines inside ``model``: itself, or each fold of a calibrated wrapper."""
    if isinstance(model, CalibratedClassifierCV):
        return [calibrated.estimator for calibrated in model.calibrated_classifiers_]
    return [model]


def linear_weights(classifier: Any) -> Any:
    """Per-feature weights toward the second class, for the linear families we train
    (the mean over the folds of a calibrated wrapper); None for a random forest."""
    if isinstance(classifier, CalibratedClassifierCV):
        folds = [linear_weights(c.estimator) for c in classifier.calibrated_classifiers_]
        return None if any(w is None for w in folds) else np.mean(folds, axis=0)
    if isinstance(classifier, FrozenEstimator):  # calibrated out of core, not refitted
        return linear_weights(classifier.estimator)
    if isinstance(classifier, ComplementNB):
        return classifier.feature_log_prob_[1] - classifier.feature_log_prob_[0]
    if hasattr(classifier, "coef_"):
        return classifier.coef_.ravel()
    return None


def linear_intercept(classifier: Any) -> float:
    """The constant of :func:`linear_weights`' linear score (0 for complement NB, which
    scores by the weights alone)."""
    if isinstance(classifier, CalibratedClassifierCV):
        return float(np.mean([linear_intercept(c.estimator)
                              for c in classifier.calibrated_classifiers_]))
    if isinstance(classifier, FrozenEstimator):
        return linear_intercept(classifier.estimator)
    if hasattr(classifier, "intercept_") and not isinstance(classifier, ComplementNB):
        return float(np.ravel(classifier.intercept_)[0])
    return 0.0


def term_weights(model: Any, n: int = 12) -> Any:
    """The word n-grams that push predictions most toward each class, or None.

    Linear models and naive Bayes have one weight per feature (times the NB
    ratio where the pipeline scales by it); a random forest has no direction
    per feature, so it gets None.
    """
    totals = None
    for pipeline in fitted_pipelines(model):
        weights = linear_weights(pipeline.named_steps["clf"])
        if weights is None:
            return None
        nb = pipeline.named_steps.get("nb")
        if isinstance(nb, LogCountRatio):
            weights = weights * nb.ratio_
        names = pipeline.named_steps["features"].get_feature_names_out()
        series = pd.Series(weights, index=names)
        series = series[series.index.str.startswith("word__")]
        series.index = series.index.str.removeprefix("word__")
        totals = series if totals is None else totals.add(series, fill_value=0.0)
    totals = totals / len(fitted_pipelines(model))
    return strongest_terms(totals, list(fitted_pipelines(model)[0].classes_), n)


def strongest_terms(weights: pd.Series, classes: list[str], n: int = 12) -> pd.DataFrame:
    """The ``n`` terms of largest weight toward the second class and of the first, by class."""
    top = weights.sort_values(kind="mergesort")
    frame = pd.concat([
        pd.DataFrame({"term": top.index[-n:][::-1], "weight": top.values[-n:][::-1],
                      "label": classes[1]}),
        pd.DataFrame({"term": top.index[:n], "weight": -top.values[:n], "label": classes[0]}),
    ], ignore_index=True)
    frame["weight"] = np.round(frame["weight"], 6)
    return frame
