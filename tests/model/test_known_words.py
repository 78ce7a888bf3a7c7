"""The bounded vocabulary of a hashing model (shared.model.known_words)."""

import numpy as np

from shared.model.known_words import KnownWords, WordCounter, hashed_columns
from shared.model.models import Vocabulary
from shared.scale import incremental


def test_the_counter_keeps_the_most_frequent_words_within_its_bound():
    counter = WordCounter(limit=2)
    for _ in range(3):
        counter.update(["good good film", "bad film"])
    counter.update([f"rare{i}" for i in range(20)])  # more than 4 x limit distinct words
    assert counter.pruned
    assert len(counter.counts) <= 8
    assert counter.words() == ["film", "good"]


def test_known_words_pass_texts_through_and_give_the_unknown_share(toy_corpus):
    texts, labels = toy_corpus
    model = incremental.hashing_pipeline(incremental.SGDClassifier(loss="log_loss"))
    model.fit(texts, labels)
    assert model.named_steps["vocabulary"].transform(["as is"]) == ["as is"]
    assert Vocabulary.of(model).words == set()
    counter = WordCounter()
    counter.update(texts)
    model.named_steps["vocabulary"].set_words(counter.words())
    shares = Vocabulary.of(model).unknown_shares(["Great FILM", "great zebra", "qqq"])
    assert shares.tolist() == [0.0, 0.5, 1.0]
    assert isinstance(model.named_steps["vocabulary"], KnownWords)


def test_a_word_finds_its_own_hashed_column():
    vectorizer = incremental.hashing_words()
    columns, signs = hashed_columns(vectorizer, ["great", "awful"])
    matrix = vectorizer.transform(["great"]).tocsr()
    assert columns[0] == matrix.indices[0] and signs.tolist() == [1.0, 1.0]
    assert np.all(columns >= 0)
