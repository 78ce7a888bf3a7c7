"""Retention: old predictions, feedback, quarantine, reports and the run history's copies of
texts go; recent ones stay."""

from __future__ import annotations

import os
import sqlite3
import time

from shared.core.catalog import Catalog
from shared.serving import prediction_log, retention
from shared.serving.prediction_log import LoggedPrediction


def _age_rows(path, days):
    """Make every prediction logged so far ``days`` days old."""
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime(time.time() - days * 86_400))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE predictions SET created_at = ?", (old,))


def test_retention_deletes_what_is_older_than_the_limit_and_keeps_the_rest(tmp_path):
    cat = Catalog.for_task("sentiment", tmp_path)
    log = cat.path("prediction_log")
    log.parent.mkdir(parents=True)
    _, old_ids = prediction_log.append(log, [LoggedPrediction("an old text", "positive", 0.9,
                                                              0.9, 1.0)], "v1", "test")
    prediction_log.add_feedback(log, old_ids[0], "positive")
    _age_rows(log, 40)
    prediction_log.append(log, [LoggedPrediction("a new text", "negative", 0.8, 0.2, 1.0)],
                          "v1", "test")
    reports = cat.reports_dir
    reports.mkdir(parents=True)
    (reports / "03_data_preparation.html").write_text("old page")
    (reports / "04_model_training.html").write_text("new page")
    (reports / "run.json").write_text("{}")
    quarantine = cat.path("quarantine")
    quarantine.parent.mkdir(parents=True)
    quarantine.write_text("row,reason\n")
    old_retrain, new_retrain = (cat.retrain_dir / "20260101T000000Z",
                                cat.retrain_dir / "20260301T000000Z")
    for record in (old_retrain, new_retrain):
        record.mkdir(parents=True)
        for name in ("feedback.csv", "quarantine.csv", "retrain.json"):
            (record / name).write_text("text\n")
    tracked = cat.tracked_files_dir / "0a1b" / "artifacts"
    for name in ("reports/05_model_evaluation.html", "model/reference_predictions.csv",
                 "model/model.skops", "outputs/metrics.json"):
        (tracked / name).parent.mkdir(parents=True, exist_ok=True)
        (tracked / name).write_text("a tracked copy")
    forty_days_ago = time.time() - 40 * 86_400
    for old in (reports / "03_data_preparation.html", reports / "run.json", quarantine,
                *old_retrain.iterdir(), *tracked.rglob("*.*")):
        os.utime(old, (forty_days_ago, forty_days_ago))

    counts = retention.apply(cat, 30)

    assert counts == {"predictions": 1, "feedback": 1, "quarantine": 1, "reports": 1,
                      "retrain files": 2, "run history files": 2}
    # a tracked run keeps its model and metrics; its copies of texts go
    assert sorted(p.name for p in tracked.rglob("*.*")) == ["metrics.json", "model.skops"]
    assert prediction_log.read(log)["text"].tolist() == ["a new text"]
    assert not quarantine.exists() and not (reports / "03_data_preparation.html").exists()
    assert (reports / "04_model_training.html").exists()
    assert (reports / "run.json").exists()  # the run record holds no texts
    # a retrain's feedback texts go; its record of counts and ids stays
    assert sorted(p.name for p in old_retrain.iterdir()) == ["retrain.json"]
    assert len(list(new_retrain.iterdir())) == 3
    assert set(retention.apply(cat, 30).values()) == {0}
