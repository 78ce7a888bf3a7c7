"""The sentence-embedding feature group: its columns, its memory and disk store, and where
stage 4 searches it."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from shared.core import modelfile
from shared.data.tasks import get_task
from shared.model import embedding, minilm, models

TEXTS = ["A joy from start to finish.", "Dull, slow and far too long.", "A joy from start to finish."]


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch):
    """Each test starts with an empty memory, no store, and remembering on (another test in
    the process may have started a service, which forgets for the whole process)."""
    monkeypatch.setattr(embedding, "_FORGETTING", False)
    monkeypatch.setattr(embedding, "_STORE", None)
    embedding._REMEMBERED.clear()


@pytest.fixture
def encoded(monkeypatch):
    """The number of texts of each call of the encoder, in order."""
    calls = []
    real = minilm.MiniLM.encode
    monkeypatch.setattr(minilm.MiniLM, "encode",
                        lambda self, texts, threads=1: calls.append(len(texts))
                        or real(self, texts, threads))
    return calls


def test_the_group_gives_the_encoder_s_vectors_times_its_weight():
    features = embedding.SentenceEmbedding(weight=0.5).fit(TEXTS)
    matrix = features.transform(TEXTS).toarray()
    assert matrix.shape == (3, minilm.WIDTH)
    assert np.allclose(matrix, 0.5 * minilm.encoder().encode(TEXTS))
    assert list(features.get_feature_names_out()[:2]) == ["dim0", "dim1"]


def test_remembered_and_stored_vectors_are_the_encoded_ones(tmp_path, monkeypatch, encoded):
    store = embedding.VectorStore(tmp_path / "vectors.sqlite")
    fresh = minilm.encoder().encode(TEXTS[:2])
    store.put(dict(zip(TEXTS[:2], fresh, strict=True)))
    assert all(np.array_equal(store.get(TEXTS[:2])[t], v)
               for t, v in zip(TEXTS[:2], fresh, strict=True))
    monkeypatch.setattr(embedding, "_STORE", store)
    assert np.array_equal(embedding.vectors(TEXTS), fresh[[0, 1, 0]])
    assert encoded == [2]  # the store's vectors were read, nothing encoded again


def test_a_damaged_stored_row_is_encoded_again(tmp_path, monkeypatch, encoded):
    store = embedding.VectorStore(tmp_path / "vectors.sqlite")
    with store._connect() as db:
        db.execute("INSERT INTO vectors VALUES (?, ?)", (store.key(TEXTS[1]), b"short"))
    assert store.get([TEXTS[1]]) == {}
    monkeypatch.setattr(embedding, "_STORE", store)
    assert np.array_equal(embedding.vectors([TEXTS[1]]), minilm.encoder().encode([TEXTS[1]]))
    assert encoded == [1, 1]


def test_the_store_is_the_user_s_cache_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SENTENCE_VECTOR_STORE", raising=False)
    assert embedding.default_store_path().parent == tmp_path / "ml-workflow"
    monkeypatch.setenv("SENTENCE_VECTOR_STORE", "off")
    assert embedding.default_store_path() is None


def test_stage_4_searches_the_encoder_on_small_training_sets_only():
    groups = get_task("sentiment").spec.feature_groups
    assert "embedding" in embedding.searched_groups(groups, embedding.MAX_TRAINING_TEXTS)
    assert "embedding" not in embedding.searched_groups(groups, embedding.MAX_TRAINING_TEXTS + 1)


@pytest.mark.parametrize("budget", ["quick", "full"])
def test_the_encoder_is_tried_at_the_best_of_the_families_that_suit_it(budget):
    by_name = {c.name: c for c in models.candidates(0, ("char", "lexicon", "embedding"))}
    for name, candidate in by_name.items():
        local = candidate.local_grids.get(budget, {})
        assert ("features__embedding" in local) == (name in ("logistic regression", "linear SVM"))
        assert "features__embedding" not in candidate.grids.get(budget, {})
        if "features__embedding" in local:  # off, and at each scale
            assert [getattr(v, "weight", v) for v in local["features__embedding"]] == \
                ["drop", *embedding.WEIGHTS]


def test_a_model_with_the_group_saved_and_loaded_answers_the_same(tmp_path):
    model = make_pipeline(embedding.SentenceEmbedding(), LogisticRegression())
    model.fit(TEXTS[:2] * 3, ["positive", "negative"] * 3)
    path = tmp_path / "model.skops"
    modelfile.save_model(model, path)
    loaded = modelfile.load_model(path)
    assert np.array_equal(loaded.predict_proba(TEXTS), model.predict_proba(TEXTS))


def test_forgetting_encodes_every_text_anew(encoded):
    embedding.vectors(TEXTS)
    with embedding.forgetting():
        embedding.vectors(TEXTS)
    embedding.vectors(TEXTS)
    assert encoded == [2, 3]


def test_a_service_process_encodes_every_text_anew(encoded):
    embedding.forget_always()
    embedding.vectors(TEXTS)
    embedding.vectors(TEXTS)
    assert encoded == [3, 3]


def test_a_model_trained_on_another_encoder_is_refused(monkeypatch):
    features = embedding.SentenceEmbedding().fit(TEXTS)
    assert features.encoder_ == minilm.encoder_id()
    monkeypatch.setattr(minilm, "VERSION", minilm.VERSION + 1)
    with pytest.raises(ValueError, match="trained on encoder .* retrain"):
        features.transform(TEXTS)


def test_a_model_trained_on_the_float_encoder_keeps_its_vectors():
    features = embedding.SentenceEmbedding(weight=1.0).fit(TEXTS)
    features.encoder_ = minilm.encoder_id(minilm.FLOAT_VERSION)  # as written before the 8-bit one
    old = features.transform(TEXTS).toarray()
    assert np.array_equal(old, minilm.encoder().float_vectors(TEXTS).astype(np.float64))
    assert not np.array_equal(old, embedding.SentenceEmbedding(weight=1.0).fit(TEXTS)
                              .transform(TEXTS).toarray())
