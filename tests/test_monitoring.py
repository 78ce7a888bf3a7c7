import numpy as np
import pytest

from shared import monitoring


def test_psi_is_zero_for_the_same_distribution():
    values = np.linspace(0.5, 1, 200)
    assert monitoring.population_stability_index(values, values) == pytest.approx(0, abs=1e-9)


def test_psi_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.5, 1, 1000)
    small = monitoring.population_stability_index(reference, rng.uniform(0.48, 0.98, 1000))
    large = monitoring.population_stability_index(reference, rng.uniform(0.5, 0.65, 1000))
    assert 0 < small < 0.25 < large


def test_alert_fires_on_low_confidence(spec):
    reference = np.full(100, 0.9)
    calm = monitoring.confidence_report(np.full(50, 0.85), reference, spec)
    worried = monitoring.confidence_report(np.full(50, 0.52), reference, spec)
    assert not monitoring.alerts(calm, spec)["fired"].any()
    fired = monitoring.alerts(worried, spec)
    assert fired["fired"].all()
    assert (fired["threshold"] == [spec.max_low_confidence_share, spec.confidence_threshold]).all()


def test_unknown_word_share_and_its_alert(spec, toy_corpus):
    from shared.models import tfidf_logistic_regression

    texts, labels = toy_corpus
    model = tfidf_logistic_regression(seed=0).fit(texts, labels)
    shares = monitoring.unknown_word_share(model, ["great film", "great zorblax", "qwe rty", ""])
    assert shares.tolist() == [0.0, 0.5, 1.0, 1.0]
    familiar = monitoring.batch_report(model, texts, [0.9] * 12, texts, [0.9] * 12, spec)
    foreign = monitoring.batch_report(model, ["servidor caído otra vez"] * 3, [0.9] * 3,
                                      texts, [0.9] * 12, spec)
    rule = "share of words unknown to the model"
    assert not monitoring.alerts(familiar, spec).set_index("rule").loc[rule, "fired"]
    assert monitoring.alerts(foreign, spec).set_index("rule").loc[rule, "fired"]
