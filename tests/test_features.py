import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from shared import modelfile, models
from shared.features import CompactTfidfVectorizer, LogCountRatio


def test_log_count_ratio_by_hand():
    x = sp.csr_matrix(np.array([[1, 0, 2], [1, 0, 0], [0, 3, 1], [0, 1, 0]]))
    y = ["pos", "pos", "neg", "neg"]
    scaler = LogCountRatio(alpha=1.0).fit(x, y)
    # classes sorted: neg, pos; p counts documents of 'pos', q of 'neg', each + alpha
    p, q = np.array([3, 1, 2]), np.array([1, 3, 2])
    assert scaler.ratio_ == pytest.approx(np.log((p / p.sum()) / (q / q.sum())))
    out = scaler.transform(x)
    assert out.shape == x.shape and sp.issparse(out)
    assert out.toarray() == pytest.approx(x.toarray() * scaler.ratio_)


def test_log_count_ratio_refuses_wrong_width_and_one_class():
    x = sp.csr_matrix(np.eye(3))
    scaler = LogCountRatio().fit(x, ["a", "b", "a"])
    with pytest.raises(ValueError, match="expected 3 features"):
        scaler.transform(sp.csr_matrix(np.eye(4)))
    with pytest.raises(ValueError, match="two classes"):
        LogCountRatio().fit(x, ["a", "a", "a"])


def test_nb_scaled_model_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    good, bad = ["great", "superb", "lovely"], ["awful", "broken", "dull"]
    filler = ["the", "it", "was", "a", "day", "film", "meal"]
    texts, labels = [], []
    for i in range(80):
        words = list(rng.choice(filler, 4)) + list(rng.choice(good if i % 2 else bad, 2))
        texts.append(" ".join(rng.permutation(words)))
        labels.append("positive" if i % 2 else "negative")
    model = make_pipeline(CountVectorizer(), LogCountRatio(), LogisticRegression())
    model.fit(texts[:60], labels[:60])
    assert (model.predict(texts[60:]) == np.array(labels[60:])).all()


def test_nbsvm_pipeline_round_trips_through_skops(tmp_path, toy_corpus):
    texts, labels = toy_corpus
    model = models.text_pipeline(LogisticRegression(C=3.0), nb_scaling=True, char=True)
    model.fit(texts, labels)
    modelfile.save_model(model, tmp_path / "m.skops")
    loaded = modelfile.load_model(tmp_path / "m.skops")
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))


def test_compact_vocabulary_round_trips_and_leaves_the_model_alone(tmp_path, toy_corpus):
    texts, _ = toy_corpus
    vectorizer = CompactTfidfVectorizer(ngram_range=(1, 2)).fit(texts)
    before = dict(vectorizer.vocabulary_)
    modelfile.save_model(vectorizer, tmp_path / "v.skops")
    assert vectorizer.vocabulary_ == before  # saving did not take it away
    loaded = modelfile.load_model(tmp_path / "v.skops")
    assert loaded.vocabulary_ == before
    assert (loaded.transform(texts) != vectorizer.transform(texts)).nnz == 0
