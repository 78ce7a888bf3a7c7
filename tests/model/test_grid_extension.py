"""Grids extended past the edge their best value sits on, and settings tried at the best."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shared.core.catalog import Catalog
from shared.model import grid_extension, models, search, training
from shared.model.features import SentimentLexicon, char_tfidf

LABELS = np.array(["negative", "positive"] * 5)
COLUMNS = ["model", "params", "round", "texts", "mean", "std", "train_mean", "train_std",
           "fit_seconds", "complexity", "fold_scores", "train_fold_scores",
           "convergence_warnings", "raw_params", "config"]


def family(grid: dict, local: dict | None = None, budget: str = "quick") -> models.Candidate:
    return models.Candidate("logistic regression", "lr", 2, models.text_pipeline(
        LogisticRegression()), {budget: grid}, local_grids={budget: local or {}})


def scored_by(score, spread=lambda params: 0.0):
    """A stand-in for ``search.cross_validate`` whose mean score is ``score(params)``, its two
    fold scores that mean plus and minus ``spread(params)``."""
    def cross_validate(configs, texts, labels, spec, n_jobs=-1, splits=None, features=None):
        rows = [{"model": c.candidate.name, "params": models.describe_params(c.params),
                 "mean": score(c.params), "std": 0.0, "train_mean": 1.0, "train_std": 0.0,
                 "fit_seconds": 0.0, "complexity": c.candidate.complexity,
                 "fold_scores": [score(c.params) + spread(c.params),
                                 score(c.params) - spread(c.params)],
                 "train_fold_scores": [1.0] * 2,
                 "convergence_warnings": [], "raw_params": c.params} for c in configs]
        return rows, [np.full(len(labels), score(c.params)) for c in configs]
    return cross_validate


def searched(candidate: models.Candidate, score, budget: str = "quick") -> search.SearchResult:
    """The grid's own result, as ``search.run`` gives it, scored by ``score``."""
    configs = search.configurations([candidate], budget, "grid", 4, 0)
    rows, oofs = scored_by(score)(configs, [], LABELS, None)
    table = pd.DataFrame([{**row, "config": i, "round": 1, "texts": len(LABELS)}
                          for i, row in enumerate(rows)])[COLUMNS]
    return search.SearchResult(table, dict(enumerate(oofs)), features=object())


def peaked_at(best_c: float):
    """A score that falls with the distance of log C from log ``best_c``."""
    return lambda params: -abs(math.log10(params["clf__C"] / best_c))


@pytest.mark.parametrize(("grid", "peak", "tried", "best", "outcome"), [
    ([1.0, 3.0], 30.0, [9.0, 27.0, 81.0], 27.0, "above the grid: extended until"),
    ([1.0, 3.0], 1000.0, [9.0, 27.0, 81.0], 81.0, "still improving after 3 extensions"),
    ([1.0, 3.0], 0.2, [0.333, 0.111], 0.333, "below the grid: extended until"),
    ([0.3, 1.0, 3.0], 1.2, [], 1.0, "inside the grid"),
])
def test_a_best_value_on_the_edge_extends_the_grid(monkeypatch, spec, grid, peak, tried, best,
                                                   outcome):
    monkeypatch.setattr(search, "cross_validate", scored_by(peaked_at(peak)))
    candidate = family({"clf__C": grid})
    result = grid_extension.refine(searched(candidate, peaked_at(peak)), [candidate], LABELS,
                                   spec, "quick")
    [report] = result.extensions.to_dict("records")
    assert report["tried"] == ", ".join(f"{v:g}" for v in tried)
    assert report["best"] == f"{best:g}" and outcome in report["outcome"]
    table = result.table
    # the new configurations are rows of the last round, with new ids and out-of-fold scores
    assert table["config"].tolist() == list(range(len(grid) + len(tried)))
    assert [p["clf__C"] for p in table["raw_params"][len(grid):]] == tried
    assert set(result.oof) == set(table.index) and result.features is None
    final = training.best_per_model(result.final())
    assert final.iloc[0]["raw_params"]["clf__C"] == best


def test_a_gain_within_the_fold_noise_ends_the_extension(monkeypatch, spec):
    # C=9 scores log10(3) = 0.48 higher than C=3 on average, but one fold 1.08 higher and the
    # other 0.12 lower: the paired differences' standard error (0.6) is larger than the gain
    score = peaked_at(1000.0)
    spread = lambda params: 0.6 if params["clf__C"] > 3 else 0.0  # noqa: E731
    monkeypatch.setattr(search, "cross_validate", scored_by(score, spread))
    candidate = family({"clf__C": [1.0, 3.0]})
    result = grid_extension.refine(searched(candidate, score), [candidate], LABELS, spec, "quick")
    [report] = result.extensions.to_dict("records")
    assert (report["tried"], report["best"]) == ("9", "3")
    assert "within the fold noise" in report["outcome"] and "3 kept" in report["outcome"]
    # the value that won within the noise is not left for choosing by the highest mean
    assert len(result.table) == 2 and set(result.oof) == set(result.table.index)
    assert training.best_per_model(result.final()).iloc[0]["raw_params"]["clf__C"] == 3.0


def test_a_local_setting_is_tried_at_the_best_configuration_only(monkeypatch, spec):
    lexicon = SentimentLexicon()

    def score(params):  # C=3 is best either way; the lexicon adds 0.1
        return peaked_at(3.0)(params) + (0.1 if params.get("features__lexicon") is lexicon
                                         else 0.0)

    monkeypatch.setattr(search, "cross_validate", scored_by(score))
    candidate = family({"clf__C": [1.0, 3.0, 10.0]}, {"features__lexicon": ["drop", lexicon]})
    result = grid_extension.refine(searched(candidate, score), [candidate], LABELS, spec, "quick")
    assert len(result.table) == 4  # the grid's three, and the best with the lexicon
    added = result.table.iloc[-1]["raw_params"]
    assert added == {"clf__C": 3.0, "features__lexicon": lexicon}
    local = result.extensions.set_index("parameter").loc["features__lexicon"]
    assert (local["best before"], local["best"]) == ("without lexicon", "with lexicon")
    assert "kept" in local["outcome"]


def test_the_extended_rows_are_those_a_search_of_them_gives(spec):
    reviews = Catalog.for_task("sentiment").read("new_batch")
    train = pd.DataFrame({"text": reviews["text"].tolist() * 2,
                          "label": reviews["label"].tolist() * 2})
    spec = spec.with_overrides(cv_folds=3)
    candidate = next(c for c in models.candidates(0) if c.name == "logistic regression")
    result = training.run_search([candidate], train, spec, "quick", n_jobs=1)
    grid = len(search.configurations([candidate], "quick", "grid", 4, 0))
    report = result.extensions.iloc[0]
    # C=3 and C=10 score alike here, and the first of them, C=3, is the lower edge
    assert (report["parameter"], report["grid"], report["tried"]) == ("clf__C", "3, 10", "0.9")
    assert len(result.table) == grid + 1
    for index, row in result.table.iloc[grid:].iterrows():
        config = search.Configuration(candidate, row["raw_params"])
        [alone], [oof] = search.cross_validate([config], train["text"], train["label"], spec,
                                               n_jobs=1)
        assert row["fold_scores"] == alone["fold_scores"]
        assert np.array_equal(result.oof[index], oof)


def test_a_best_past_the_edge_gets_the_neighbours_the_ablation_compares_it_with(monkeypatch,
                                                                                spec):
    char = char_tfidf()

    def score(params):  # C=27 is best; the character n-grams add 0.05
        return peaked_at(30.0)(params) + (0.05 if params["features__char"] is char else 0.0)

    monkeypatch.setattr(search, "cross_validate", scored_by(score))
    candidate = family({"clf__C": [1.0, 3.0], "features__char": ["drop", char]})
    result = grid_extension.refine(searched(candidate, score), [candidate], LABELS, spec, "quick")
    final = training.best_per_model(result.final())
    chosen = final.iloc[0]
    assert chosen["params"] == "C=27, word+char n-grams"
    ablation = training.feature_ablation(result.table, chosen)
    assert ablation[["setting", "alternative"]].values.tolist() == [["char", "word n-grams"]]
    assert ablation["gain"].iloc[0] == pytest.approx(0.05)
    assert len(result.table) == 4 + 3 + 1  # the grid, three extensions, one neighbour


def test_on_the_full_budget_only_the_groups_neighbours_are_scored(monkeypatch, spec):
    char = char_tfidf()

    def score(params):
        return peaked_at(30.0)(params) + (0.05 if params["features__char"] is char else 0.0)

    monkeypatch.setattr(search, "cross_validate", scored_by(score))
    candidate = family({"clf__C": [1.0, 3.0], "features__char": ["drop", char],
                        "features__word__min_df": [1, 2]}, budget="full")
    result = grid_extension.refine(searched(candidate, score, "full"), [candidate], LABELS,
                                   spec, "full")
    added = result.table.iloc[8 + 3:]  # after the grid and the three extensions
    assert added["params"].tolist() == ["C=27, word n-grams, min_df=1"]  # not min_df=2
