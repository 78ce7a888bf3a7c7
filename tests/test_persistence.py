import json

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared import catalog, persistence
from shared.models import tfidf_logistic_regression
from shared.text import word_count


@pytest.fixture
def fitted(toy_corpus):
    texts, labels = toy_corpus
    return tfidf_logistic_regression(seed=0).fit(texts, labels)


def test_round_trip_predicts_identically(fitted, toy_corpus, tmp_path):
    persistence.save_model(fitted, tmp_path / "m.skops")
    loaded = persistence.load_model(tmp_path / "m.skops")
    texts, _ = toy_corpus
    assert np.array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))


def test_same_model_gives_the_same_bytes(toy_corpus, tmp_path):
    texts, labels = toy_corpus
    for name in ("a", "b"):
        model = tfidf_logistic_regression(seed=0).fit(texts, labels)
        persistence.save_model(model, tmp_path / f"{name}.skops")
    assert catalog.sha256_file(tmp_path / "a.skops") == catalog.sha256_file(tmp_path / "b.skops")


def test_untrusted_types_are_refused_by_name(toy_corpus, tmp_path):
    model = Pipeline([("f", FunctionTransformer(word_count))])
    persistence.save_model(model, tmp_path / "m.skops")
    with pytest.raises(persistence.UntrustedModelError, match="shared.text.word_count"):
        persistence.load_model(tmp_path / "m.skops")


def _deployed(tmp_path, fitted):
    folder = tmp_path / "deployed"
    persistence.save_model(fitted, folder / "model.skops")
    catalog.write_json(folder / "metrics.json", {"threshold": 0.5})
    manifest = {"files": {n: catalog.sha256_file(folder / n) for n in ("model.skops", "metrics.json")}}
    catalog.write_json(folder / "manifest.json", manifest)
    return folder


def test_manifest_verification_accepts_untouched_files(tmp_path, fitted):
    folder = _deployed(tmp_path, fitted)
    model, manifest = persistence.load_deployed(folder)
    assert set(manifest["files"]) == {"model.skops", "metrics.json"}


def test_a_changed_file_is_refused_by_name(tmp_path, fitted):
    folder = _deployed(tmp_path, fitted)
    (folder / "metrics.json").write_text(json.dumps({"threshold": 0.1}))
    with pytest.raises(persistence.ManifestMismatchError, match="metrics.json does not match"):
        persistence.load_deployed(folder)


def test_a_missing_file_is_refused_by_name(tmp_path, fitted):
    folder = _deployed(tmp_path, fitted)
    (folder / "model.skops").unlink()
    with pytest.raises(persistence.ManifestMismatchError, match="model.skops is listed"):
        persistence.load_deployed(folder)
