"""scikit-learn's data-frame question, answered at once for arrays (shared.serving.input_checks)."""

import inspect

import numpy as np
import pandas as pd
import sklearn.utils.validation as validation

from shared.serving import input_checks
from shared.serving.predictor import Predictor


def narwhals_question():
    """scikit-learn's own function, whether or not this process has installed the stand-in."""
    return inspect.unwrap(validation._nw_into_df_or_series)


def test_every_type_answered_at_once_is_one_narwhals_calls_no_frame():
    made = input_checks.one_of_each()
    assert {type(x) for x in made} == set(input_checks.NEVER_FRAMES)
    ask = narwhals_question()
    assert [ask(x) for x in made] == [False] * len(made)


def test_frames_and_series_still_go_to_narwhals(monkeypatch):
    original = narwhals_question()
    monkeypatch.setattr(validation, "_nw_into_df_or_series", original)
    assert input_checks.install()
    stand_in = validation._nw_into_df_or_series
    assert stand_in is not original and inspect.unwrap(stand_in) is original
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert stand_in(frame) and stand_in(frame["a"])
    assert not any(stand_in(x) for x in input_checks.one_of_each())
    assert input_checks.install()  # once: a second install keeps the stand-in
    assert validation._nw_into_df_or_series is stand_in


def test_only_the_exact_types_are_answered_at_once():
    asked = []
    stand_in = input_checks._with_array_shortcut(lambda x: asked.append(type(x)) or False)

    class ArrayOfSomeLibrary(np.ndarray):
        pass

    stand_in(np.zeros(3))
    stand_in(np.zeros(3).view(ArrayOfSomeLibrary))  # a subclass: narwhals is asked
    stand_in({"a": [1]})
    assert asked == [ArrayOfSomeLibrary, dict]


def test_nothing_is_installed_when_narwhals_claims_one_of_the_types(monkeypatch):
    """As with a narwhals plugin for NumPy arrays: the stand-in would answer otherwise."""
    claims_arrays = lambda x: type(x) is np.ndarray  # noqa: E731
    monkeypatch.setattr(validation, "_nw_into_df_or_series", claims_arrays)
    assert input_checks.install() is False
    assert validation._nw_into_df_or_series is claims_arrays


def test_the_model_scores_the_same_with_and_without_it(deployed_project, monkeypatch):
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    texts = ["a wonderful film", "dull, slow and far too long", "Jessica loved it", "ok"] * 8
    assert validation._nw_into_df_or_series is not narwhals_question(), "the predictor installs it"
    fast = predictor.model.predict_proba(texts)
    monkeypatch.setattr(validation, "_nw_into_df_or_series", narwhals_question())
    assert np.array_equal(fast, predictor.model.predict_proba(texts))


def test_without_the_question_it_does_nothing(monkeypatch):
    monkeypatch.delattr(validation, "_nw_into_df_or_series")
    assert input_checks.install() is False
    assert not hasattr(validation, "_nw_into_df_or_series")
