"""Stage 5's gate on intervals: the low end of the primary metric's bootstrap interval, and
small slices judged by the Wilson interval of their primary metric."""

import numpy as np
import pandas as pd
import pytest

from shared.model import evaluation, interval_gate


def test_a_small_slice_is_judged_by_its_wilson_interval_from_the_counts(spec):
    # 10 texts of both labels: 1 of 5 positives found, 1 false positive. F1 = 2/(2+1+4) =
    # 0.29, the share 1 of 1 + 5/2 = 3.5; the Wilson upper end 0.74 clears 0.55
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(10)],
                          "label": ["positive"] * 5 + ["negative"] * 5, "source": ["film"] * 10})
    scores = np.array([0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1])
    table = evaluation.slice_metrics(frame, scores, 0.5, spec)
    row = table.loc[("source", "film")]
    low, high = interval_gate.wilson(1, 3.5)
    assert row["f1"] == pytest.approx(2 / 7)
    assert (row["wilson_low"], row["wilson_high"]) == pytest.approx((float(low), float(high)))
    assert row["wilson_high"] == pytest.approx(0.743, abs=1e-3)
    assert evaluation.gated_slices(table, spec)["passed"].all()
    # none of 5 found and 3 false positives: 0 of 4, even the upper end (0.49) is under 0.55
    worse = evaluation.slice_metrics(frame, np.r_[np.full(5, 0.1), np.full(3, 0.9),
                                                  np.full(2, 0.1)], 0.5, spec)
    judged = evaluation.gated_slices(worse, spec)
    assert not judged["passed"].any() and (judged["rule"] == "Wilson upper end").all()


def test_wilson_interval_matches_the_textbook_values():
    # Wilson (1927) / Newcombe (1998), example 81 of 263: 0.2553-0.3662
    low, high = interval_gate.wilson(81, 263)
    assert (float(low), float(high)) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert tuple(map(float, interval_gate.wilson(0, 0))) == (0.0, 1.0)  # nothing known
    low, high = interval_gate.wilson(0, 10)
    assert (float(low), float(high)) == pytest.approx((0.0, 0.2775), abs=5e-5)


def test_the_gate_judges_the_low_end_of_the_interval(spec):
    metrics, baseline = {"f1": 0.75}, {"f1": 0.5}
    limit = spec.target - spec.interval_margin
    intervals = pd.DataFrame({"value": [0.75], "low": [limit + 0.001], "high": [0.85]},
                             index=pd.Index(["f1"], name="metric"))
    passing = evaluation.gate(metrics, baseline, spec, intervals=intervals)
    assert passing.passed and passing.checks[-1].check == (
        f"f1 95% interval {limit + 0.001:.3f}-0.850: low end >= {limit:.2f} (target - "
        f"interval_margin {spec.interval_margin:.2f})")
    lucky = intervals.assign(low=limit - 0.001)  # the point estimate meets the target
    result = evaluation.gate(metrics, baseline, spec, intervals=lucky)
    assert not result.passed and [c.value for c in result.failed] == [round(limit - 0.001, 4)]


def test_a_perfect_small_split_cannot_pass_on_its_degenerate_bootstrap(spam_spec):
    # 5 of 5 spam caught: every resample catches all of them, the bootstrap says 1.000-1.000;
    # the Wilson interval of 5 of 5 starts at 0.57, under 0.80 - 0.20
    metrics = {"recall": 1.0, "false_positive_rate": 0.0, "true_positives": 5,
               "false_positives": 0, "false_negatives": 0, "true_negatives": 20}
    intervals = pd.DataFrame({"value": [1.0], "low": [1.0], "high": [1.0]},
                             index=pd.Index(["recall"], name="metric"))
    result = evaluation.gate(metrics, {"recall": 0.0}, spam_spec, intervals=intervals)
    assert [c.check for c in result.failed] == [
        "recall 95% interval 1.000-1.000 (Wilson low end 0.566): low end >= 0.60 (target - "
        "interval_margin 0.20)"]
    twenty = {**metrics, "true_positives": 20, "true_negatives": 80}
    assert evaluation.gate(twenty, {"recall": 0.0}, spam_spec, intervals=intervals).passed
