"""docs/adding_a_feature.md, followed end to end with its example feature group.

The example, :class:`TextShape`, is defined here and registered only for the test
(``monkeypatch``): the production grids, models and notebook outputs stay as they are.
Every step is the guide's: the transformer, its entry in ``OPTIONAL_GROUPS``, the
project's search switching it off and on, the ablation read from that search, and a
model file that loads only once the type is in ``TRUSTED_TYPES``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from shared import features, modelfile, models, sources, training
from shared.text_rules import MAX_TEXT_CHARS

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "adding_a_feature.md"


class TextShape(TransformerMixin, BaseEstimator):
    """How a text looks, not which words it has: its length (log scale, 1.0 at
    MAX_TEXT_CHARS), its share of upper-case letters and its share of digits."""

    def fit(self, X, y=None) -> TextShape:  # noqa: N803
        """Nothing to learn."""
        return self

    def transform(self, X) -> sp.csr_matrix:  # noqa: N803
        """One row of three values in [0, 1] per (cleaned) text."""
        rows = [[np.log1p(len(text)) / np.log1p(MAX_TEXT_CHARS),
                 sum(c.isupper() for c in text) / max(1, sum(c.isalpha() for c in text)),
                 sum(c.isdigit() for c in text) / max(1, len(text))]
                for text in map(str, X)]
        return sp.csr_matrix(np.array(rows, dtype=float).reshape(len(rows), 3))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The columns' names (the union prefixes them: ``shape__upper_share``)."""
        return np.array(["length", "upper_share", "digit_share"], dtype=object)


@pytest.fixture
def spam_texts() -> pd.DataFrame:
    """48 real messages of the built-in spam set, 24 of each label."""
    frame = sources.load_dataset("builtin", "spam").frame
    return frame.groupby("label").head(24).reset_index(drop=True)[["text", "label"]]


def test_the_guide_shows_the_code_this_test_runs():
    guide = GUIDE.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL))
    assert inspect.getsource(TextShape) in code
    assert inspect.getsource(test_textshape_by_hand) in code
    for step in ('"shape": TextShape', '"shared.features.TextShape"'):
        assert step in code


def test_textshape_by_hand():
    values = TextShape().fit_transform(["FREE entry: call 0800", "hi"]).toarray()
    assert values[:, 1] == pytest.approx([4 / 13, 0.0])  # F, R, E, E of 13 letters
    assert values[:, 2] == pytest.approx([4 / 21, 0.0])
    assert values[0, 0] > values[1, 0] > 0 and values.max() <= 1


def test_a_new_feature_group_is_searched_ablated_saved_and_trusted(
    monkeypatch, tmp_path, spam_spec, spam_texts
):
    # step 2: one entry in the registry puts the group, off, into every TF-IDF pipeline
    monkeypatch.setitem(features.OPTIONAL_GROUPS, "shape", TextShape)
    candidate = next(c for c in models.candidates(spam_spec.seed)
                     if c.name == "logistic regression")
    assert candidate.pipeline.named_steps["features"].get_params()["shape"] == "drop"
    # ... and off and on into the grids; the project's search scores both ways
    assert candidate.grids["quick"]["features__shape"][0] == "drop"
    assert isinstance(candidate.grids["quick"]["features__shape"][1], TextShape)
    spec = spam_spec.with_overrides(cv_folds=3)
    result = training.run_search([candidate], spam_texts, spec, "quick", "grid", n_jobs=1)
    assert len(result.table) == 8  # C twice, char and shape each off and on
    assert result.table["params"].str.contains("with shape").sum() == 4
    # stage 4's ablation reads what the group adds from the same search
    final = training.best_per_model(result.final())
    chosen = final.loc[training.choose(final, "best", spec.cv_folds)[0]]
    ablation = training.feature_ablation(result.table, chosen).set_index("setting")
    assert list(ablation.index) == ["char", "shape"]
    assert {ablation.loc["shape", "chosen"], ablation.loc["shape", "alternative"]} \
        == {"with shape", "without shape"}

    # the chosen configuration with the group on, fitted on every text
    model = training.configured(candidate, {**chosen["raw_params"],
                                            "features__shape": TextShape()})
    training.fit_final(model, spam_texts["text"], spam_texts["label"])
    names = model.named_steps["features"].get_feature_names_out()
    assert {"shape__length", "shape__upper_share", "shape__digit_share"} <= set(names)
    assert models.term_weights(model) is not None  # stage 5 reads the union's names

    # step 3: a model file holding the new type is refused until the type is trusted
    path = modelfile.save_model(model, tmp_path / "pipeline.skops")
    name = f"{TextShape.__module__}.{TextShape.__qualname__}"
    with pytest.raises(modelfile.UntrustedModelError, match=re.escape(name)):
        modelfile.load_model(path)
    monkeypatch.setattr(modelfile, "TRUSTED_TYPES", (*modelfile.TRUSTED_TYPES, name))
    loaded = modelfile.load_model(path)
    texts = spam_texts["text"]
    assert isinstance(loaded.named_steps["features"].get_params()["shape"], TextShape)
    assert np.array_equal(loaded.predict(texts), model.predict(texts))
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
