"""Stage 5 out of core (shared.scale.streaming_eval): the in-memory figures, part by part."""

import numpy as np
import pandas as pd
import pytest

from shared.data import partitions
from shared.model import evaluation
from shared.scale import streaming_eval


def test_streamed_scores_slices_and_mistakes_equal_scoring_the_whole_split(out_of_core_project,
                                                                             spec):
    cat = out_of_core_project
    model = cat.read("final_model")
    tested = streaming_eval.score_test(cat, model, spec, 0.5)
    test = pd.concat(partitions.iter_parts(cat.path("test_parts")), ignore_index=True)
    scores = model.predict_proba(list(test["text"]))[:, list(model.classes_).index("positive")]
    assert np.array_equal(tested.labels, test["label"].to_numpy())
    assert np.allclose(tested.scores, scores)
    expected = evaluation.slice_metrics(test, scores, 0.5, spec)
    pd.testing.assert_frame_equal(streaming_eval.slice_metrics(tested.slices, 0.5, spec),
                                  expected, check_dtype=False)
    worst = evaluation.worst_errors(test["text"], test["label"], scores, 0.5, spec)
    assert tested.worst["text"].tolist() == worst["text"].tolist()
    assert 0 < len(tested.reference) <= len(test)


@pytest.mark.cluster
def test_scoring_the_test_parts_on_the_cluster_equals_scoring_here(out_of_core_project, spec,
                                                                   dask_client):
    cat = out_of_core_project
    model = cat.read("final_model")
    here = streaming_eval.score_test(cat, model, spec, 0.5)
    there = streaming_eval.score_test(cat, model, spec, 0.5, client=dask_client)
    assert np.array_equal(here.labels, there.labels)
    assert np.array_equal(here.scores, there.scores)
    pd.testing.assert_frame_equal(here.slices, there.slices)
    pd.testing.assert_frame_equal(here.reference, there.reference, check_dtype=False)


def test_term_weights_name_words_for_both_classes(out_of_core_project):
    terms = streaming_eval.term_weights(out_of_core_project.read("final_model"), n=5)
    assert len(terms) == 10 and set(terms["label"]) == {"positive", "negative"}
    assert (terms["weight"] > 0).all()
