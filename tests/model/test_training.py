import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from shared.core.modelfile import load_model, save_model
from shared.model import models, training
from shared.model.features import OPTIONAL_GROUPS


@pytest.fixture
def corpus(toy_corpus):
    texts, labels = toy_corpus
    return pd.Series(texts * 3), pd.Series(labels * 3)


def test_budget_and_search_method():
    assert training.resolve_budget("auto", 768) == "quick"
    assert training.resolve_budget("auto", 8_000) == "full"
    with pytest.raises(ValueError, match="budget='huge'"):
        training.resolve_budget("huge", 10)
    assert training.resolve_search("auto", "quick") == "grid"
    assert training.resolve_search("auto", "full") == "grid"
    assert training.resolve_search("random", "full") == "random"
    candidates = models.candidates(0)
    # the forest, the one expensive family, is searched on small data sets only
    assert training.halved(candidates, "auto", "full") == set()
    assert training.halved(candidates, "halving", "full") == {c.name for c in candidates}
    assert training.halved(candidates, "auto", "quick") == set()
    assert len(training.halved(candidates, "halving", "quick")) == 5


def test_every_candidate_has_both_budgets_and_is_saveable(tmp_path, toy_corpus):
    texts, labels = toy_corpus
    for candidate in models.candidates(seed=0):
        # the forest is searched on small data sets only (shared.model.models.candidates)
        expected = {"quick"} if candidate.name == "random forest" else set(models.BUDGETS)
        assert set(candidate.grids) == expected
        fitted = candidate.pipeline.fit(texts * 3, labels * 3)
        save_model(fitted, tmp_path / "m.skops")
        loaded = load_model(tmp_path / "m.skops")
        assert np.allclose(loaded.predict_proba(texts), fitted.predict_proba(texts))


def test_every_component_a_grid_can_choose_is_trusted(tmp_path, toy_corpus):
    # the default pipelines leave the optional feature groups off: each estimator a grid can
    # set (a feature group switched on) is fitted, saved and loaded here, so a component
    # missing from shared.core.modelfile.TRUSTED_TYPES fails now, not after a whole search
    texts, labels = toy_corpus
    tried = set()
    for candidate in models.candidates(seed=0, groups=tuple(OPTIONAL_GROUPS)):
        for grid in [*candidate.grids.values(), *candidate.local_grids.values()]:
            for key, values in grid.items():
                for value in values:
                    if not isinstance(value, BaseEstimator) or (candidate.name, key) in tried:
                        continue
                    tried.add((candidate.name, key))
                    fitted = training.configured(candidate, {key: value})
                    fitted.fit(texts * 3, labels * 3)
                    save_model(fitted, tmp_path / "m.skops")
                    loaded = load_model(tmp_path / "m.skops")
                    assert np.allclose(loaded.predict_proba(texts), fitted.predict_proba(texts))
    assert {("linear SVM", f"features__{name}") for name in OPTIONAL_GROUPS} <= tried


def test_the_grid_table_says_how_each_setting_is_searched():
    candidates = models.candidates(0, ("char", "shape"))
    full = training.grid_table(candidates, "full").loc["logistic regression"]
    assert full.loc["features__shape", "searched"] == "at the best"
    assert full.loc["features__shape", "values"] == "without shape, with shape"
    assert full.loc["clf__C", "searched"] == "grid"
    quick = training.grid_table(candidates, "quick").loc["logistic regression"]
    assert set(quick["searched"]) == {"grid"} and "features__shape" in quick.index


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


def test_the_learning_curve_of_a_halving_search_is_its_rounds(spec, corpus):
    texts, labels = corpus
    train = pd.DataFrame({"text": list(texts) * 4, "label": list(labels) * 4})
    spec = spec.with_overrides(cv_folds=2)
    candidates = [c for c in models.candidates(0) if c.name == "logistic regression"]
    result = training.run_search(candidates, train, spec, "quick", "halving", n_jobs=1,
                                 min_texts_per_fold=10)
    final = training.best_per_model(result.final())
    index, _ = training.choose(final, "best", spec.cv_folds)
    curve = training.learning_curve(result, final.loc[index], candidates[0], train, spec)
    assert curve["train_size"].tolist() == [int(n / 2) for n in sorted(result.table["texts"].unique())]
    assert curve["valid_mean"].iloc[-1] == pytest.approx(final.loc[index, "mean"])


def test_versus_baseline(spec):
    chosen = pd.Series({"model": "m", "fold_scores": [0.7, 0.8]})
    baseline = pd.DataFrame({"model": ["b", "b"], "fold": [1, 2], "f1": [0.0, 0.2]})
    table = training.versus_baseline(chosen, baseline, "f1")
    assert table.loc["m", "mean"] == pytest.approx(0.75) and table.loc["b", "mean"] == 0.1


@pytest.mark.parametrize("method", ["grid", "halving"])
def test_feature_ablation_reads_each_feature_setting_from_the_search(spec, corpus, method):
    texts, labels = corpus
    train = pd.DataFrame({"text": list(texts) * 4, "label": list(labels) * 4})
    spec = spec.with_overrides(cv_folds=2)
    candidates = [c for c in models.candidates(0) if c.name == "logistic regression"]
    result = training.run_search(candidates, train, spec, "quick", method, n_jobs=1,
                                 min_texts_per_fold=10)
    final = training.best_per_model(result.final())
    chosen = final.loc[training.choose(final, "best", spec.cv_folds)[0]]
    ablation = training.feature_ablation(result.table, chosen)
    # the quick grid switches the character n-grams on and off: one alternative
    assert ablation["setting"].tolist() == ["char"]
    row = ablation.iloc[0]
    assert {row["chosen"], row["alternative"]} == {"word n-grams", "word+char n-grams"}
    table = result.table
    other = table[(table["model"] == chosen["model"]) & (table["round"] == row["round"])
                  & (table["params"] == chosen["params"].replace(row["chosen"],
                                                                   row["alternative"]))]
    assert row["alternative_mean"] == other["mean"].iloc[0]
    assert row["gain"] == pytest.approx(row["chosen_mean"] - row["alternative_mean"])
    if method == "grid":  # chosen on the highest mean: no setting it has could score more
        assert row["gain"] >= 0
