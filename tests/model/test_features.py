import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from shared.core import modelfile, problem
from shared.model import features, models
from shared.model.features import (
    COMPOUND_EDGES,
    CompactTfidfVectorizer,
    LogCountRatio,
    SentimentLexicon,
    TextShape,
    binned_lexicon,
)


class Normalised(str):
    """A normalising step's output: the normalised text, its cleaned text before as ``raw``."""

    def __new__(cls, text: str, raw: str) -> "Normalised":
        made = super().__new__(cls, text)
        made.raw = raw
        return made


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


# texts where counting word by word could go wrong: repeated words and n-grams shared across
# words, words shorter than an n-gram, case folded over a whole text (a Greek final sigma),
# accents, ligatures, tabs and newlines, nothing at all
AWKWARD = ["a a a a", "aa aa aab", "", "   ", "x y", "Jessica LOVED it!!  ", "ΟΔΟΣ ΣΑΣ",
           "Ünïcödé café naïve", "ﬁne ǅ İstanbul", "ab\tcd\n\nef", "🙂 good", "not good, not bad"]


@pytest.mark.parametrize("settings", [
    {"ngram_range": (2, 5), "min_df": 2, "sublinear_tf": True},
    {"ngram_range": (1, 3)},
    {"ngram_range": (3, 3), "lowercase": False, "strip_accents": "unicode"},
    {"ngram_range": (2, 6), "min_df": 2, "max_df": 0.5},
])
def test_character_ngrams_counted_word_by_word_equal_scikit_learns(toy_corpus, settings):
    texts = [*toy_corpus[0], *AWKWARD] * 2
    ours = CompactTfidfVectorizer(analyzer="char_wb", **settings)
    theirs = TfidfVectorizer(analyzer="char_wb", **settings)
    fitted = [ours.fit_transform(texts), theirs.fit_transform(texts)]
    assert ours.vocabulary_ == theirs.vocabulary_
    probe = [*AWKWARD, Normalised("Hi xxname, loved it", "Hi Ann, loved it"), "zzzz qqq"]
    # the second transform answers from the words kept by the first
    for a, b in [fitted, *[(ours.transform(probe), theirs.transform(probe))] * 2]:
        assert type(a) is type(b) and a.dtype == b.dtype
        for part in ("indptr", "indices", "data"):
            assert np.array_equal(getattr(a, part), getattr(b, part))


def test_the_words_kept_between_transforms_stay_out_of_the_model_file(tmp_path, toy_corpus):
    vectorizer = CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))
    vectorizer.fit(toy_corpus[0]).transform(toy_corpus[0])
    assert vectorizer._ngrams_by_word[1]  # words kept in this process
    assert "_ngrams_by_word" not in vectorizer.__getstate__()
    refitted = ["an entirely new vocabulary", "a fresh one"]
    expected = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(refitted)
    vectorizer.fit(refitted)  # a new vocabulary: the words kept for the old one are not used
    assert (vectorizer.transform(toy_corpus[0]) != expected.transform(toy_corpus[0])).nnz == 0


def test_textshape_by_hand():
    values = TextShape().fit_transform(["FREE entry: call 0800", "hi"]).toarray()
    assert values[:, 1] == pytest.approx([4 / 13, 0.0])  # F, R, E, E of 13 letters
    assert values[:, 2] == pytest.approx([4 / 21, 0.0])
    assert values[0, 0] > values[1, 0] > 0 and values.max() <= 1


@pytest.mark.parametrize(("text", "link"), [
    ("claim at http://win.example/now", 1.0),
    ("go to www.prizes.co.uk today", 1.0),
    ("visit bit.ly/abc123", 1.0),
    ("txt STOP or mail help@prizes.net", 1.0),
    ("see freemsg.com", 1.0),
    ("see you at 3.5 in.Me too, e.g. later", 0.0),
    ("your link xxurl expires", 1.0),  # a normaliser's placeholder for a link
    ("the film was good", 0.0),
])
def test_textshape_sees_links(text, link):
    assert TextShape().fit_transform([text]).toarray()[0, 3] == link


def test_shape_reads_the_raw_text_and_the_lexicon_the_blinded_one():
    raw = "WIN a PRIZE: call 0800 123 or go to prize.com"
    normalised = Normalised("win a prize: call xxphone or go to xxurl", raw)
    shape = TextShape().fit_transform([normalised]).toarray()
    assert np.array_equal(shape, TextShape().fit_transform([raw]).toarray())
    # W, I, N, P, R, I, Z, E of 27 letters; 7 digits of 45 characters; a link
    assert shape[0, 1:].tolist() == pytest.approx([8 / 27, 7 / 45, 1.0])
    # VADER's lexicon holds words that are names ("Hardy", "Joy"): it reads the blinded text
    hardy = Normalised("xxname xxname is wasted in this boring mess", "Tom Hardy is wasted in "
                       "this boring mess")
    elba = Normalised("xxname xxname is wasted in this boring mess", "Idris Elba is wasted in "
                      "this boring mess")
    lexicon = SentimentLexicon().fit_transform([hardy, elba]).toarray()
    assert np.array_equal(lexicon[0], lexicon[1])
    raw = SentimentLexicon().transform([hardy.raw, elba.raw]).toarray()
    assert not np.array_equal(raw[0], raw[1])  # what reading the raw text would leak
    shouting = SentimentLexicon().transform(["xxname was NOT good!!", "xxname was not good"])
    assert shouting[0, 3] < shouting[1, 3] < 0.5  # capitals and "!!" still count


def test_sentiment_lexicon_by_hand():
    texts = ["The film was good", "The film was not good", "The film was", ""]
    values = SentimentLexicon(weight=1.0, compound_edges=COMPOUND_EDGES).fit_transform(
        texts).toarray()
    assert np.allclose(binned_lexicon().fit_transform(texts).toarray(), 0.3 * values)
    assert list(binned_lexicon().get_feature_names_out())[:5] == [
        "negative", "neutral", "positive", "compound", "compound[-1,-0.8)"]
    assert values.shape == (4, 4 + 11) and values.min() >= 0 and values.max() <= 1
    bins = values[:, 4:]
    good, not_good, neutral, empty = values[:, :4]
    assert good[2] > 0 and good[0] == 0 and good[3] > 0.5  # "good" is positive
    assert not_good[0] > 0 and not_good[2] == 0 and not_good[3] < 0.5  # negation turns it
    assert neutral.tolist() == [0.0, 1.0, 0.0, 0.5] and empty.tolist() == [0.0, 0.0, 0.0, 0.5]
    # VADER's own numbers, the compound score moved from [-1, 1] to [0, 1]
    assert good[3] == pytest.approx((0.4404 + 1) / 2)
    # then one indicator per bin of the compound score: 0.4404 is in [0.4, 0.6), "not good"
    # (-0.3412) in [-0.4, -0.2), and a text without sentiment (0) in VADER's neutral [-0.05, 0.05)
    names = binned_lexicon().get_feature_names_out()[4:]
    assert bins.sum(axis=1).tolist() == [1.0] * 4
    assert [names[row.argmax()] for row in bins] == [
        "compound[0.4,0.6)", "compound[-0.4,-0.2)", "compound[-0.05,0.05)", "compound[-0.05,0.05)"]
    assert names[0] == "compound[-1,-0.8)" and names[-1] == "compound[0.8,1]"


def test_every_edge_value_of_vader_goes_to_the_bin_above(monkeypatch):
    # the scores are kept as (compound + 1) / 2: the bin must still be the compound's own
    compounds = [*COMPOUND_EDGES, -1.0, 1.0, 0.0]
    monkeypatch.setattr(features, "vader_scores",
                        lambda text: (0.0, 1.0, 0.0, (float(text) + 1.0) / 2.0))
    bins = binned_lexicon().transform([str(c) for c in compounds]).toarray()[:, 4:].argmax(axis=1)
    assert bins.tolist() == [*range(1, len(COMPOUND_EDGES) + 1), 0, len(COMPOUND_EDGES), 5]
    with pytest.raises(ValueError, match="compound_edges=.*increasing"):
        SentimentLexicon(compound_edges=(0.5, -0.5)).fit(["0.1"])


def test_a_value_on_a_bin_edge_goes_to_the_bin_above_and_no_edges_mean_four_columns():
    group = SentimentLexicon(weight=1.0, compound_edges=(-0.5, 0.0, 0.5))
    values = group.transform(["The film was", "The film was good"]).toarray()
    assert values[:, 4:].tolist() == [[0, 0, 1, 0], [0, 0, 1, 0]]  # 0.0 and 0.4404: [0, 0.5)
    four = SentimentLexicon().transform(["The film was good"])  # no edges: the default
    assert four.shape == (1, 4)
    assert np.allclose(four.toarray(), binned_lexicon().transform(["The film was good"])
                       .toarray()[:, :4])
    assert list(SentimentLexicon().get_feature_names_out()) == [
        "negative", "neutral", "positive", "compound"]


def test_nb_scaling_weighs_a_polarity_bin_like_a_word():
    # the four scores are present in texts of both classes, so their NB ratio is near 0; the
    # bins are present like words: a bin met in one class only gets a ratio like that word's
    texts = ["a good film", "a great film", "a good story", "a bad film", "an awful film",
             "a bad story"]
    labels = ["positive"] * 3 + ["negative"] * 3
    lexicon = binned_lexicon().fit_transform(texts)
    words = features.word_tfidf().fit_transform(texts)
    ratio = LogCountRatio().fit(sp.hstack([words, lexicon]).tocsr(), labels).ratio_
    scores, bins = ratio[-15:-11], ratio[-11:]
    good = ratio[features.word_tfidf().fit(texts).vocabulary_["good"]]
    assert np.abs(scores[[1, 3]]).max() < 0.1 and np.abs(bins).max() > abs(good)


def test_the_lexicon_is_scored_once_per_text_and_kept_out_of_the_fitted_state(monkeypatch):
    calls = []
    real = features._scores
    monkeypatch.setattr(features, "_scores", lambda text: calls.append(text) or real(text))
    features._cached_scores.cache_clear()
    texts = [f"an unusual sentence number {i}" for i in range(5)]
    group = SentimentLexicon().fit(texts)
    first = group.fit_transform(texts + texts[:2])
    assert sorted(calls) == sorted(texts)  # duplicates and repeats are not scored again
    assert (group.transform(texts[:2]) != first[:2]).nnz == 0 and len(calls) == len(texts)
    long = "great " * 300  # longer than CACHED_CHARS: scored, not remembered
    group.transform([long, long])
    assert calls[-2:] == [long, long]
    assert set(group.__getstate__()) <= {  # no analyzer or lexicon
        "_sklearn_version", "weight", "compound_edges"}


def test_only_the_nb_scaled_families_read_the_polarity_bins():
    from shared.scale import incremental

    def lexicons(grid):
        return {repr(v) for v in grid["features__lexicon"] if v != "drop"}

    binned, plain = repr(binned_lexicon()), repr(SentimentLexicon())
    checked = 0
    for candidate in models.candidates(0, ("char", "lexicon")):
        for grids in (candidate.grids, candidate.local_grids):  # the full budget's are local
            for grid in grids.values():
                if "features__lexicon" in grid:
                    assert lexicons(grid) == ({binned} if candidate.name == "NB-SVM"
                                              else {plain}), candidate.name
                    checked += 1
    assert checked == 8  # quick and local full grids of the four linear families
    nbsvm = next(c for c in incremental.candidates(0, groups=("char", "lexicon"))
                 if c.name.startswith("NB-SVM"))
    assert lexicons(nbsvm.grids[incremental.GRID]) == {binned}


def test_every_optional_group_is_a_valid_spec_name():
    assert tuple(features.OPTIONAL_GROUPS) == problem.FEATURE_GROUPS


@pytest.mark.parametrize("group", ["shape", "lexicon"])
def test_a_pipeline_with_each_group_round_trips_through_skops(tmp_path, toy_corpus, group):
    texts, labels = toy_corpus
    made = models.feature_group_grid([group], nb_scaled=True)[f"features__{group}"][1]
    model = models.text_pipeline(LogisticRegression(C=3.0), nb_scaling=True).set_params(
        **{f"features__{group}": made})
    model.fit(texts, labels)
    names = model.named_steps["features"].get_feature_names_out()
    assert sum(name.startswith(f"{group}__") for name in names) == {"shape": 4, "lexicon": 15}[group]
    path = modelfile.save_model(model, tmp_path / "m.skops")
    loaded = modelfile.load_model(path)
    assert type(loaded.named_steps["features"].get_params()[group]).__name__ == \
        type(features.OPTIONAL_GROUPS[group]()).__name__
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    # a group learns nothing, yet counts as fitted: shared/serving/explain.py transforms with the
    # steps before the classifier, which scikit-learn checks are fitted
    assert (loaded[:-1].transform(texts) != model[:-1].transform(texts)).nnz == 0
