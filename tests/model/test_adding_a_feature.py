"""docs/adding_a_feature.md, followed end to end with the group it walks through: ``shape``.

Every step is the guide's, on the real :class:`shared.model.features.TextShape`: the transformer,
its entry in ``OPTIONAL_GROUPS`` and in the spam task's ``feature_groups``, the project's
search switching it off and on, the ablation read from that search, and a model file that
loads only while the type is in ``TRUSTED_TYPES``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import test_features  # beside this file: pytest puts its folder on the path

from shared.core import modelfile, problem
from shared.data import sources
from shared.model import features, models, training
from shared.model.features import TextShape

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "adding_a_feature.md"


@pytest.fixture
def spam_texts() -> pd.DataFrame:
    """48 real messages of the built-in spam set, 24 of each label."""
    frame = sources.load_dataset("builtin", "spam").frame
    return frame.groupby("label").head(24).reset_index(drop=True)[["text", "label"]]


def test_the_guide_shows_the_code_this_test_runs():
    guide = GUIDE.read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL))
    assert inspect.getsource(TextShape) in code
    assert inspect.getsource(features.raw_texts) in code
    assert inspect.getsource(test_features.test_textshape_by_hand) in code
    for step in ('"shape": TextShape', '"shared.model.features.TextShape"',
                 "FEATURE_GROUPS = (" + ", ".join(f'"{g}"' for g in problem.FEATURE_GROUPS) + ")",
                 'feature_groups=("char", "shape")'):
        assert step in code
    # the guide's registry lines are the code's
    assert tuple(features.OPTIONAL_GROUPS) == problem.FEATURE_GROUPS
    assert features.OPTIONAL_GROUPS["shape"] is TextShape
    assert "shared.model.features.TextShape" in modelfile.TRUSTED_TYPES


def test_a_feature_group_is_searched_ablated_saved_and_trusted(
    monkeypatch, tmp_path, spam_spec, spam_texts
):
    # step 2: the registry puts the group, off, into every TF-IDF pipeline, and the spam
    # task's feature_groups put it off and on into its grids
    assert "shape" in spam_spec.feature_groups
    candidate = next(c for c in models.candidates(spam_spec.seed, spam_spec.feature_groups)
                     if c.name == "logistic regression")
    assert candidate.pipeline.named_steps["features"].get_params()["shape"] == "drop"
    assert candidate.grids["quick"]["features__shape"][0] == "drop"
    assert isinstance(candidate.grids["quick"]["features__shape"][1], TextShape)
    spec = spam_spec.with_overrides(cv_folds=3)
    result = training.run_search([candidate], spam_texts, spec, "quick", "grid", n_jobs=1)
    grid = result.table[result.table["config"] < 8]  # C twice, char and shape each off and on
    assert len(grid) == 8 and grid["params"].str.contains("with shape").sum() == 4
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
    assert {"shape__length", "shape__upper_share", "shape__digit_share",
            "shape__link"} <= set(names)
    assert models.term_weights(model) is not None  # stage 5 reads the union's names

    # step 3: a model file holding the type loads while it is trusted, and only then
    path = modelfile.save_model(model, tmp_path / "pipeline.skops")
    loaded = modelfile.load_model(path)
    texts = spam_texts["text"]
    assert isinstance(loaded.named_steps["features"].get_params()["shape"], TextShape)
    assert np.array_equal(loaded.predict(texts), model.predict(texts))
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    name = f"{TextShape.__module__}.{TextShape.__qualname__}"
    monkeypatch.setattr(modelfile, "TRUSTED_TYPES",
                        tuple(t for t in modelfile.TRUSTED_TYPES if t != name))
    with pytest.raises(modelfile.UntrustedModelError, match=re.escape(name)):
        modelfile.load_model(path)
