from shared import models


def test_term_weights_point_the_right_way(toy_corpus):
    texts, labels = toy_corpus
    for model in (models.tfidf_logistic_regression(seed=0), models.nbsvm(seed=0, char=False)):
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
    assert "word+char" in models.describe_params({"features__char": models.WITH_CHARS[0]})
