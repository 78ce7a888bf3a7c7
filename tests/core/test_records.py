"""The records between stages: exact round trips, and a clear error for a foreign file."""

import pytest

from shared.core.catalog import Catalog
from shared.core.records import (
    Calibration,
    EvaluationReport,
    Gate,
    GateCheck,
    PreparationReport,
    RecordError,
    TrainingReport,
)

TRAINING = TrainingReport(
    chosen="NB-SVM", params="C=3, word+char n-grams", model_description="NB-SVM (C=3)",
    reason="highest mean", cv_mean=0.8, cv_std=0.01, configurations_tried=12,
    search={"method": "grid"}, dataset="builtin", train_rows=768,
)


def evaluation_report() -> EvaluationReport:
    checks = [GateCheck("f1 >= 0.70", 0.73, True), GateCheck("beats the baseline", 0.4, True)]
    return EvaluationReport(
        threshold=0.5, test={"f1": 0.73, "roc_auc": float("nan")}, baseline={"f1": 0.0},
        intervals={"f1": {"low": 0.65, "high": 0.8}},
        calibration=Calibration("none", {"none": 0.2}, 0.19), slices=[], terms=[],
        training=TRAINING, problem={"primary_metric": "f1"}, gate=Gate.of(checks),
    )


def test_nested_records_round_trip_through_the_catalog(tmp_path):
    cat = Catalog.for_task("sentiment", tmp_path)
    report = evaluation_report()
    report.save(cat)
    back = EvaluationReport.load(cat)
    assert back.gate == report.gate and back.training == TRAINING
    assert back.test["roc_auc"] is None  # NaN is not JSON: it is stored as null
    assert back.primary_metric == "f1" and back.gate.verdict == "PASS"


def test_gate_fails_when_one_check_fails():
    gate = Gate.of([GateCheck("a", 1, True), GateCheck("b", 0, False)])
    assert not gate.passed and gate.verdict == "FAIL"
    assert [c.check for c in gate.failed] == ["b"]


def test_a_record_with_missing_or_unknown_fields_is_refused_by_name():
    payload = TRAINING.to_dict()
    del payload["reason"]
    payload["colour"] = "blue"
    with pytest.raises(RecordError, match=r"unknown field\(s\) \['colour'\].*missing "
                                          r"field\(s\) \['reason'\]"):
        TrainingReport.from_dict(payload)


def test_preparation_report_must_add_up():
    with pytest.raises(RecordError, match="10 rows in != 8 out"):
        PreparationReport(rows_in=10, texts_changed_by_cleaning=0, exact_duplicates_dropped=1,
                          rows_out=8)


def test_numpy_values_and_nan_become_plain_json():
    import numpy as np

    from shared.core.records import WindowSummary

    summary = WindowSummary("w", "b", {"a": np.float64(0.5), "b": float("nan"), "c": np.int64(3)},
                            [])
    figures = summary.to_dict()["figures"]
    assert figures == {"a": 0.5, "b": None, "c": 3} and type(figures["c"]) is int
