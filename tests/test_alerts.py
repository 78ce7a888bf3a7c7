"""Alert rules: each reads its limit from the spec; missing figures are left out."""

import numpy as np
import pandas as pd
import pytest

from shared import alerts, drift


def _window(texts, labels, confidences, true_labels=None):
    frame = pd.DataFrame({
        "id": range(1, len(texts) + 1), "text": texts, "text_length": [len(t) for t in texts],
        "label": labels, "confidence": confidences, "score": confidences,
        "unknown_word_share": np.nan,
    })
    if true_labels is not None:
        frame["true_label"] = true_labels
    return frame


def test_confidence_alerts_read_the_spec(spec):
    reference = np.full(100, 0.9)
    calm = drift.confidence_report(np.full(50, 0.9), reference, spec)
    worried = drift.confidence_report(np.full(50, 0.52), reference, spec)
    assert not alerts.alerts(calm, spec)["fired"].any()
    fired = alerts.alerts(worried, spec).set_index("metric")
    assert fired["fired"].all()
    assert fired.loc["low_confidence_share", "threshold"] == spec.max_low_confidence_share
    assert fired.loc["mean_confidence", "threshold"] == spec.confidence_threshold
    assert fired.loc["confidence_psi", "threshold"] == spec.max_confidence_psi
    lenient = spec.with_overrides(max_low_confidence_share=1.0, confidence_threshold=0.5,
                                  max_confidence_psi=100.0, min_ks_pvalue=0.0)
    assert not alerts.alerts(worried, lenient)["fired"].any()


def test_window_report_and_alerts(toy_model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = drift.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), toy_model, spec,
    )
    assert reference.prior == {"negative": 0.5, "positive": 0.5}
    familiar = _window(texts * 3, labels * 3, [0.9] * 36, labels * 3)
    report = drift.window_report(familiar, reference, spec, toy_model)
    assert report["count"] == 36 and report["label_shift"] == 0
    assert report["unknown_word_share"] == 0 and report["live_accuracy"] == 1
    table = alerts.alerts(report, spec)
    assert not table["fired"].any()
    assert "live_f1" in set(table["metric"])
    foreign_texts = ["servidor caído otra vez, reinicio pendiente"] * 30
    foreign = _window(foreign_texts, ["negative"] * 30, [0.55] * 30)
    fired = alerts.alerts(drift.window_report(foreign, reference, spec, toy_model), spec)
    fired = set(fired.loc[fired["fired"], "metric"])
    assert {"unknown_word_share", "label_shift", "low_confidence_share", "mean_confidence",
            "length_ks_pvalue"} <= fired
    assert "live_f1" not in fired  # no feedback: the live rule is left out


def test_live_rule_needs_enough_feedback(toy_model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = drift.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), toy_model, spec,
    )
    wrong = ["negative" if label == "positive" else "positive" for label in labels]
    few = drift.window_report(_window(texts, labels, [0.9] * 12, wrong), reference, spec)
    assert few["feedback_count"] == 12 and few["live_f1"] == 0
    assert "live_f1" not in set(alerts.alerts(few, spec)["metric"])
    enough = alerts.alerts(few, spec.with_overrides(min_live_feedback=10)).set_index("metric")
    assert enough.loc["live_f1", "fired"] and enough.loc["live_f1", "threshold"] == spec.target


def test_split_windows_counts_back_from_the_newest():
    log = pd.DataFrame({"id": range(1, 121)})
    windows = alerts.split_windows(log, 50)
    assert [(w["id"].min(), w["id"].max()) for w in windows] == [(21, 70), (71, 120)]
    assert [len(w) for w in alerts.split_windows(log, 50, count=1)] == [50]
    assert [len(w) for w in alerts.split_windows(log.head(30), 50)] == [30]
    assert alerts.window_name(windows[-1]) == "predictions 71-120"



def test_without_stored_texts_the_domain_rule_is_left_out(toy_model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = drift.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), toy_model, spec,
    )
    window = _window(texts, labels, [0.9] * 12).assign(text=None, unknown_word_share=0.1)
    report = drift.window_report(window, reference, spec, toy_model)
    assert np.isnan(report["domain_auc"]) and report["unknown_word_share"] == pytest.approx(0.1)
    assert "domain_auc" not in set(alerts.alerts(report, spec)["metric"])
