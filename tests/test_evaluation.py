"""Stage 5's evaluation: the gate, error analysis, intervals and slices."""

import numpy as np
import pandas as pd

from shared import evaluation
from shared.metrics import brier_score


def test_gate(spec):
    metrics, baseline = {"f1": 0.75, "false_positive_rate": 0.2}, {"f1": 0.5}
    assert evaluation.gate(metrics, baseline, spec).passed
    assert not evaluation.gate({**metrics, "f1": 0.6}, baseline, spec).passed


def test_gate_checks_ham_blocked_for_spam(spam_spec):
    metrics = {"recall": 0.95, "false_positive_rate": 0.05}
    result = evaluation.gate(metrics, {"recall": 0.0}, spam_spec)
    assert not result.passed
    assert [c.passed for c in result.checks] == [True, True, False]


def test_worst_errors_are_confident_mistakes(spec):
    texts = ["a", "b", "c", "d"]
    y = ["positive", "negative", "negative", "positive"]
    scores = np.array([0.9, 0.95, 0.6, 0.2])
    worst = evaluation.worst_errors(texts, y, scores, 0.5, spec, n=5)
    assert worst["text"].tolist() == ["b", "d", "c"]
    assert worst["confidence"].is_monotonic_decreasing


def test_bootstrap_intervals_contain_the_estimate_and_shrink_with_size(spec):
    rng = np.random.default_rng(1)

    def width(n):
        y = np.where(rng.random(n) < 0.5, "positive", "negative")
        scores = np.clip((y == "positive") * 0.3 + rng.random(n) * 0.7, 0, 1)
        table = evaluation.bootstrap_intervals(y, scores, 0.5, spec, n_resamples=300)
        assert (table["low"] <= table["value"]).all() and (table["value"] <= table["high"]).all()
        return (table["high"] - table["low"])["f1"]

    assert width(2000) < width(100)


def test_bootstrap_is_seeded(spec):
    y = ["positive", "negative"] * 20
    scores = np.linspace(0, 1, 40)
    a = evaluation.bootstrap_intervals(y, scores, 0.5, spec, n_resamples=200)
    b = evaluation.bootstrap_intervals(y, scores, 0.5, spec, n_resamples=200)
    assert a.equals(b)


def test_brier_and_reliability(spec):
    y = ["positive", "negative", "positive", "negative"]
    assert brier_score(y, np.array([1.0, 0.0, 1.0, 0.0]), "positive") == 0
    table = evaluation.reliability_table(y, np.array([0.95, 0.05, 0.9, 0.1]), spec)
    assert table["count"].sum() == 4 and table["observed"].tolist() == [0.0, 0.0, 1.0]


def test_slices_cover_every_text_once_per_kind(spec):
    frame = pd.DataFrame({
        "text": ["good", "a b c d e f g h i j k l", "bad", "x " * 60],
        "label": ["positive", "negative", "negative", "positive"],
        "source": ["film", "film", "product", "product"],
    })
    table = evaluation.slice_metrics(frame, np.array([0.9, 0.2, 0.4, 0.3]), 0.5, spec)
    assert table.loc["length", "texts"].sum() == 4
    assert table.loc["source", "texts"].sum() == 4
    assert list(table.loc["length"].index) == ["<= 10 words", "11-25 words", "> 50 words"]

