"""scikit-learn's data-frame question, answered at once for arrays (shared.serving.input_checks)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn.utils.validation as validation

from shared.serving import input_checks
from shared.serving.predictor import Predictor


def narwhals_question():
    """scikit-learn's own function, whether or not this process has installed the stand-in."""
    ask = validation._nw_into_df_or_series
    return getattr(ask, "asks", ask)


def one_of_each_type() -> list:
    dense = np.arange(6.0).reshape(2, 3)
    made = [dense, [1, 2], ("a", "b")]
    made += [kind(dense) for kind in (sp.csr_matrix, sp.csc_matrix, sp.coo_matrix,
                                      sp.csr_array, sp.csc_array, sp.coo_array)]
    return made


def test_every_type_answered_at_once_is_one_narwhals_calls_no_frame():
    made = one_of_each_type()
    assert {type(x) for x in made} == set(input_checks.NEVER_FRAMES)
    ask = narwhals_question()
    assert [ask(x) for x in made] == [False] * len(made)


def test_frames_and_series_still_go_to_narwhals(monkeypatch):
    monkeypatch.setattr(validation, "_nw_into_df_or_series", narwhals_question())
    assert input_checks.install()
    stand_in = validation._nw_into_df_or_series
    assert stand_in.asks is narwhals_question()
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    assert stand_in(frame) and stand_in(frame["a"])
    assert not any(stand_in(x) for x in one_of_each_type())
    input_checks.install()  # once: a second install keeps the stand-in
    assert validation._nw_into_df_or_series is stand_in


def test_only_the_exact_types_are_answered_at_once():
    asked = []
    stand_in = input_checks._not_a_frame_first(lambda x: asked.append(type(x)) or False)

    class ArrayOfSomeLibrary(np.ndarray):
        pass

    stand_in(np.zeros(3))
    stand_in(np.zeros(3).view(ArrayOfSomeLibrary))  # a subclass: narwhals is asked
    stand_in({"a": [1]})
    assert asked == [ArrayOfSomeLibrary, dict]


def test_the_model_scores_the_same_with_and_without_it(deployed_project, monkeypatch):
    predictor = Predictor.from_deployed(deployed_project.deployed_dir)
    texts = ["a wonderful film", "dull, slow and far too long", "Jessica loved it", "ok"] * 8
    assert hasattr(validation._nw_into_df_or_series, "asks"), "the predictor installed it"
    fast = predictor.model.predict_proba(texts)
    monkeypatch.setattr(validation, "_nw_into_df_or_series", narwhals_question())
    assert np.array_equal(fast, predictor.model.predict_proba(texts))


def test_without_the_question_it_does_nothing(monkeypatch):
    monkeypatch.delattr(validation, "_nw_into_df_or_series")
    assert input_checks.install() is False
    with pytest.raises(AttributeError):
        validation._nw_into_df_or_series  # noqa: B018
