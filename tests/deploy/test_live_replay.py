"""Models replayed on labelled live traffic: offline against online metric, and staleness."""

from __future__ import annotations

import pytest
from conftest import evaluate_small_model, train_small_model

from shared.core.records import TrainingReport
from shared.deploy import deployment, live_replay
from shared.model.metrics import binary_metrics
from shared.model.scoring import positive_scores
from shared.monitoring import drift
from shared.serving import prediction_log
from shared.serving.predictor import Predictor


@pytest.fixture(scope="module")
def study(deployed):
    return live_replay.degradation_study(deployed)


def test_online_metrics_equal_the_offline_figures_for_the_same_texts(deployed, tmp_path):
    predictor = Predictor.from_deployed(deployed.deployed_dir)
    live = deployed.read("new_batch")
    online = live_replay.online_metrics(predictor, list(live["text"]), list(live["label"]),
                                        tmp_path / "log.sqlite")
    offline = binary_metrics(live["label"], positive_scores(predictor.model, live["text"],
                             predictor.spec.positive_label), predictor.threshold,
                             predictor.spec.positive_label)
    assert online["feedback_count"] == len(live)
    for name in ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc"):
        assert online[f"live_{name}"] == pytest.approx(offline[name], abs=1e-12), name
    assert prediction_log.count(tmp_path / "log.sqlite") == len(live)


def test_the_study_scores_the_deployed_model_as_stage_5_did_and_weaker_models_lower(
        deployed, study):
    manifest = Predictor.from_deployed(deployed.deployed_dir).manifest
    table = study.table
    assert list(table["model"])[0] == "deployed model"
    assert table["offline f1"].iloc[0] == pytest.approx(manifest.metrics.test["f1"])
    assert len(table) == 1 + len(live_replay.FRACTIONS)
    assert set(table["online texts"]) == {len(deployed.read("new_batch"))}
    # the weakest model is the worst offline and online, the deployed one the best offline
    assert table["offline f1"].idxmin() == table["online f1"].idxmin() == 1
    assert table["offline f1"].idxmax() == 0
    assert study.rank_correlation >= live_replay.MIN_RANK_CORRELATION and study.agrees


def test_feedback_that_contradicts_the_test_split_makes_the_study_disagree(deployed):
    live = deployed.read("new_batch")
    flipped = live.assign(label=live["label"].map({"positive": "negative",
                                                   "negative": "positive"}))
    study = live_replay.degradation_study(deployed, fractions=(0.05, 0.25), live=flipped)
    assert study.rank_correlation < 0 and not study.agrees


def test_the_study_command_prints_the_table_and_the_verdict(deployed, capsys):
    assert live_replay.main(["study", "--task", "sentiment", "--root", str(deployed.root)]) == 0
    out = capsys.readouterr().out
    assert "deployed model" in out and "Spearman correlation of offline and online f1" in out
    assert out.rstrip().endswith(": agree")
    assert live_replay.main(["study", "--task", "sentiment", "--root", str(deployed.root),
                             "--min-rank-correlation", "1.01"]) == 1
    assert "DISAGREE" in capsys.readouterr().out


@pytest.fixture(scope="module")
def labelled_traffic(deployed):
    """A second release (C=1), then a labelled batch served by it and logged."""
    first = Predictor.from_deployed(deployed.deployed_dir).manifest
    evaluate_small_model(deployed, train_small_model(deployed, c=1.0))
    second = deployment.deploy(deployed, TrainingReport.load(deployed))
    live = deployed.read("new_batch")
    predictor = Predictor.from_deployed(deployed.deployed_dir)
    log_path = deployed.path("prediction_log")
    result, batch_id = predictor.predict_and_log(list(live["text"]), log_path, "test")
    prediction_log.add_feedback_many(log_path, zip(result["prediction_id"], live["label"],
                                                   strict=True))
    return first, second, batch_id


def test_every_release_is_replayed_on_the_same_traffic_and_nothing_is_logged(
        deployed, labelled_traffic):
    first, second, batch_id = labelled_traffic
    log_path = deployed.path("prediction_log")
    logged = prediction_log.count(log_path)
    table = live_replay.replay_releases(deployed, batch=batch_id)
    assert prediction_log.count(log_path) == logged
    assert list(table["release"][:2]) == [second.release, first.release]
    assert list(table["live"][:2]) == [True, False]
    assert set(table["texts"]) == {len(deployed.read("new_batch"))}
    assert list(table["offline"][:2]) == [second.metrics.test["f1"], first.metrics.test["f1"]]
    # the live release served this traffic: its replay is what the monitor measured
    served = drift.live_metrics(prediction_log.read(log_path, batch_id, with_feedback=True),
                                Predictor.from_deployed(deployed.deployed_dir).spec)
    assert table["online"].iloc[0] == pytest.approx(served["live_f1"], abs=1e-12)
    assert table["online"].iloc[0] != table["online"].iloc[1]  # two models, two answers
    assert set(table["age_days"]) == {0.0}


def test_replay_needs_labelled_texts(deployed, labelled_traffic, tmp_path):
    predictor = Predictor.from_deployed(deployed.deployed_dir)
    _, batch_id = predictor.predict_and_log(["an unlabelled review"],
                                            deployed.path("prediction_log"), "test")
    with pytest.raises(ValueError, match="no prediction with feedback.*POST /feedback"):
        live_replay.replay_releases(deployed, batch=batch_id)
    _, hashed = predictor.predict_and_log(["a private review"], deployed.path("prediction_log"),
                                          "test", store_text=False)
    ids = prediction_log.read(deployed.path("prediction_log"), hashed)["prediction_id"]
    prediction_log.add_feedback(deployed.path("prediction_log"), ids.iloc[0], "positive")
    with pytest.raises(ValueError, match="1 labelled predictions were logged with --hash-texts"):
        live_replay.replay_releases(deployed, batch=hashed)
    assert live_replay.main(["releases", "--task", "sentiment", "--root", str(deployed.root),
                             "--batch", batch_id]) == 2
