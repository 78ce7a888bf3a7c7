"""One text through the model: the steps are the model's own, and the arithmetic adds up."""

import numpy as np
import pytest
from conftest import TOY_LABELS, TOY_TEXTS, small_model
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.naive_bayes import ComplementNB

from shared.core.text_rules import clean_text
from shared.model import models
from shared.model.scoring import positive_scores
from shared.serving import explain

TEXT = "  What a wonderful, LOVELY film, zorblax!  "


def test_the_contributions_add_up_to_the_decision_function(toy_model):
    found = explain.explain(toy_model, TEXT, "positive", 0.5)
    features = toy_model[:-1].transform([TEXT])
    decision = toy_model.named_steps["clf"].decision_function(features)[0]
    assert found.linear_score == pytest.approx(decision, abs=1e-12)
    assert found.terms["contribution"].to_numpy() == pytest.approx(
        (found.terms["value"] * found.terms["weight"]).to_numpy())
    assert set(found.terms["block"]) == {"word"}


def test_score_label_and_confidence_are_the_models_answer(toy_model):
    found = explain.explain(toy_model, TEXT, "positive", 0.5)
    score = positive_scores(toy_model, [TEXT], "positive")[0]
    assert found.score == score
    assert found.label == ("positive" if score >= 0.5 else "negative")
    assert found.confidence == pytest.approx(max(score, 1 - score))
    flipped = explain.explain(toy_model, TEXT, "positive", threshold=min(score + 0.01, 1.0))
    assert flipped.label == "negative" and "negative" in flipped.steps().iloc[-1, 1]


def test_cleaning_and_unknown_words_are_shown(toy_model):
    found = explain.explain(toy_model, TEXT, "positive", 0.5)
    assert found.cleaned == clean_text(TEXT)
    unknown = set(found.words.loc[~found.words["known"], "word"])
    assert unknown == {word for word in found.words["word"]
                       if word not in models.Vocabulary(toy_model).words}
    assert "zorblax" in unknown
    assert "zorblax" in found.steps().set_index("step").loc["words"].iloc[0]
    assert "zorblax" not in set(found.terms["term"]), "an unknown word weighs nothing"


def test_the_weights_point_toward_the_positive_label_whichever_class_is_second():
    # labels whose sorted order puts the positive one first: the weights must flip
    labels = ["a_good" if label == "positive" else "b_bad" for label in TOY_LABELS]
    model = small_model().fit(TOY_TEXTS, labels)
    found = explain.explain(model, TEXT, "a_good", 0.5)
    features = model[:-1].transform([TEXT])
    assert found.linear_score == pytest.approx(
        -model.named_steps["clf"].decision_function(features)[0], abs=1e-12)


def test_a_calibrated_model_averages_its_folds_and_keeps_its_probability(toy_model):
    calibrated = models.text_pipeline(CalibratedClassifierCV(
        small_model().named_steps["clf"], cv=3, ensemble=True)).fit(TOY_TEXTS, TOY_LABELS)
    found = explain.explain(calibrated, TEXT, "positive", 0.5)
    folds = calibrated.named_steps["clf"].calibrated_classifiers_
    features = calibrated[:-1].transform([TEXT])
    mean_decision = np.mean([fold.estimator.decision_function(features)[0] for fold in folds])
    assert found.linear_score == pytest.approx(mean_decision, abs=1e-12)
    assert found.score == positive_scores(calibrated, [TEXT], "positive")[0]


def test_complement_nb_has_no_intercept_and_a_forest_no_terms():
    nb = models.text_pipeline(ComplementNB()).fit(TOY_TEXTS, TOY_LABELS)
    found = explain.explain(nb, TEXT, "positive", 0.5)
    assert found.intercept == 0.0 and found.terms is not None
    forest = models.text_pipeline(RandomForestClassifier(n_estimators=5, random_state=0))
    found = explain.explain(forest.fit(TOY_TEXTS, TOY_LABELS), TEXT, "positive", 0.5)
    assert found.terms is None and found.linear_score is None
    assert "no per-term weights" in found.steps().to_string()


def test_the_command_explains_with_the_deployed_model(deployed_project, capsys):
    assert explain.main(["--task", "sentiment", "--root", str(deployed_project.root),
                         "Superb film, I loved every minute"]) == 0
    printed = capsys.readouterr().out
    assert "terms toward positive" in printed and "decision" in printed
    assert explain.main(["--task", "sentiment", "--root", str(deployed_project.root),
                         "   "]) == 2
