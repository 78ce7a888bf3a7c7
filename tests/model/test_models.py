"""The candidate pipelines, their term weights and the vocabulary a fitted model knows."""

import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from shared.model import models
from shared.model.embedding import SentenceEmbedding
from shared.model.features import SentimentLexicon, char_tfidf
from shared.model.models import Vocabulary
from shared.model.text import TextCleaner


def _pipeline(features=None, classifier=None) -> Pipeline:
    return Pipeline([
        ("clean", TextCleaner()),
        ("features", features or TfidfVectorizer(ngram_range=(1, 2))),
        ("clf", classifier or LogisticRegression()),
    ])


def test_term_weights_point_the_right_way(toy_corpus):
    texts, labels = toy_corpus
    lr = LogisticRegression(C=10.0, max_iter=3000)
    for model in (models.text_pipeline(lr), models.text_pipeline(lr, nb_scaling=True)):
        model.fit(texts, labels)
        terms = models.term_weights(model, n=3)
        top_positive = set(terms.loc[terms["label"] == "positive", "term"])
        top_negative = set(terms.loc[terms["label"] == "negative", "term"])
        assert top_positive & {"great", "wonderful", "superb", "lovely"}
        assert top_negative & {"terrible", "awful", "boring", "broke", "cold"}
        assert (terms["weight"] > 0).all()


def test_forest_has_no_term_direction(toy_corpus):
    texts, labels = toy_corpus
    forest = [c for c in models.candidates(0) if c.name == "random forest"][0].pipeline
    assert models.term_weights(forest.fit(texts * 2, labels * 2)) is None


def test_describe_params():
    params = {"clf__C": 3.0, "features__char": "drop"}
    assert models.describe_params(params) == "C=3, word n-grams"
    assert "word+char" in models.describe_params({"features__char": char_tfidf()})
    assert models.describe_params({"features__lexicon": SentimentLexicon(),
                                   "features__shape": "drop"}) == "with lexicon, without shape"
    # the search tells configurations apart by their description: each scale has its own
    scales = [models.describe_params({"features__embedding": SentenceEmbedding(weight=w)})
              for w in (0.5, 1.0)]
    assert scales == ["with embedding at weight 0.5", "with embedding at weight 1"]


def test_a_task_names_the_groups_its_grids_search():
    default = next(c for c in models.candidates(0) if c.name == "NB-SVM")
    assert [k for k in default.grids["quick"] if k.startswith("features__")] == ["features__char"]
    lr = next(c for c in models.candidates(0, ("char", "lexicon")) if c.name == "NB-SVM")
    # quick: every group crossed with the rest of the grid; full: char crossed, the lexicon
    # tried at each family's best configuration only
    assert lr.grids["quick"]["features__lexicon"][0] == "drop"
    assert isinstance(lr.grids["quick"]["features__lexicon"][1], SentimentLexicon)
    assert "features__lexicon" not in lr.grids["full"] and "features__char" in lr.grids["full"]
    assert list(lr.local_grids["full"]) == ["features__lexicon"]
    assert "lexicon" in lr.description
    # every group has its slot, off, in every TF-IDF pipeline
    assert lr.pipeline.named_steps["features"].get_params()["shape"] == "drop"
    with pytest.raises(ValueError, match="unknown feature group"):
        models.candidates(0, ("char", "emoji"))


def test_unknown_word_share(toy_model):
    shares = Vocabulary(toy_model).unknown_shares(["great film", "great zorblax", "qwe rty", ""])
    assert shares.tolist() == [0.0, 0.5, 1.0, 1.0]


@pytest.mark.parametrize("kind", ["feature union", "calibrated wrapper", "calibrated step"])
def test_unknown_word_share_finds_the_vocabulary_of_every_model_family(kind, toy_corpus):
    texts, labels = toy_corpus
    if kind == "feature union":
        model = _pipeline(FeatureUnion([
            ("word", TfidfVectorizer()),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3))),
        ]))
    elif kind == "calibrated wrapper":
        model = CalibratedClassifierCV(_pipeline(), cv=2)
    else:
        model = _pipeline(classifier=CalibratedClassifierCV(LinearSVC(), cv=2))
    model.fit(texts, labels)
    assert Vocabulary(model).unknown_shares(["great film", "qwe rty"]).tolist() == [0.0, 1.0]


def test_a_model_without_words_has_no_vocabulary(toy_corpus):
    texts, labels = toy_corpus
    chars = Pipeline([("f", TfidfVectorizer(analyzer="char")), ("clf", LogisticRegression())])
    assert Vocabulary.of(chars.fit(texts, labels)) is None


def _unknown_shares_by_hand(model, texts):
    """The definition, word by word: unigrams as the word vectorizer analyzes the cleaned text."""
    vectorizer = models.word_vectorizer(model)
    analyze = vectorizer.build_analyzer()
    known = set(vectorizer.vocabulary_)
    shares = []
    for text in TextCleaner().transform(texts):
        words = [term for term in analyze(text) if " " not in term]
        shares.append(sum(w not in known for w in words) / len(words) if words else 1.0)
    return shares


@pytest.mark.parametrize("vectorizer", [
    TfidfVectorizer(ngram_range=(1, 2)),
    TfidfVectorizer(ngram_range=(1, 3), stop_words="english", strip_accents="unicode"),
    TfidfVectorizer(ngram_range=(2, 2)),
])
def test_unknown_word_share_is_exactly_the_definition(vectorizer, toy_corpus):
    texts, labels = toy_corpus
    model = _pipeline(vectorizer).fit(texts, labels)
    probe = texts + ["great zorblax film film", "", "!!!", "the and of", "Café GREAT great qwe",
                     "a b c", "wonderful " * 50 + "unheard"]
    assert Vocabulary(model).unknown_shares(probe).tolist() == _unknown_shares_by_hand(model, probe)
