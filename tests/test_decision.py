"""The decision rule picks the threshold on validation scores."""

import numpy as np
import pytest

from shared.model.decision import choose_threshold, operating_score
from shared.model.metrics import binary_metrics


def test_fixed_rule_keeps_the_spec_threshold(spec):
    assert choose_threshold(["positive", "negative"], np.array([0.9, 0.2]), spec) == 0.5


def test_recall_rule_respects_the_ham_limit(spam_spec):
    spec = spam_spec.with_overrides(max_false_positive_rate=0.1)
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
