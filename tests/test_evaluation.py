import numpy as np
import pytest

from shared import evaluation


def test_binary_metrics_by_hand(spec):
    y = ["positive", "positive", "negative", "negative", "positive"]
    scores = np.array([0.9, 0.4, 0.6, 0.1, 0.7])
    m = evaluation.binary_metrics(y, scores, 0.5, spec)
    assert (m["true_positives"], m["false_positives"]) == (2, 1)
    assert (m["false_negatives"], m["true_negatives"]) == (1, 1)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["false_positive_rate"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(0.6)


def test_positive_scores_follow_the_positive_label(spec, toy_corpus):
    from shared.models import tfidf_logistic_regression

    texts, labels = toy_corpus
    model = tfidf_logistic_regression(seed=0).fit(texts, labels)
    scores = evaluation.positive_scores(model, ["wonderful great", "awful terrible"], spec)
    assert scores[0] > 0.5 > scores[1]


def test_fixed_rule_keeps_the_spec_threshold(spec):
    assert evaluation.choose_threshold(["positive", "negative"], np.array([0.9, 0.2]), spec) == 0.5


def test_recall_rule_respects_the_ham_limit(spam_spec):
    spec = spam_spec.with_overrides(max_false_positive_rate=0.1)
    rng = np.random.default_rng(0)
    y = np.array(["spam"] * 50 + ["ham"] * 200)
    scores = np.concatenate([rng.uniform(0.3, 1, 50), rng.uniform(0, 0.7, 200)])
    threshold = evaluation.choose_threshold(y, scores, spec)
    m = evaluation.binary_metrics(y, scores, threshold, spec)
    assert m["false_positive_rate"] <= 0.1
    # one step lower would break the limit or gain no recall
    lower = scores[scores < threshold].max()
    m_lower = evaluation.binary_metrics(y, scores, lower, spec)
    assert m_lower["false_positive_rate"] > 0.1 or m_lower["recall"] == m["recall"]


def test_recall_rule_with_zero_tolerance_blocks_no_ham(spam_spec):
    spec = spam_spec.with_overrides(max_false_positive_rate=0.0)
    y = ["spam", "ham", "spam", "ham"]
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    threshold = evaluation.choose_threshold(y, scores, spec)
    assert threshold == pytest.approx(0.9)


def test_gate(spec):
    metrics, baseline = {"f1": 0.75, "false_positive_rate": 0.2}, {"f1": 0.5}
    assert evaluation.gate(metrics, baseline, spec)["passed"]
    assert not evaluation.gate({**metrics, "f1": 0.6}, baseline, spec)["passed"]


def test_gate_checks_ham_blocked_for_spam(spam_spec):
    metrics = {"recall": 0.95, "false_positive_rate": 0.05}
    result = evaluation.gate(metrics, {"recall": 0.0}, spam_spec)
    assert not result["passed"]
    assert [c["passed"] for c in result["checks"]] == [True, True, False]


def test_worst_errors_are_confident_mistakes(spec):
    texts = ["a", "b", "c", "d"]
    y = ["positive", "negative", "negative", "positive"]
    scores = np.array([0.9, 0.95, 0.6, 0.2])
    worst = evaluation.worst_errors(texts, y, scores, 0.5, spec, n=5)
    assert worst["text"].tolist() == ["b", "d", "c"]
    assert worst["confidence"].is_monotonic_decreasing


def test_confidence_is_probability_of_predicted_label():
    assert evaluation.confidence(np.array([0.9, 0.2]), 0.5).tolist() == pytest.approx([0.9, 0.8])


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
    assert evaluation.brier_score(y, np.array([1.0, 0.0, 1.0, 0.0]), spec) == 0
    table = evaluation.reliability_table(y, np.array([0.95, 0.05, 0.9, 0.1]), spec)
    assert table["count"].sum() == 4 and table["observed"].tolist() == [0.0, 0.0, 1.0]


def test_slices_cover_every_text_once_per_kind(spec):
    import pandas as pd

    frame = pd.DataFrame({
        "text": ["good", "a b c d e f g h i j k l", "bad", "x " * 60],
        "label": ["positive", "negative", "negative", "positive"],
        "source": ["film", "film", "product", "product"],
    })
    table = evaluation.slice_metrics(frame, np.array([0.9, 0.2, 0.4, 0.3]), 0.5, spec)
    assert table.loc["length", "texts"].sum() == 4
    assert table.loc["source", "texts"].sum() == 4
    assert list(table.loc["length"].index) == ["<= 10 words", "11-25 words", "> 50 words"]
