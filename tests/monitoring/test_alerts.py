"""Alert rules: each reads its limit from the spec; missing figures are left out."""

import numpy as np
import pandas as pd
import pytest

from shared.monitoring import alerts, drift
from shared.serving.predictor import Predictor


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
    assert fired.loc[fired["state"] != "not enough labels (0 of 20)", "fired"].all()
    assert fired.loc["live_f1", "state"] == "not enough labels (0 of 20)"
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
    assert "live_f1" not in fired  # no feedback: the live rule waits for labels, unfired


def test_live_rule_needs_enough_feedback(toy_model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = drift.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), toy_model, spec,
    )
    wrong = ["negative" if label == "positive" else "positive" for label in labels]
    few = drift.window_report(_window(texts, labels, [0.9] * 12, wrong), reference, spec)
    assert few["feedback_count"] == 12 and few["live_f1"] == 0
    waiting = alerts.alerts(few, spec).set_index("metric").loc["live_f1"]
    assert not waiting["fired"] and waiting["state"] == "not enough labels (12 of 20)"
    enough = alerts.alerts(few, spec.with_overrides(min_live_feedback=10)).set_index("metric")
    assert enough.loc["live_f1", "fired"] and enough.loc["live_f1", "threshold"] == spec.target


def test_without_stored_texts_the_domain_rule_is_left_out(toy_model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = drift.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), toy_model, spec,
    )
    window = _window(texts, labels, [0.9] * 12).assign(text=None, unknown_word_share=0.1)
    report = drift.window_report(window, reference, spec, toy_model)
    assert np.isnan(report["domain_auc"]) and report["unknown_word_share"] == pytest.approx(0.1)
    assert "domain_auc" not in set(alerts.alerts(report, spec)["metric"])


# -- the rules that compare with the deployment, each made to fire and kept quiet ---------
@pytest.fixture(scope="module")
def production(deployed_project):
    """The deployed model, its reference and a window of its answers to the new batch, as
    the log holds them (texts not stored, so no domain classifier), all labels fed back."""
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    reference = drift.load_reference(deployed_project, predictor.model, predictor.spec)
    new = deployed_project.read("new_batch")
    answers = predictor.predict(list(new["text"]))
    window = answers.assign(
        id=range(1, len(answers) + 1), created_at=predictor.manifest.deployed_at, text=None,
        text_length=new["text"].str.len(), true_label=new["label"])
    return predictor, reference, window


def _verdict(production, window, rule_threshold_field):
    """Whether the rule fired on ``window`` (None when it was left out of the table)."""
    predictor, reference, _ = production
    _, table = alerts.monitor({"w": window}, reference, predictor.spec, predictor.model,
                              predictor.manifest)
    rule = next(r for r in alerts.rules(predictor.spec)
                if r.threshold_field == rule_threshold_field)
    rows = table[table["rule"] == rule.description]
    return None if rows.empty else bool(rows["fired"].iloc[0])


def test_model_age_fires_after_max_model_age_days(production):
    _, _, window = production
    deployed = pd.Timestamp(production[0].manifest.deployed_at)
    limit = production[0].spec.max_model_age_days
    old = window.assign(created_at=(deployed + pd.Timedelta(days=limit + 1)).isoformat())
    young = window.assign(created_at=(deployed + pd.Timedelta(days=limit)).isoformat())
    assert _verdict(production, old, "max_model_age_days") is True
    assert _verdict(production, young, "max_model_age_days") is False


def test_latency_fires_above_the_multiple_of_the_deploy_time_p95(production):
    predictor, _, window = production
    p95 = predictor.manifest.latency_p95_ms
    slow = window.assign(latency_ms=p95 * (predictor.spec.max_latency_ratio + 1))
    usual = window.assign(latency_ms=p95)
    assert _verdict(production, slow, alerts.DEPLOY_LATENCY_LIMIT) is True
    assert _verdict(production, usual, alerts.DEPLOY_LATENCY_LIMIT) is False


def test_scores_out_of_range_fire_on_nan_or_outside_zero_one(production):
    _, _, window = production
    for bad in (np.nan, 1.2, -0.1):
        broken = window.assign(score=[bad, *window["score"].iloc[1:]])
        assert _verdict(production, broken, "max_invalid_scores") is True
    assert _verdict(production, window, "max_invalid_scores") is False


def test_live_metric_below_the_offline_interval_fires(production):
    predictor, _, window = production
    low = predictor.manifest.metrics.intervals["f1"]["low"]
    flipped = window.assign(true_label=np.where(window["label"] == "positive", "negative",
                                                "positive"))
    agreed = window.assign(true_label=window["label"])
    assert drift.live_metrics(flipped, predictor.spec)["live_f1"] < low
    assert _verdict(production, flipped, alerts.OFFLINE_INTERVAL_LOW) is True
    assert _verdict(production, agreed, alerts.OFFLINE_INTERVAL_LOW) is False


def test_without_the_manifest_the_deployment_rules_are_left_out(production):
    predictor, reference, window = production
    _, table = alerts.monitor({"w": window}, reference, predictor.spec, predictor.model)
    assert not {"model_age_days", "latency_p95_ms"} & set(table["metric"])
    assert (table["metric"] == "live_f1").sum() == 1  # the target rule only


def _spam_window(ham_flagged: int) -> pd.DataFrame:
    """25 ham and 5 spam with feedback; ``ham_flagged`` of the ham were answered 'spam'."""
    labels = ["spam"] * ham_flagged + ["ham"] * (25 - ham_flagged) + ["spam"] * 5
    return pd.DataFrame({"label": labels, "true_label": ["ham"] * 25 + ["spam"] * 5,
                         "score": np.where(np.array(labels) == "spam", 0.9, 0.1)})


def test_live_ham_blocked_fires_above_max_false_positive_rate(spam_spec):
    blocked = alerts.alerts(drift.live_metrics(_spam_window(2), spam_spec), spam_spec)
    row = blocked.set_index("metric").loc["live_false_positive_rate"]
    assert row["fired"] and row["value"] == pytest.approx(2 / 25)
    assert row["threshold"] == spam_spec.max_false_positive_rate
    calm = alerts.alerts(drift.live_metrics(_spam_window(0), spam_spec), spam_spec)
    assert not calm.set_index("metric").loc["live_false_positive_rate", "fired"]


def test_ham_blocked_needs_a_limit_in_the_spec(spec):
    assert "live_false_positive_rate" not in {r.metric for r in alerts.rules(spec)}
    assert "live_false_positive_rate" in {
        r.metric for r in alerts.rules(spec.with_overrides(max_false_positive_rate=0.1))}
