import numpy as np
import pandas as pd
import pytest

from shared import models, training
from shared.modelfile import load_model, save_model


@pytest.fixture
def corpus(toy_corpus):
    texts, labels = toy_corpus
    return pd.Series(texts * 3), pd.Series(labels * 3)


def test_budget():
    assert training.resolve_budget("auto", 768) == "quick"
    assert training.resolve_budget("auto", 8_000) == "full"
    with pytest.raises(ValueError, match="budget='huge'"):
        training.resolve_budget("huge", 10)


def test_every_candidate_has_both_budgets_and_is_saveable(tmp_path, toy_corpus):
    texts, labels = toy_corpus
    for candidate in models.candidates(seed=0):
        assert set(candidate.grids) == set(models.BUDGETS)
        fitted = candidate.pipeline.fit(texts * 3, labels * 3)
        save_model(fitted, tmp_path / "m.skops")
        loaded = load_model(tmp_path / "m.skops")
        assert np.allclose(loaded.predict_proba(texts), fitted.predict_proba(texts))


def test_search_scores_every_configuration_on_the_same_folds(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    chosen = [c for c in models.candidates(0) if c.name in ("logistic regression", "NB-SVM")]
    results = training.search(chosen, texts, labels, spec, "quick", n_jobs=1)
    assert len(results) == sum(len(training.ParameterGrid(c.grids["quick"])) for c in chosen)
    assert results["fold_scores"].map(len).eq(3).all()
    assert np.allclose(results["mean"], results["fold_scores"].map(np.mean))


def test_random_search_tries_n_iter(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    lr = [c for c in models.candidates(0) if c.name == "logistic regression"]
    results = training.search(lr, texts, labels, spec, "full", method="random", n_iter=3,
                              n_jobs=1)
    assert len(results) == 3


def test_choice_rules():
    best = pd.DataFrame({
        "model": ["complex", "simple", "middle"], "mean": [0.80, 0.79, 0.70],
        "std": [0.05, 0.01, 0.01], "complexity": [5, 1, 3],
    })
    assert training.choose(best, "best", 5)[0] == 0
    index, reason = training.choose(best, "one_standard_error", 5)
    assert best.loc[index, "model"] == "simple" and "one standard error" in reason
    tight = best.assign(std=[0.001, 0.01, 0.01])
    assert training.choose(tight, "one_standard_error", 5)[0] == 0
