"""The search engine gives the scores of a GridSearchCV over the whole pipeline, faster."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_predict

from shared.core import names
from shared.core.catalog import Catalog
from shared.model import fold_features, models, search
from shared.model.decision import operating_score
from shared.model.scoring import positive_scores


@pytest.fixture(scope="module")
def corpus():
    reviews = Catalog.for_task("sentiment").read("new_batch")  # 60 labelled reviews
    frame = pd.concat([reviews, Catalog.for_task("sentiment").read("drifted_batch")])
    return frame["text"].tolist() * 2, frame["label"].tolist() * 2


def some_candidates(normaliser=None):
    return [c for c in models.candidates(0, normaliser=normaliser)
            if c.name in ("complement naive Bayes", "logistic regression", "NB-SVM")]


def test_scores_equal_a_grid_search_over_the_whole_pipeline(spec, corpus):
    """With the text path in every pipeline: the search fits it per fold, as the pipeline
    itself does inside GridSearchCV."""
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3, gender_augmentation=False)
    normaliser = models.text_normaliser(spec)
    configs = search.configurations(some_candidates(normaliser), "quick", "grid", 4, spec.seed)
    result = search.run(configs, texts, labels, spec, n_jobs=1)

    def scorer(estimator, x, y):
        return operating_score(y, positive_scores(estimator, x, spec.positive_label), spec)

    for candidate in some_candidates(normaliser):
        grid = GridSearchCV(candidate.pipeline, candidate.grids["quick"], scoring=scorer,
                            cv=search.folds(spec), refit=False).fit(texts, labels)
        mine = result.table[result.table["model"] == candidate.name]
        for k in range(spec.cv_folds):
            assert np.array_equal(grid.cv_results_[f"split{k}_test_score"],
                                  mine["fold_scores"].map(lambda s, k=k: s[k]).to_numpy())


def test_gender_augmentation_adds_swapped_copies_to_each_training_fold_only(spec, corpus):
    texts, labels = corpus
    texts = [*texts, "My husband loved it, he said it was great.", "His wife hated it."] * 2
    labels = [*labels, "positive", "negative"] * 2
    spec = spec.with_overrides(cv_folds=3, gender_augmentation=True)
    configs = search.configurations(some_candidates()[1:2], "quick", "grid", 4, spec.seed)
    result = search.run(configs[:1], texts, labels, spec, n_jobs=1)
    splits = list(search.folds(spec).split(np.zeros(len(labels)), labels))
    every, every_label, augmented = names.gender_augmented(texts, np.array(labels), splits)
    assert len(every) > len(texts) and all(len(a[0]) > len(s[0]) for a, s in zip(
        augmented, splits, strict=True) if any(names.gender_swap(texts[i]) for i in s[0]))
    expected = np.zeros(len(texts))
    for (_, valid), (aug_train, _) in zip(splits, augmented, strict=True):
        fitted = configs[0].pipeline.fit([every[i] for i in aug_train], every_label[aug_train])
        expected[valid] = positive_scores(fitted, [texts[i] for i in valid], "positive")
    assert np.array_equal(result.oof[0], expected)


def test_out_of_fold_scores_come_from_the_search(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3, gender_augmentation=False)
    configs = search.configurations(some_candidates()[1:2], "quick", "grid", 4, spec.seed)
    result = search.run(configs, texts, labels, spec, n_jobs=1)
    for index, row in result.table.iterrows():
        pipeline = search.Configuration(configs[row["config"]].candidate, row["raw_params"])
        expected = cross_val_predict(pipeline.pipeline, texts, labels, cv=search.folds(spec),
                                     method="predict_proba")[:, 1]
        assert np.array_equal(result.oof[index], expected)


def test_parallel_fits_give_the_same_answers(spec, corpus):
    """Two configurations of each family on 3 folds: enough for the processes to share the
    fits out of order (each worker starting takes seconds on two busy cores)."""
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    configs = [config for candidate in some_candidates()
               for config in search.configurations([candidate], "quick", "grid", 4,
                                                   spec.seed)[:2]]
    one = search.run(configs, texts, labels, spec, n_jobs=1).table
    two = search.run(configs, texts, labels, spec, n_jobs=2).table
    assert len(one) == 6 and one["fold_scores"].tolist() == two["fold_scores"].tolist()


def test_learning_curve_fits_the_first_part_of_each_fold_and_reuses_the_search(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3, gender_augmentation=False)
    config = search.configurations(some_candidates()[1:2], "quick", "grid", 4, 0)[0]
    searched = search.run([config], texts, labels, spec, n_jobs=1).table.iloc[0].to_dict()
    curve = search.learning_curve(config, texts, labels, spec, (0.5, 1.0), n_jobs=1,
                                  searched=searched)
    assert curve["valid_mean"].iloc[-1] == pytest.approx(np.mean(searched["fold_scores"]))
    scores, train_scores = [], []
    for train, valid in search.folds(spec).split(texts, labels):
        part = train[:int(0.5 * len(train))]
        model = config.pipeline.fit([texts[i] for i in part], [labels[i] for i in part])
        for rows, kept in ((valid, scores), (part, train_scores)):
            predicted = positive_scores(model, [texts[i] for i in rows], spec.positive_label)
            kept.append(operating_score([labels[i] for i in rows], predicted, spec))
    assert curve["valid_mean"].iloc[0] == pytest.approx(np.mean(scores))
    assert curve["train_std"].iloc[0] == pytest.approx(np.std(train_scores))
    assert curve["train_size"].tolist()[0] < curve["train_size"].tolist()[1]


@pytest.mark.parametrize(("candidates", "texts", "per_fold", "rounds"), [
    (112, 8529, 20, [105, 315, 945, 2835, 8529]),
    (17, 768, 20, [256, 768]),  # a first subset of 768 // 9 texts would be under 20 a fold
    (1, 50, 20, [50]),
    (3, 4000, 20, [1333, 4000]),
    (112, 8529, 150, [947, 2841, 8529]),  # the default: at least 750 texts in the first round
    (112, 4126, 150, [1375, 4126]),
])
def test_halving_rounds(candidates, texts, per_fold, rounds):
    assert search.halving_rounds(candidates, texts, folds=5, min_texts_per_fold=per_fold) == rounds


def test_halving_keeps_the_best_third_and_ends_on_every_text(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=2)
    configs = search.configurations(some_candidates(), "quick", "grid", 4, spec.seed)
    result = search.run(configs, texts, labels, spec, halving={c.name for c in some_candidates()},
                        n_jobs=1, min_texts_per_fold=10)
    table = result.table
    counts = table.groupby("round").size().tolist()
    assert counts[0] == len(configs)
    shrinking = zip(counts, counts[1:], strict=False)
    assert all(later == -(-earlier // search.FACTOR) for earlier, later in shrinking)
    assert table.loc[table["round"] == table["round"].max(), "texts"].eq(len(texts)).all()
    assert set(result.oof) == set(result.final().index)
    # the survivors of a round were the best of the round before
    first = table[table["round"] == 1].sort_values("mean", ascending=False)
    assert set(table[table["round"] == 2]["config"]) <= set(first["config"].head(counts[1] + 1))


def test_random_search_draws_n_iter_per_model():
    configs = search.configurations(models.candidates(0)[1:2], "full", "random", 3, 42)
    assert len(configs) == 3
    again = search.configurations(models.candidates(0)[1:2], "full", "random", 3, 42)
    assert [c.params for c in configs] == [c.params for c in again]
    with pytest.raises(ValueError, match="search='exhaustive'"):
        search.configurations(models.candidates(0), "full", "exhaustive", 3, 42)


def test_convergence_warnings_are_recorded(spec, corpus):
    texts, labels = corpus
    stubborn = models.Candidate("lr", "max_iter 1", 2, models.text_pipeline(
        LogisticRegression(max_iter=1)), {"quick": {"clf__C": [100.0]}})
    configs = search.configurations([stubborn], "quick", "grid", 4, 0)
    row = search.run(configs, texts, labels, spec, n_jobs=1).table.iloc[0]
    assert row["convergence_warnings"] and "iter" in row["convergence_warnings"][0]


def test_read_only_matrices_from_joblib_are_not_changed_in_place(spec, corpus):
    texts, labels = corpus
    features = fold_features.FoldFeatures(texts, list(search.folds(spec).split(texts, labels)))
    config = search.configurations(models.candidates(0)[3:4], "quick", "grid", 4, 0)[0]
    features.prepare([config.pipeline], n_jobs=1)
    train, valid = features.parts(config.pipeline, 0)[0]
    for matrix in (train, valid):
        for array in (matrix.data, matrix.indices, matrix.indptr):
            array.flags.writeable = False  # as a joblib memory map arrives
    stacked_train, _ = fold_features.stack([(train, valid)])
    assert stacked_train.data.flags.writeable
    nb_svm = search._label_steps(config.pipeline)
    nb_svm.fit(stacked_train, np.asarray(labels)[features.folds[0][0]])


def test_only_the_halved_families_go_through_rounds(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=2)
    configs = search.configurations(some_candidates(), "quick", "grid", 4, spec.seed)
    result = search.run(configs, texts, labels, spec, halving={"NB-SVM"}, n_jobs=1,
                        min_texts_per_fold=10)
    table = result.table
    early = table[table["texts"] < len(texts)]
    assert set(early["model"]) == {"NB-SVM"}
    final = result.final()
    others = [c for c in configs if c.candidate.name != "NB-SVM"]
    assert len(final) == len(others) + -(-4 // search.FACTOR)  # the grid, and the halving winners
    plain = search.run(configs, texts, labels, spec, n_jobs=1).table
    for _, row in final[final["model"] != "NB-SVM"].iterrows():
        same = plain[(plain["model"] == row["model"]) & (plain["params"] == row["params"])]
        assert same["fold_scores"].iloc[0] == row["fold_scores"]


def test_a_forest_grown_from_fewer_trees_is_the_forest_a_fresh_fit_gives(spec, corpus):
    texts, labels = corpus
    spec = spec.with_overrides(cv_folds=3)
    forest = next(c for c in models.candidates(0) if c.name == "random forest")
    grid = {"clf__n_estimators": [20, 5, 10], "clf__max_features": ["sqrt", "log2"]}
    configs = [search.Configuration(forest, dict(p)) for p in search.ParameterGrid(grid)]
    order, grows = search._growth(configs)
    grown = {(configs[i].params["clf__max_features"], configs[i].params["clf__n_estimators"]):
             None if grows[i] is None else configs[grows[i]].params["clf__n_estimators"]
             for i in order}
    assert grown == {("sqrt", 5): None, ("sqrt", 10): 5, ("sqrt", 20): 10,
                     ("log2", 5): None, ("log2", 10): 5, ("log2", 20): 10}
    together, oof_together = search.cross_validate(configs, texts, labels, spec, n_jobs=1)
    for config, row, oof in zip(configs, together, oof_together, strict=True):
        [alone], [oof_alone] = search.cross_validate([config], texts, labels, spec, n_jobs=1)
        assert row["fold_scores"] == alone["fold_scores"]
        assert row["train_fold_scores"] == alone["train_fold_scores"]
        assert np.array_equal(oof, oof_alone)  # bit for bit
