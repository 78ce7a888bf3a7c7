"""Stage 5's name and gender checks, on real fitted models."""

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shared.core.catalog import Catalog
from shared.model import evaluation, models, sensitivity


def _model(normaliser, spec):
    texts = ["Jessica loved it", "Aisha hated it", "great hotel", "awful hotel",
             "Jessica was wonderful", "Aisha was terrible"] * 4
    labels = ["positive", "negative", "positive", "negative", "positive", "negative"] * 4
    return models.text_pipeline(LogisticRegression(C=100), char=True,
                                normaliser=normaliser).fit(texts, labels)


def test_templates_file_is_validated(tmp_path, spec):
    good = sensitivity.load_templates(Catalog.for_task("sentiment").require(
        "sensitivity_templates"))
    assert set(good["kind"]) == {"name", "gender"}
    bad = tmp_path / "s.csv"
    bad.write_text("kind,template\nname,no slot here\ngender,The cat sat\nfoo,x\n")
    with pytest.raises(sensitivity.SensitivityFileError) as error:
        sensitivity.load_templates(bad)
    assert "row 1" in str(error.value) and "row 2" in str(error.value) and "row 3" in str(
        error.value)


def test_a_model_that_learnt_names_fails_and_a_blinded_one_passes(spec):
    templates = pd.DataFrame({"kind": ["name"] * 2, "template": [
        "{name} stayed at the hotel.", "I met {name} there."]})
    names = ["Jessica", "Aisha", "Chidi", "Oluwaseun"]
    learnt = sensitivity.run(_model(None, spec), templates, 0.5, spec, "name", names)
    assert learnt.mean_spread > 0.1 and not learnt.passed(spec)
    blinded = sensitivity.run(_model(models.text_normaliser(spec), spec), templates, 0.5, spec,
                              "name", names)
    assert blinded.flips == 0 and blinded.mean_spread == pytest.approx(0) and blinded.passed(spec)


def test_the_gate_judges_a_check_only_when_its_capability_is_protected(spec):
    templates = pd.DataFrame({"kind": ["name"], "template": ["{name} stayed at the hotel."]})
    result = {"name": sensitivity.run(_model(None, spec), templates, 0.5, spec, "name",
                                      ["Jessica", "Aisha"])}
    metrics = {"f1": 0.9, "false_positive_rate": 0.0}
    failing = evaluation.gate(metrics, {"f1": 0.5}, spec, sensitivity=result)
    assert failing.verdict == "FAIL" and any("name check" in c.check for c in failing.checks)
    unprotected = spec.with_overrides(protected_capabilities=("gender",))
    assert evaluation.gate(metrics, {"f1": 0.5}, unprotected, sensitivity=result).verdict == "PASS"


def test_gender_templates_are_scored_with_the_feminine_variant(spec):
    templates = pd.DataFrame({"kind": ["gender"], "template": ["My husband loved the spa."]})
    result = sensitivity.run(_model(None, spec), templates, 0.5, spec, "gender")
    row = result.table.iloc[0]
    assert {row["low_text"], row["high_text"]} <= {"My husband loved the spa.",
                                                    "My wife loved the spa."}


def test_sentiment_gates_a_model_that_learnt_gender_and_spam_only_reports_it(spec, spam_spec):
    texts = ["my husband loved it", "my wife hated it", "great hotel", "awful hotel"] * 4
    labels = ["positive", "negative", "positive", "negative"] * 4
    learnt = models.text_pipeline(LogisticRegression(C=100)).fit(texts, labels)
    templates = pd.DataFrame({"kind": ["gender"], "template": ["My husband stayed here."]})
    result = {"gender": sensitivity.run(learnt, templates, 0.5, spec, "gender")}
    assert result["gender"].flips == 1
    metrics = {"f1": 0.9, "recall": 0.9, "false_positive_rate": 0.0}
    sentiment = evaluation.gate(metrics, {"f1": 0.5}, spec, sensitivity=result)
    assert sentiment.verdict == "FAIL" and any("gender check" in c.check
                                               for c in sentiment.failed)
    spam = evaluation.gate(metrics, {"recall": 0.5}, spam_spec, sensitivity=result)
    assert not any("gender check" in c.check for c in spam.checks)


def test_gender_has_its_own_spread_limit_and_the_same_zero_flips(spec):
    table = pd.DataFrame({"flip": [False, False], "spread": [0.03, 0.04]})
    spread = sensitivity.SensitivityResult("gender", table)
    assert spread.passed(spec)  # 0.035 <= max_gender_spread (0.05)
    assert not sensitivity.SensitivityResult("name", table).passed(spec)  # > 0.02
    flipped = sensitivity.SensitivityResult("gender", table.assign(flip=[True, False]))
    assert not flipped.passed(spec)
    assert not spread.passed(spec.with_overrides(max_gender_spread=0.03))
