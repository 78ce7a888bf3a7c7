"""Stages 2 to 6 on the out-of-core engine end to end, on a few thousand texts (stages 4 and 5
through ``shared.scale.stages``, as the notebooks run them)."""

import numpy as np
import pandas as pd

from shared.core import modelfile
from shared.core.manifest import load_deployed
from shared.core.records import EvaluationReport, PreparationReport, TrainingReport
from shared.data import partitions
from shared.model.scoring import positive_scores
from shared.serving.predictor import Predictor


def test_every_stage_writes_its_artifacts(out_of_core_project):
    cat = out_of_core_project
    for name in ("raw_parts", "clean_parts", "train_parts", "test_parts", "trained_model",
                 "baseline_model", "cv_results", "oof_predictions", "training_report",
                 "final_model", "metrics", "reference_predictions", "manifest"):
        assert cat.path(name).exists(), name
    for name in ("raw_snapshot", "train", "test"):  # the in-memory files are not written
        assert not cat.path(name).exists(), name


def test_splits_are_disjoint_and_add_up(out_of_core_project):
    cat = out_of_core_project
    prepared = PreparationReport.load(cat)
    train = partitions.read_column(cat.path("train_parts"), "text")
    test = partitions.read_column(cat.path("test_parts"), "text")
    assert len(train) + len(test) == prepared.rows_out
    assert not set(train) & set(test)
    assert len(partitions.part_files(cat.path("train_parts"))) > 1


def test_the_model_is_a_trusted_pipeline_that_reloads_identically(out_of_core_project, tmp_path):
    cat = out_of_core_project
    model = cat.read("final_model")
    names = [name for name, _ in model.steps]  # an NB-SVM scales its features ("nb")
    assert names in (["clean", "normalise", "vocabulary", "features", "clf"],
                     ["clean", "normalise", "vocabulary", "features", "nb", "clf"])
    copy = modelfile.load_model(modelfile.save_model(model, tmp_path / "m.skops"))
    texts = ["a wonderful film", "cold food and awful service"]
    assert np.array_equal(copy.predict_proba(texts), model.predict_proba(texts))


def test_stage_five_shows_what_the_in_memory_stage_shows(out_of_core_project):
    report = EvaluationReport.load(out_of_core_project)
    test_rows = partitions.count_rows(out_of_core_project.path("test_parts"))
    assert report.test["support"] == test_rows
    assert set(report.intervals) >= {"accuracy", "f1", "roc_auc"}
    assert report.terms and {t["label"] for t in report.terms} == {"positive", "negative"}
    assert {s["slice"] for s in report.slices} == {"length", "source", "behaviour"}
    assert set(report.behaviour["pass_rates"]) == {"MFT", "INV", "DIR"}
    assert report.calibration.method in ("none", "sigmoid", "isotonic")
    assert report.test["accuracy"] > report.baseline["accuracy"]


def test_training_report_states_the_sample_epochs_and_holdout(out_of_core_project):
    report = TrainingReport.load(out_of_core_project)
    # the fixture's texts pair the same built-in reviews again and again: the search sample
    # keeps one text of each group of near-duplicates (shared.data.near_duplicates)
    assert 0 < report.search["sample_rows"] < 1000
    assert report.search["near_duplicates"] > 0
    assert report.search["sample_pool"] <= 3000
    assert report.search["engine"] == "out_of_core"
    assert report.search["epochs"] >= 1
    holdout = out_of_core_project.read("oof_predictions")
    assert len(holdout) == report.search["holdout_rows"] > 0
    train = set(partitions.read_column(out_of_core_project.path("train_parts"), "text"))
    assert set(holdout["text"]) <= train


def test_the_deployed_model_answers_with_an_unknown_word_share(out_of_core_project):
    predictor = Predictor.from_deployed(out_of_core_project.deployed_dir)
    answer = predictor.predict(["a wonderful film", "zxqv blorft wugga", "12345"])
    assert answer["error"].tolist()[:2] == ["", ""]
    assert answer["unknown_word_share"].tolist()[:2] == [0.0, 1.0]
    model, _ = load_deployed(out_of_core_project.deployed_dir)
    reference = out_of_core_project.read("deployed_reference")
    scores = positive_scores(model, reference["text"], "positive")
    assert np.array_equal(scores, reference["score"].to_numpy())
    assert isinstance(reference, pd.DataFrame) and len(reference) > 0
