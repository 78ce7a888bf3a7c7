"""Writes ``main_d7910e1.skops`` and ``main_d7910e1.json``: a model file as main wrote them
before the wings (issue 21), for tests/test_old_model_files.py.

Made once, at commit d7910e1 of main (every module flat in ``shared/``), with::

    PYTHONHASHSEED=0 PYTHONPATH=. .venv/bin/python tests/model_files/make_main_model.py

The pipeline holds every project type a model file may record (``TRUSTED_TYPES``): the
cleaner, the text path, the known words, word and character TF-IDF, the text's shape, the
sentiment lexicon and the NB scaling, then a logistic regression calibrated with a frozen
classifier (as stage 5 out of core calibrates). It is fitted on the built-in sentiment
reviews. The JSON keeps the texts it was scored on, main's P(positive) for each (floats
written in full), and the file's SHA-256. Do not run it again on a later commit: the point
of the file is that it was written by that code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shared.core import modelfile, storage
from shared.core.catalog import PROJECT_DIR
from shared.model.features import LogCountRatio, SentimentLexicon, TextShape, char_tfidf, text_features
from shared.model.known_words import KnownWords, WordCounter
from shared.model.scoring import positive_scores
from shared.model.text import TextCleaner, TextNormalizer

HERE = Path(__file__).resolve().parent
NAME = "main_d7910e1"
#: texts that go through every rule of the text path: names, lookalike letters, leetspeak,
#: links and numbers, split letters, and plain reviews
TEXTS = [
    "My husband Dave hated the ending and so did I.",
    "Absolutely w0nderful, the b e s t film this year!",
    "Terrible service, call 555-0123 or see http://example.com for a refund",
    "Ｇreat value, works perfectly, love it",
    "boring, bland and far too long",
    "Olivia said the food was lovely and the staff were kind",
    "It broke after a day. Awful.",
    "not bad at all, I would gladly buy it again",
]


def build(texts: list[str], labels: list[str]) -> Pipeline:
    """The pipeline, fitted on ``texts``; the classifier calibrated with a frozen copy."""
    features = text_features(char=False)
    features.set_params(char=char_tfidf(ngram_range=(3, 4), min_df=3), shape=TextShape(),
                        lexicon=SentimentLexicon())
    counter = WordCounter(limit=2_000)
    counter.update(texts)
    pipeline = Pipeline([
        ("clean", TextCleaner()),
        ("vocabulary", KnownWords().set_words(counter.words())),
        ("normalise", TextNormalizer(names="list_and_capitalised")),
        ("features", features),
        ("nb", LogCountRatio()),
        ("clf", LogisticRegression(C=3.0, class_weight="balanced", max_iter=3000,
                                   random_state=0)),
    ]).fit(texts, labels)
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline.steps[-1][1]),
                                        method="sigmoid")
    calibrated.fit(pipeline[:-1].transform(texts), labels)
    return Pipeline([*pipeline.steps[:-1], ("clf", calibrated)])


def main() -> None:
    reviews = pd.read_csv(PROJECT_DIR / "data" / "builtin" / "sentiment" / "reviews.csv")
    model = build(list(reviews["text"]), list(reviews["label"]))
    path = modelfile.save_model(model, HERE / f"{NAME}.skops")
    scores = positive_scores(model, TEXTS, "positive")
    record = {"made_by": "tests/model_files/make_main_model.py at main d7910e1",
              "sha256": storage.sha256_file(path), "positive_label": "positive",
              "texts": TEXTS, "scores": [float(s) for s in scores]}
    (HERE / f"{NAME}.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
