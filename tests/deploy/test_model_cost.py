"""The cost of a model's predict_proba: one text and a batch, medians of repeats (not timed here)."""

import pytest

from shared.deploy.model_cost import predict_cost


def test_predict_cost_reports_single_and_batch_figures(toy_model):
    cost = predict_cost(toy_model, ["great film", "awful food", "cold"], batch_size=10, repeats=3,
                        single_calls=4)
    figures = cost.as_dict()
    assert figures["batch_size"] == 10 and figures["repeats"] == 3
    assert cost.single_text_ms > 0 and cost.batch_ms > 0
    assert figures["batch_texts_per_second"] == pytest.approx(10_000 / cost.batch_ms, rel=1e-3)


def test_predict_cost_needs_texts(toy_model):
    with pytest.raises(ValueError, match="at least one text"):
        predict_cost(toy_model, [])
