"""Model files: skops only, byte-for-byte reproducible, untrusted types refused by name."""

import numpy as np
import pytest
from conftest import TOY_LABELS, TOY_TEXTS, small_model
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared.core import modelfile, storage
from shared.core.text_rules import clean_text


def test_round_trip_predicts_identically(toy_model, tmp_path):
    modelfile.save_model(toy_model, tmp_path / "m.skops")
    loaded = modelfile.load_model(tmp_path / "m.skops")
    assert np.array_equal(loaded.predict_proba(TOY_TEXTS), toy_model.predict_proba(TOY_TEXTS))


def test_same_model_gives_the_same_bytes(tmp_path):
    for name in ("a", "b"):
        modelfile.save_model(small_model().fit(TOY_TEXTS, TOY_LABELS), tmp_path / f"{name}.skops")
    assert storage.sha256_file(tmp_path / "a.skops") == storage.sha256_file(tmp_path / "b.skops")


def test_untrusted_types_are_refused_by_name(tmp_path):
    modelfile.save_model(Pipeline([("f", FunctionTransformer(clean_text))]), tmp_path / "m.skops")
    with pytest.raises(modelfile.UntrustedModelError, match="shared.core.text_rules.clean_text"):
        modelfile.load_model(tmp_path / "m.skops")
