"""Model pipelines: every candidate is one scikit-learn Pipeline from raw text to label.

Keeping the cleaner and the vectorizer inside the pipeline means the deployed
file alone turns a raw text into a prediction, exactly as in training.
"""

from __future__ import annotations

from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shared.text import TextCleaner


def majority_baseline() -> Pipeline:
    """Always predicts the most frequent training label: the score any model must beat."""
    return Pipeline([("clean", TextCleaner()), ("clf", DummyClassifier(strategy="most_frequent"))])


def tfidf_logistic_regression(seed: int, C: float = 10.0) -> Pipeline:  # noqa: N803
    """TF-IDF on word unigrams and bigrams, then an L2-regularised logistic regression.

    ``sublinear_tf`` damps words repeated within one text; ``class_weight`` keeps
    the minority class from being ignored on unbalanced data such as spam.
    """
    return Pipeline(
        [
            ("clean", TextCleaner()),
            (
                "tfidf",
                TfidfVectorizer(
                    lowercase=True, ngram_range=(1, 2), min_df=1, sublinear_tf=True,
                    strip_accents="unicode",
                ),
            ),
            (
                "clf",
                LogisticRegression(
                    C=C, class_weight="balanced", max_iter=2000, random_state=seed
                ),
            ),
        ]
    )
