"""Drift statistics of a window against the reference: PSI, KS, the domain classifier."""

import numpy as np
import pandas as pd
import pytest

from shared.core.catalog import Catalog
from shared.core.storage import read_csv
from shared.data.tasks import get_task
from shared.monitoring import drift


def test_psi_is_zero_for_the_same_distribution():
    values = np.linspace(0.5, 1, 200)
    assert drift.population_stability_index(values, values) == pytest.approx(0, abs=1e-9)


def test_psi_grows_with_the_shift():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.5, 1, 1000)
    small = drift.population_stability_index(reference, rng.uniform(0.48, 0.98, 1000))
    large = drift.population_stability_index(reference, rng.uniform(0.5, 0.65, 1000))
    assert 0 < small < 0.25 < large


def test_psi_of_a_small_window_of_the_same_distribution_stays_low():
    rng = np.random.default_rng(1)
    reference = rng.uniform(0.5, 1, 200)
    calm = [drift.population_stability_index(reference, rng.uniform(0.5, 1, 40))
            for _ in range(50)]
    shifted = drift.population_stability_index(reference, rng.uniform(0.5, 0.65, 40))
    assert np.mean(calm) < 0.1 and np.quantile(calm, 0.9) < 0.25 < shifted


def test_psi_handles_a_constant_reference():
    reference = np.full(100, 0.9)
    assert drift.population_stability_index(reference, np.full(50, 0.9)) < 0.01
    assert drift.population_stability_index(reference, np.full(50, 0.6)) > 1


def test_domain_classifier_tells_other_domains_apart():
    reviews = read_csv(get_task("sentiment").builtin_dataset)["text"]
    drifted = Catalog.for_task("sentiment").read("drifted_batch")["text"]
    reference, same_domain = list(reviews[:150]), list(reviews[150:190])
    assert drift.domain_classifier_auc(reference, same_domain, seed=0) < 0.7
    assert drift.domain_classifier_auc(reference, list(drifted), seed=0) > 0.85
    assert np.isnan(drift.domain_classifier_auc(reference, ["one text"]))


def test_invalid_scores_counts_nan_and_values_outside_zero_one():
    assert drift.invalid_scores([0.0, 0.5, 1.0]) == 0
    assert drift.invalid_scores([np.nan, 1.0001, -0.2, 0.3]) == 3


def test_latency_p95_of_a_window():
    assert drift.latency_p95(np.arange(1, 101)) == pytest.approx(95.05)
    assert np.isnan(drift.latency_p95([]))


def test_model_age_is_in_whole_days_to_the_newest_prediction():
    import pandas as pd

    window = pd.DataFrame({"created_at": ["2025-01-01T12:00:00.000+00:00",
                                          "2025-03-02T11:59:00.000+00:00"]})
    assert drift.model_age_days("2025-01-01T12:00:00+00:00", window) == 59
    assert drift.model_age_days("2025-03-03T00:00:00+00:00", window) == 0


def test_rows_logged_with_an_error_count_as_invalid_scores_only():
    """A window where the model failed on every text (what an all-NaN model leaves in the
    log) still reports, and only the failure figures count the failed rows."""
    spec = get_task("sentiment").spec
    reference = drift.Reference(
        texts=["good film", "bad film"] * 20, confidences=np.linspace(0.5, 1, 40),
        lengths=np.full(40, 9.0), unknown_word_share=0.1,
        prior={"positive": 0.5, "negative": 0.5}, prior_source="test split")
    window = pd.DataFrame({
        "id": [1, 2, 3], "text": ["good", "x", "y"], "label": ["positive", "", ""],
        "confidence": [0.9, np.nan, np.nan], "score": [0.9, np.nan, 1.5],
        "text_length": [4, 1, 1], "latency_ms": [1.0, 0.0, 0.0],
        "unknown_word_share": [0.0, np.nan, np.nan],
        "error": ["", "the model returned an invalid score (nan)", "the model returned an "
                  "invalid score (1.5)"], "created_at": ["2026-01-01T00:00:00+00:00"] * 3,
    })
    report = drift.window_report(window, reference, spec)
    assert report["invalid_scores"] == 2 and report["scoring_errors"] == 2
    assert report["count"] == 1 and report["mean_confidence"] == pytest.approx(0.9)
    assert report["share_positive"] == 1.0  # the failed rows are not answers
    failed_only = drift.window_report(window.iloc[1:], reference, spec)
    assert failed_only["invalid_scores"] == 2 and failed_only["count"] == 0
