"""Dynamic batching in-process: concurrent requests share a model call and a commit, not answers."""

from __future__ import annotations

import asyncio
import copy
import sqlite3

import numpy as np
import pytest

from shared.model.models import word_vectorizer
from shared.serving import prediction_log
from shared.serving.batching import Batcher, LogUnavailableError
from shared.serving.predictor import InvalidScoreError, Predictor


@pytest.fixture
def predictor(deployed_project):
    return Predictor.from_deployed(deployed_project.deployed_dir)


def _requests(n: int) -> list[list[str]]:
    """Distinct requests of one to three texts each."""
    return [[f"great film number {i} part {k}" if (i + k) % 2 else f"awful food {i} {k}"
             for k in range(1 + i % 3)] for i in range(n)]


async def _submit_all(batcher: Batcher, requests: list[list[str]]) -> list[object]:
    """Submit every request at once, as concurrent clients would; an answer or an error each."""
    outcomes = await asyncio.gather(*(batcher.submit(texts) for texts in requests),
                                    return_exceptions=True)
    await batcher.close()
    return outcomes


def test_concurrent_requests_share_a_batch_and_get_their_own_answers_in_order(predictor, tmp_path):
    log = tmp_path / "log.sqlite"
    batcher = Batcher(predictor, log, "test", max_batch=1000)
    requests = _requests(24)
    answers = asyncio.run(_submit_all(batcher, requests))
    assert batcher.stats.largest_batch == 24 and batcher.stats.batches == 1
    alone = predictor.score([t for texts in requests for t in texts])
    start = 0
    for texts, answer in zip(requests, answers, strict=True):
        assert len(answer.prediction_ids) == len(texts)
        assert answer.labels == alone.label[start:start + len(texts)].tolist()
        assert np.allclose(answer.confidences, alone.confidence[start:start + len(texts)])
        start += len(texts)
        logged = prediction_log.read(log, answer.batch_id)
        assert logged["text"].tolist() == texts  # its own texts, in its order
        assert logged["prediction_id"].tolist() == answer.prediction_ids
    assert len({a.batch_id for a in answers}) == 24
    assert prediction_log.count(log) == start


def test_a_batch_holds_at_most_max_batch_texts_and_whole_requests(predictor, tmp_path):
    batcher = Batcher(predictor, tmp_path / "log.sqlite", "test", max_batch=4)
    requests = _requests(12)
    answers = asyncio.run(_submit_all(batcher, requests))
    assert all(len(a.prediction_ids) == len(t) for a, t in zip(answers, requests, strict=True))
    assert batcher.stats.requests == 12 and batcher.stats.batches >= 24 / 4


def test_when_the_log_fails_every_request_of_the_batch_fails_and_nothing_is_logged(
        predictor, tmp_path):
    log = tmp_path / "log.sqlite"
    prediction_log.append(log, [], "v", "test")  # creates the log
    with sqlite3.connect(log) as db:  # one row of one request cannot be written
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON predictions WHEN NEW.text LIKE "
                   "'%number 5 %' BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    batcher = Batcher(predictor, log, "test", max_batch=1000)
    outcomes = asyncio.run(_submit_all(batcher, _requests(10)))
    assert batcher.stats.batches == 1
    assert all(isinstance(o, LogUnavailableError) for o in outcomes)
    assert "injected failure" in str(outcomes[0]) and "nothing was answered" in str(outcomes[0])
    assert prediction_log.count(log) == 0


def test_a_request_that_breaks_the_model_fails_alone(predictor, tmp_path):
    broken = copy.deepcopy(predictor)
    column = word_vectorizer(broken.model).vocabulary_["great"]
    broken.model[-1].coef_[0, column] = np.nan  # only texts holding "great" score NaN
    log = tmp_path / "log.sqlite"
    batcher = Batcher(broken, log, "test", max_batch=1000)
    requests = [["awful food"], ["a great film"], ["cold and bland", "boring script"]]
    outcomes = asyncio.run(_submit_all(batcher, requests))
    assert isinstance(outcomes[1], InvalidScoreError)
    assert [len(outcomes[i].prediction_ids) for i in (0, 2)] == [1, 2]
    assert prediction_log.count(log) == 4  # the failed text too: answered = logged
    failed = prediction_log.read(log, outcomes[1].batch_id)
    assert failed["text"].tolist() == ["a great film"] and failed["score"].isna().all()
    assert failed["error"].str.startswith("the model returned an invalid score").all()
    assert batcher.health.report()["recent_model_failures"] == 1
