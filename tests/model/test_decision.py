"""The decision rule picks the threshold on validation scores."""

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import beta

from shared.model.decision import choose_threshold, most_blocked, operating_score
from shared.model.metrics import METRIC_NAMES, RATE_NAMES, binary_metrics, rates


def test_fixed_rule_keeps_the_spec_threshold(spec):
    assert choose_threshold(["positive", "negative"], np.array([0.9, 0.2]), spec) == 0.5


def test_recall_rule_respects_the_ham_limit(spam_spec):
    spec = replace(spam_spec, max_false_positive_rate=0.1, threshold_confidence=None)
    rng = np.random.default_rng(0)
    y = np.array(["spam"] * 50 + ["ham"] * 200)
    scores = np.concatenate([rng.uniform(0.3, 1, 50), rng.uniform(0, 0.7, 200)])
    threshold = choose_threshold(y, scores, spec)
    m = binary_metrics(y, scores, threshold, spec.positive_label)
    assert m["false_positive_rate"] <= 0.1
    # one step lower would break the limit or gain no recall
    lower = scores[scores < threshold].max()
    m_lower = binary_metrics(y, scores, lower, spec.positive_label)
    assert m_lower["false_positive_rate"] > 0.1 or m_lower["recall"] == m["recall"]


def test_recall_rule_with_zero_tolerance_blocks_no_ham(spam_spec):
    spec = spam_spec.with_overrides(max_false_positive_rate=0.0)
    y = ["spam", "ham", "spam", "ham"]
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    threshold = choose_threshold(y, scores, spec)
    assert threshold == pytest.approx(0.9)


def test_operating_score_is_the_metric_at_the_rules_threshold(spam_spec):
    spec = spam_spec.with_overrides(max_false_positive_rate=0.0)
    y = ["spam", "ham", "spam", "ham"]
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    assert operating_score(y, scores, spec) == 0.5  # recall at the threshold blocking no ham


def test_with_a_confidence_the_rule_blocks_as_few_ham_as_the_sample_size_calls_for(spam_spec):
    assert spam_spec.threshold_confidence == 0.95
    # the share alone: 0.5% of 3,772 ham is 18.9 messages
    assert most_blocked(3772, 0.005) == 18
    assert most_blocked(200, 0.1) == 20  # exactly the limit is within it
    # with 95% confidence: the most blocked whose one-sided Clopper-Pearson bound is <= 0.5%
    assert most_blocked(3772, 0.005, 0.95) == 11
    assert beta.ppf(0.95, 12, 3772 - 11) <= 0.005 < beta.ppf(0.95, 13, 3772 - 12)
    # the built-in set's 160 validation ham at 3%: one; too few to show the limit: none
    assert most_blocked(160, 0.03, 0.95) == 1
    assert most_blocked(50, 0.03, 0.95) == 0
    rng = np.random.default_rng(0)
    y = np.array(["spam"] * 20000 + ["ham"] * 3772)  # spam between every two ham
    scores = np.concatenate([rng.uniform(0.7, 1, 20000), rng.uniform(0, 0.8, 3772)])
    for confidence, blocked in ((None, 18), (0.95, 11)):
        spec = replace(spam_spec, max_false_positive_rate=0.005,
                       threshold_confidence=confidence)
        threshold = choose_threshold(y, scores, spec)
        assert np.sum((scores >= threshold) & (y == "ham")) == blocked


def test_ham_scored_one_leaves_a_threshold_above_every_score(spam_spec):
    spec = spam_spec.with_overrides(max_false_positive_rate=0.0)
    threshold = choose_threshold(["ham", "spam"], np.array([1.0, 1.0]), spec)
    assert threshold > 1.0
    assert binary_metrics(["ham", "spam"], np.array([1.0, 1.0]), threshold, "spam")[
        "false_positive_rate"] == 0.0


def test_models_are_compared_at_the_limit_measured_on_each_fold(spam_spec):
    """The confidence is for the deployed threshold: per fold, 0.5% of 755 ham is three."""
    rng = np.random.default_rng(1)
    y = np.array(["spam"] * 150 + ["ham"] * 755)
    scores = np.concatenate([rng.uniform(0.5, 1, 150), rng.uniform(0, 0.9, 755)])
    point = replace(spam_spec, max_false_positive_rate=0.005, threshold_confidence=None)
    confident = replace(point, threshold_confidence=0.95)
    assert operating_score(y, scores, confident) == operating_score(y, scores, point)
    assert choose_threshold(y, scores, confident) > choose_threshold(y, scores, point)


def _threshold_one_candidate_at_a_time(y, scores, allowed):
    """The rule as first written: every candidate threshold tried in turn."""
    best = None
    for threshold in np.unique(np.append(scores, 1.0)):
        predicted = scores >= threshold
        if np.sum(predicted & ~y) > allowed:
            continue
        recall = np.sum(predicted & y) / max(int(y.sum()), 1)
        if best is None or recall > best[0] or (recall == best[0] and threshold > best[1]):
            best = (recall, float(threshold))
    return None if best is None else best[1]


@pytest.mark.parametrize("seed", range(30))
def test_the_rule_picks_the_threshold_trying_every_candidate_would(spam_spec, seed):
    """Counted from sorted scores, the rule picks what trying each candidate picks: with
    tied scores, scores of 1.0, no spam at all, and limits from none to many ham."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    y = rng.random(n) < rng.choice([0.0, 0.1, 0.5])
    scores = np.round(rng.random(n), int(rng.integers(1, 4)))  # coarse: many ties
    scores[rng.random(n) < 0.05] = 1.0
    limit = float(rng.choice([0.0, 0.005, 0.05, 0.3]))
    spec = replace(spam_spec, max_false_positive_rate=limit, threshold_confidence=None)
    labels = np.where(y, "spam", "ham")
    expected = _threshold_one_candidate_at_a_time(y, scores, most_blocked(int((~y).sum()), limit))
    chosen = choose_threshold(labels, scores, spec)
    if expected is None:
        assert chosen > 1.0
    else:
        assert chosen == expected


@pytest.mark.parametrize("metric", ["recall", "f1", "accuracy", "mcc", "precision", "roc_auc"])
def test_operating_score_is_binary_metrics_at_the_threshold(spam_spec, metric):
    rng = np.random.default_rng(3)
    y = np.array(["spam"] * 40 + ["ham"] * 160)
    scores = rng.random(200)
    spec = replace(spam_spec, primary_metric=metric, threshold_confidence=None)
    threshold = choose_threshold(y, scores, spec)
    assert operating_score(y, scores, spec) == binary_metrics(y, scores, threshold, "spam")[metric]


def test_the_rates_are_the_metrics_but_roc_auc():
    assert set(rates(1, 1, 1, 1)) == set(RATE_NAMES) == set(METRIC_NAMES) - {"roc_auc"}


@pytest.mark.parametrize("metric", ["precision", "mcc", "f1"])
def test_operating_score_when_nothing_is_flagged(spam_spec, metric):
    """Every ham scored 1.0: the rule flags nothing, and a rate with no denominator is 0."""
    y = np.array(["spam", "ham", "ham"])
    scores = np.array([0.5, 1.0, 1.0])
    spec = replace(spam_spec, primary_metric=metric, max_false_positive_rate=0.0,
                   threshold_confidence=None)
    assert operating_score(y, scores, spec) == 0.0


def test_scores_that_are_not_numbers_are_refused(spam_spec):
    with pytest.raises(ValueError, match="1 of 3 validation scores are not finite"):
        choose_threshold(["spam", "ham", "ham"], np.array([0.9, np.nan, 0.1]), spam_spec)
