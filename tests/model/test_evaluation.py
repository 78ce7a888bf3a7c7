"""Stage 5's evaluation: the gate, error analysis, intervals and slices."""

from dataclasses import replace

import numpy as np
import pandas as pd

from shared.model import evaluation, models
from shared.model.metrics import brier_score


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


def test_the_bootstrap_block_size_changes_memory_not_the_intervals(spec):
    rng = np.random.default_rng(1)
    labels = np.where(rng.random(700) < 0.4, "positive", "negative")
    scores = np.clip(rng.normal(0.5, 0.25, 700) + (labels == "positive") * 0.2, 0, 1)
    blocked = evaluation.bootstrap_intervals(labels, scores, 0.5, spec, n_resamples=200, block=7)
    whole = evaluation.bootstrap_intervals(labels, scores, 0.5, spec, n_resamples=200, block=200)
    pd.testing.assert_frame_equal(blocked, whole)


def test_the_majority_baseline_scores_every_text_alike(spec):
    baseline = models.majority_baseline().fit(["a", "b", "c"], ["positive", "negative",
                                                               "negative"])
    y = np.array(["positive", "negative", "negative", "negative"])
    metrics = evaluation.baseline_metrics(baseline, y, 0.5, spec)
    assert metrics["accuracy"] == 0.75 and metrics["recall"] == 0.0


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
    assert "dataset" not in table.index.get_level_values("slice")  # one data set: no slice


def test_a_mix_of_data_sets_gets_one_slice_per_data_set(spec):
    frame = pd.DataFrame({
        "text": ["good", "bad", "fine", "awful"],
        "label": ["positive", "negative", "positive", "negative"],
        "source": ["film"] * 4,
        "dataset": ["builtin", "builtin", "rt-polarity", "rt-polarity"],
    })
    table = evaluation.slice_metrics(frame, np.array([0.9, 0.2, 0.4, 0.3]), 0.5, spec)
    assert table.loc["dataset", "texts"].to_dict() == {"builtin": 2, "rt-polarity": 2}
    assert table.loc[("dataset", "builtin"), "accuracy"] == 1.0
    assert table.loc[("dataset", "rt-polarity"), "accuracy"] == 0.5



def _slices(rows, spec):
    """A slice table as slice_metrics gives it: (slice, value, texts, positives, primary,
    upper end of the primary metric's Wilson interval)."""
    frame = pd.DataFrame(rows, columns=["slice", "value", "texts", "positives",
                                        spec.primary_metric, "wilson_high"])
    return frame.assign(accuracy=0.0).set_index(["slice", "value"])


def test_every_slice_of_both_labels_must_reach_target_minus_margin(spec):
    metrics, baseline = {"f1": 0.75}, {"f1": 0.5}
    limit = spec.target - spec.slice_margin
    slices = _slices([
        ("source", "film", 60, 30, limit + 0.01, 0.7),
        ("length", "<= 10 words", spec.min_slice_texts - 1, 10, 0.1, limit + 0.01),  # small
        ("length", "> 50 words", 40, 0, 0.0, 1.0),                          # one label only
    ], spec)
    passing = evaluation.gate(metrics, baseline, spec, slices)
    assert passing.passed
    assert passing.checks[-1].check == (
        f"every slice of both labels: f1 >= {limit:.2f} (1 of >= 30 texts by the point "
        "estimate; 1 smaller by the upper end of the 95% Wilson interval; 1 of one label only "
        "not judged)")
    failing = _slices([("source", "film", 60, 30, limit - 0.01, 0.7),
                       ("source", "product", 60, 30, 0.9, 1.0),
                       ("length", "<= 10 words", 12, 6, 0.1, limit - 0.01)], spec)
    result = evaluation.gate(metrics, baseline, spec, failing)
    assert not result.passed
    assert [c.check.split(" (failing: ")[1] for c in result.failed] == [
        f"source 'film' {limit - 0.01:.3f}; length '<= 10 words' 0.100 (Wilson upper end "
        f"{limit - 0.01:.3f}, 12 texts))"]
    table = evaluation.gated_slices(failing, spec)
    assert table["passed"].tolist() == [False, True, False] and (table["limit"] == limit).all()
    assert table["rule"].tolist() == ["point estimate", "point estimate", "Wilson upper end"]


def test_slices_gate_the_primary_metric(spam_spec):
    frame = pd.DataFrame({
        "text": ["win cash now"] * 20 + ["see you soon"] * 20,
        "label": ["spam"] * 20 + ["ham"] * 20, "source": ["sms"] * 40,
    })
    scores = np.r_[np.full(10, 0.9), np.full(10, 0.1), np.full(20, 0.1)]  # half the spam caught
    table = evaluation.slice_metrics(frame, scores, 0.5, spam_spec)
    assert table.loc[("source", "sms"), "recall"] == 0.5
    lenient = spam_spec.with_overrides(min_slice_texts=40)
    result = evaluation.gate({"recall": 0.9, "false_positive_rate": 0.0}, {"recall": 0.0},
                             lenient, table)
    assert [c.check.split(":")[0] for c in result.failed] == ["every slice of both labels"]


def test_behavioural_pass_rate_per_kind_is_in_the_gate(spec, toy_model, tmp_path):
    from shared.model import behaviour

    path = tmp_path / "behaviour.csv"
    path.write_text("kind,capability,text,variant,expected,direction\n"
                    "MFT,plain,wonderful and lovely,,positive,\n"
                    "MFT,negation,not terrible at all,,positive,\n"
                    "INV,casing,great value,GREAT VALUE,positive,\n", encoding="utf-8")
    result = behaviour.run(toy_model, behaviour.load_cases(path, spec), 0.5, spec)
    gate = evaluation.gate({"f1": 0.8}, {"f1": 0.5}, replace(spec, protected_capabilities=()),
                           behaviour=result)
    assert [(c.check, c.value, c.passed) for c in gate.checks[2:]] == [
        ("behavioural MFT pass rate >= 0.75 (1 of 2 cases)", 0.5, False),
        ("behavioural INV pass rate >= 0.75 (1 of 1 cases)", 1.0, True),
    ]
    slices = evaluation.slice_metrics(
        pd.DataFrame({"text": ["good"], "label": ["positive"], "source": ["x"]}),
        np.array([0.9]), 0.5, spec, result)
    assert slices.loc["behaviour", "texts"].to_dict() == {"MFT": 2, "INV": 2}


def test_one_failing_protected_case_fails_the_gate_whatever_its_kind_scores(
        spec, toy_model, tmp_path):
    from shared.model import behaviour

    path = tmp_path / "behaviour.csv"
    rows = [
        "INV,casing,great value,GREAT VALUE,positive,",
        "INV,casing,wonderful film,WONDERFUL FILM,positive,",
        "INV,casing,lovely and great,LOVELY AND GREAT,positive,",
        "INV,name,Anna said it was wonderful,Omar said it was wonderful,positive,",
        "INV,name,wonderful and lovely,terrible and awful,positive,",  # the answer changes
    ]
    path.write_text("kind,capability,text,variant,expected,direction\n" + "\n".join(rows)
                    + "\n", encoding="utf-8")
    result = behaviour.run(toy_model, behaviour.load_cases(path, spec), 0.5, spec)
    assert result.pass_rates().loc["INV", "pass_rate"] >= spec.min_behaviour_pass_rate
    gate = evaluation.gate({"f1": 0.8}, {"f1": 0.5},
                           replace(spec, protected_capabilities=("name",)), behaviour=result)
    assert [(c.check, c.passed) for c in gate.failed] == [
        ("every behavioural 'name' case passes (1 of 2)", False)]
    missing = evaluation.gate({"f1": 0.8}, {"f1": 0.5},
                              replace(spec, protected_capabilities=("dialect",)), behaviour=result)
    assert "there are none in behaviour.csv" in missing.failed[0].check
