import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from shared import catalog, monitoring
from shared.tasks import get_task
from shared.text import TextCleaner


def _pipeline(features=None, classifier=None) -> Pipeline:
    return Pipeline([
        ("clean", TextCleaner()),
        ("features", features or TfidfVectorizer(ngram_range=(1, 2))),
        ("clf", classifier or LogisticRegression()),
    ])


@pytest.fixture
def model(toy_corpus):
    return _pipeline().fit(*toy_corpus)


def test_psi_is_zero_for_the_same_distribution():
    values = np.linspace(0.5, 1, 200)
    assert monitoring.population_stability_index(values, values) == pytest.approx(0, abs=1e-9)


def test_psi_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.5, 1, 1000)
    small = monitoring.population_stability_index(reference, rng.uniform(0.48, 0.98, 1000))
    large = monitoring.population_stability_index(reference, rng.uniform(0.5, 0.65, 1000))
    assert 0 < small < 0.25 < large


def test_psi_of_a_small_window_of_the_same_distribution_stays_low():
    rng = np.random.default_rng(1)
    reference = rng.uniform(0.5, 1, 200)
    calm = [monitoring.population_stability_index(reference, rng.uniform(0.5, 1, 40))
            for _ in range(50)]
    shifted = monitoring.population_stability_index(reference, rng.uniform(0.5, 0.65, 40))
    assert np.mean(calm) < 0.1 and np.quantile(calm, 0.9) < 0.25 < shifted


def test_psi_handles_a_constant_reference():
    reference = np.full(100, 0.9)
    assert monitoring.population_stability_index(reference, np.full(50, 0.9)) < 0.01
    assert monitoring.population_stability_index(reference, np.full(50, 0.6)) > 1


def test_confidence_alerts_read_the_spec(spec):
    reference = np.full(100, 0.9)
    calm = monitoring.confidence_report(np.full(50, 0.9), reference, spec)
    worried = monitoring.confidence_report(np.full(50, 0.52), reference, spec)
    assert not monitoring.alerts(calm, spec)["fired"].any()
    fired = monitoring.alerts(worried, spec).set_index("metric")
    assert fired["fired"].all()
    assert fired.loc["low_confidence_share", "threshold"] == spec.max_low_confidence_share
    assert fired.loc["mean_confidence", "threshold"] == spec.confidence_threshold
    assert fired.loc["confidence_psi", "threshold"] == spec.max_confidence_psi
    lenient = spec.with_overrides(max_low_confidence_share=1.0, confidence_threshold=0.5,
                                  max_confidence_psi=100.0, min_ks_pvalue=0.0)
    assert not monitoring.alerts(worried, lenient)["fired"].any()


def test_unknown_word_share(model):
    shares = monitoring.unknown_word_share(model, ["great film", "great zorblax", "qwe rty", ""])
    assert shares.tolist() == [0.0, 0.5, 1.0, 1.0]


@pytest.mark.parametrize("kind", ["feature union", "calibrated wrapper", "calibrated step"])
def test_unknown_word_share_finds_the_vocabulary_of_every_model_family(kind, toy_corpus):
    texts, labels = toy_corpus
    if kind == "feature union":
        model = _pipeline(FeatureUnion([
            ("word", TfidfVectorizer()),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3))),
        ]))
    elif kind == "calibrated wrapper":
        model = CalibratedClassifierCV(_pipeline(), cv=2)
    else:
        model = _pipeline(classifier=CalibratedClassifierCV(LinearSVC(), cv=2))
    model.fit(texts, labels)
    assert monitoring.unknown_word_share(model, ["great film", "qwe rty"]).tolist() == [0.0, 1.0]


def test_domain_classifier_tells_other_domains_apart():
    reviews = catalog.read_csv(get_task("sentiment").builtin_dataset)["text"]
    drifted = catalog.read_csv(get_task("sentiment").drifted_batch)["text"]
    reference, same_domain = list(reviews[:150]), list(reviews[150:190])
    assert monitoring.domain_classifier_auc(reference, same_domain, seed=0) < 0.7
    assert monitoring.domain_classifier_auc(reference, list(drifted), seed=0) > 0.85
    assert np.isnan(monitoring.domain_classifier_auc(reference, ["one text"]))


def _window(texts, labels, confidences, true_labels=None):
    frame = pd.DataFrame({
        "id": range(1, len(texts) + 1), "text": texts, "text_length": [len(t) for t in texts],
        "label": labels, "confidence": confidences, "score": confidences,
        "unknown_word_share": np.nan,
    })
    if true_labels is not None:
        frame["true_label"] = true_labels
    return frame


def test_window_report_and_alerts(model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = monitoring.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), model, spec,
    )
    assert reference.prior == {"negative": 0.5, "positive": 0.5}
    familiar = _window(texts * 3, labels * 3, [0.9] * 36, labels * 3)
    report = monitoring.window_report(familiar, reference, spec, model)
    assert report["count"] == 36 and report["label_shift"] == 0
    assert report["unknown_word_share"] == 0 and report["live_accuracy"] == 1
    table = monitoring.alerts(report, spec)
    assert not table["fired"].any()
    assert "live_f1" in set(table["metric"])
    foreign_texts = ["servidor caído otra vez, reinicio pendiente"] * 30
    foreign = _window(foreign_texts, ["negative"] * 30, [0.55] * 30)
    fired = monitoring.alerts(monitoring.window_report(foreign, reference, spec, model), spec)
    fired = set(fired.loc[fired["fired"], "metric"])
    assert {"unknown_word_share", "label_shift", "low_confidence_share", "mean_confidence",
            "length_ks_pvalue"} <= fired
    assert "live_f1" not in fired  # no feedback: the live rule is left out


def test_live_rule_needs_enough_feedback(model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = monitoring.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), model, spec,
    )
    wrong = ["negative" if label == "positive" else "positive" for label in labels]
    few = monitoring.window_report(_window(texts, labels, [0.9] * 12, wrong), reference, spec)
    assert few["feedback_count"] == 12 and few["live_f1"] == 0
    assert "live_f1" not in set(monitoring.alerts(few, spec)["metric"])
    enough = monitoring.alerts(few, spec.with_overrides(min_live_feedback=10)).set_index("metric")
    assert enough.loc["live_f1", "fired"] and enough.loc["live_f1", "threshold"] == spec.target


def test_without_stored_texts_the_domain_rule_is_left_out(model, spec, toy_corpus):
    texts, labels = toy_corpus
    reference = monitoring.Reference.build(
        pd.DataFrame({"text": texts, "label": labels, "confidence": [0.9] * 12}), model, spec,
    )
    window = _window(texts, labels, [0.9] * 12).assign(text=None, unknown_word_share=0.1)
    report = monitoring.window_report(window, reference, spec, model)
    assert np.isnan(report["domain_auc"]) and report["unknown_word_share"] == pytest.approx(0.1)
    assert "domain_auc" not in set(monitoring.alerts(report, spec)["metric"])


def test_split_windows_counts_back_from_the_newest():
    log = pd.DataFrame({"id": range(1, 121)})
    windows = monitoring.split_windows(log, 50)
    assert [(w["id"].min(), w["id"].max()) for w in windows] == [(21, 70), (71, 120)]
    assert [len(w) for w in monitoring.split_windows(log, 50, count=1)] == [50]
    assert [len(w) for w in monitoring.split_windows(log.head(30), 50)] == [30]
    assert monitoring.window_name(windows[-1]) == "predictions 71-120"


def test_as_json_drops_nan_and_numpy_types():
    clean = monitoring.as_json({"a": np.float64(0.5), "b": float("nan"), "c": np.int64(3)})
    assert clean == {"a": 0.5, "b": None, "c": 3}
    assert type(clean["c"]) is int
