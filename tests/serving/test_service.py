"""The HTTP service, for real: a subprocess on a free loopback port, real HTTP requests."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time

import numpy as np
import psutil
import pytest
from service_harness import Service

from shared.core.manifest import Manifest
from shared.model.models import word_vectorizer
from shared.monitoring import monitor
from shared.serving import guards, prediction_log, service_client
from shared.serving.service import Settings

LIMITS = ["--max-texts", "5", "--max-text-chars", "300", "--max-body-bytes", "4000"]


@pytest.fixture(scope="module")
def service(deployed):
    with Service("sentiment", deployed.root, tuple(LIMITS)) as running:
        yield running


@pytest.fixture
def client(service):
    client = service.client(timeout=30)
    yield client
    client.close()


def test_listens_on_loopback_by_default(service):
    assert Settings().host == "127.0.0.1"
    assert service.url.startswith("http://127.0.0.1:")


def test_health_and_model(client, deployed):
    manifest = Manifest.load(deployed)
    health = client.get("/health")
    assert health.status == 200
    assert health.body["model_loaded"] is True
    assert health.body["model_version"] == manifest.model_version
    assert health.body["model_sha256"] == manifest.files["model.skops"]
    info = client.get("/model").body
    assert info["files"] == manifest.files
    assert info["labels"] == ["negative", "positive"]
    assert info["limits"] == {"max_body_bytes": 4000, "max_texts": 5, "max_text_chars": 300}
    assert info["model_card"]["title"] == f"Model card: sentiment ({manifest.model_version})"
    assert 0 <= info["metrics"]["f1"] <= 1


def test_predict_answers_every_text_and_logs_it(client, deployed):
    texts = ["Wonderful film, superb acting", "Cold food and rude staff", "It arrived."]
    answer = client.post("/predict", {"texts": texts})
    assert answer.status == 200, answer.body
    predictions = answer.body["predictions"]
    assert [p["label"] for p in predictions][:2] == ["positive", "negative"]
    assert all(0.5 <= p["confidence"] <= 1 for p in predictions)
    assert len({p["prediction_id"] for p in predictions}) == 3
    logged = prediction_log.read(deployed.path("prediction_log"), answer.body["batch_id"])
    assert logged["prediction_id"].tolist() == [p["prediction_id"] for p in predictions]
    assert logged["text"].tolist() == texts
    assert (logged["source"] == "service").all()
    assert logged["unknown_word_share"].between(0, 1).all()
    assert np.allclose(logged["confidence"], [p["confidence"] for p in predictions], atol=1e-6)


def test_feedback_links_to_the_prediction(client, deployed):
    answer = client.post("/predict", {"texts": ["Awful, broke on day one"]})
    prediction = answer.body["predictions"][0]
    reply = client.post("/feedback", {"prediction_id": prediction["prediction_id"],
                                      "true_label": "negative"})
    assert reply.status == 200
    assert reply.body["predicted_label"] == prediction["label"]
    assert reply.body["correct"] == (prediction["label"] == "negative")
    logged = prediction_log.read(deployed.path("prediction_log"), answer.body["batch_id"], with_feedback=True)
    assert logged["true_label"].tolist() == ["negative"]


def _feedback_rows(path, prediction_id: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT true_label, api_key_id FROM feedback WHERE "
                                  "prediction_id = ?", (prediction_id,)).fetchall()


def test_feedback_is_recorded_with_the_keys_public_name_never_the_key(client, service, deployed):
    answer = client.post("/predict", {"texts": ["Lovely staff, would return"]})
    prediction_id = answer.body["predictions"][0]["prediction_id"]
    assert client.post("/feedback", {"prediction_id": prediction_id,
                                     "true_label": "positive"}).status == 200
    log = deployed.path("prediction_log")
    assert _feedback_rows(log, prediction_id) == [("positive", guards.key_id(service.api_key))]
    assert service.api_key.encode() not in log.read_bytes()
    for digest in guards.key_digests([service.api_key]):  # nor the digest the service checks
        assert digest.hex() not in log.read_bytes().decode("latin-1")


def test_a_service_without_keys_records_feedback_without_a_key(tmp_path, deployed):
    log = tmp_path / "keyless.sqlite"
    with Service("sentiment", deployed.root, ("--log", str(log)),
                                api_key="") as running:
        client = running.client()
        answer = client.post("/predict", {"texts": ["Cold food"]})
        prediction_id = answer.body["predictions"][0]["prediction_id"]
        assert client.post("/feedback", {"prediction_id": prediction_id,
                                         "true_label": "negative"}).status == 200
        client.close()
    assert _feedback_rows(log, prediction_id) == [("negative", None)]


EXPECTED = {
    "invalid JSON": (400, "not valid JSON"),
    "no body": (422, "missing"),
    "body is not an object": (422, "JSON object"),
    "texts is not a list": (422, "texts: Input should be a valid list"),
    "a text is not a string": (422, "texts[1]: Input should be a valid string"),
    "unknown field": (422, "extra"),
    "empty list": (422, "texts is empty"),
    "blank text": (422, "texts[1]: empty text"),
    "too many texts": (422, "too many texts: 6 in one request, at most 5"),
    "text too long": (422, "texts[0]: text longer than 300 characters"),
    "body too large": (413, "larger than 4,000 bytes"),
    "not JSON content type": (415, "application/json"),
    "unknown prediction id": (404, "unknown prediction id 'no-such-id'"),
    "unknown label in feedback": (422, "true_label 'maybe' is not one of: negative, positive"),
    "unknown endpoint": (404, "Not Found"),
    "wrong method": (405, "Method Not Allowed"),
}


def test_every_bad_request_gets_a_clear_4xx(client, deployed):
    before = prediction_log.count(deployed.path("prediction_log"))
    info = client.get("/model").body
    answers = {case: (status, detail)
               for case, status, detail in service_client.try_bad_requests(client, info)}
    assert set(answers) == set(EXPECTED)
    for case, (status, text) in EXPECTED.items():
        assert answers[case][0] == status, (case, answers[case])
        assert text in answers[case][1], (case, answers[case])
    # nothing was logged, and the service still answers good requests
    assert prediction_log.count(deployed.path("prediction_log")) == before
    assert client.post("/predict", {"texts": ["great"]}).status == 200


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(service):
    host, port = service.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (b"z" * 1000 for _ in range(5))  # 5,000 bytes, no Content-Length
    connection.request("POST", "/predict", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "application/json",
                                "Authorization": f"Bearer {service.api_key}"})
    answer = connection.getresponse()
    assert answer.status == 413
    assert "larger than" in json.loads(answer.read())["detail"]
    connection.close()


def test_concurrent_requests_lose_no_row(service, deployed):
    answered: list[str] = []
    failures: list[object] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = service.client(timeout=30)
        try:
            for i in range(8):
                answer = client.post("/predict", {"texts": [f"great film {n} {i}", f"awful {i}"]})
                if answer.status != 200:
                    failures.append(answer)
                    continue
                with lock:
                    answered.extend(p["prediction_id"] for p in answer.body["predictions"])
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert len(answered) == 8 * 8 * 2
    with sqlite3.connect(deployed.path("prediction_log")) as db:
        placeholders = ", ".join("?" * len(answered))
        found = db.execute(
            f"SELECT COUNT(*) FROM predictions WHERE prediction_id IN ({placeholders})", answered
        ).fetchone()[0]
    assert found == len(answered)


def test_privacy_setting_logs_only_the_hash(tmp_path, deployed):
    log = tmp_path / "private.sqlite"
    with Service("sentiment", deployed.root, ("--hash-texts", "--log", str(log))) as running:
        client = running.client()
        answer = client.post("/predict", {"texts": ["a secret review, great"]})
        client.close()
    row = prediction_log.read(log, answer.body["batch_id"]).iloc[0]
    assert row["text"] is None and len(row["text_sha256"]) == 64 and row["text_length"] == 22


def test_every_endpoint_but_health_needs_a_valid_key(service):
    good = service.client()
    missing = service.client(api_key="")
    wrong = service.client(api_key="not-the-key-" + "x" * 20)
    try:
        assert missing.get("/health").status == 200  # open: probes need no key
        for method, path, payload in (("POST", "/predict", {"texts": ["great"]}),
                                      ("GET", "/model", None),
                                      ("POST", "/feedback", {"prediction_id": "x",
                                                             "true_label": "positive"})):
            for client, reason in ((missing, "needs an API key"), (wrong, "not valid")):
                answer = client.request(method, path, payload)
                assert answer.status == 401, (path, answer.body)
                assert reason in answer.body["detail"]
                assert service.api_key not in answer.body["detail"]
        assert good.post("/predict", {"texts": ["great"]}).status == 200
        assert good.get("/model").status == 200
    finally:
        for client in (good, missing, wrong):
            client.close()
    assert service.api_key not in service.errors()  # never logged


def _burst(service, requests: list[list[str]], threads: int = 8) -> list[object]:
    """Send ``requests`` from ``threads`` concurrent clients; the answer of each, in order."""
    answers: list[object] = [None] * len(requests)
    barrier = threading.Barrier(threads)

    def worker(n: int) -> None:
        client = service.client(timeout=60)
        barrier.wait()
        try:
            for i in range(n, len(requests), threads):
                answers[i] = client.post("/predict", {"texts": requests[i]})
        finally:
            client.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    return answers


def test_under_a_burst_every_request_gets_its_own_predictions_in_order(service, deployed):
    requests = [[f"great film {i} take {k}" if k % 2 else f"cold food {i} take {k}"
                 for k in range(1 + i % 3)] for i in range(96)]
    answers = _burst(service, requests, threads=16)
    ids = []
    for texts, answer in zip(requests, answers, strict=True):
        assert answer.status == 200, answer.body
        logged = prediction_log.read(deployed.path("prediction_log"), answer.body["batch_id"])
        assert logged["text"].tolist() == texts
        assert logged["prediction_id"].tolist() == [p["prediction_id"]
                                                    for p in answer.body["predictions"]]
        assert logged["label"].tolist() == [p["label"] for p in answer.body["predictions"]]
        ids += logged["prediction_id"].tolist()
    assert len(set(ids)) == sum(map(len, requests))  # no answer was given twice


def test_when_the_log_fails_requests_get_503_and_nothing_is_logged(service, deployed):
    log = deployed.path("prediction_log")
    before = prediction_log.count(log)
    with sqlite3.connect(log) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON predictions "
                   "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    try:
        answers = _burst(service, [[f"great film {i}", "awful"] for i in range(24)])
    finally:
        with sqlite3.connect(log) as db:
            db.execute("DROP TRIGGER refuse")
    assert {a.status for a in answers} == {503}
    assert "prediction log is unavailable" in answers[0].body["detail"]
    assert "predictions" not in answers[0].body
    assert prediction_log.count(log) == before
    client = service.client()
    assert client.post("/predict", {"texts": ["great"]}).status == 200  # and it recovers
    client.close()


def test_requests_over_the_limits_get_the_same_4xx_with_batching_off(deployed, service):
    with Service("sentiment", deployed.root,
                 (*LIMITS, "--max-batch", "1")) as unbatched:
        answers = {}
        for running in (service, unbatched):
            client = running.client()
            info = client.get("/model").body
            answers[running.url] = [(case, status) for case, status, _ in
                                    service_client.try_bad_requests(client, info)]
            client.close()
    batched, alone = answers.values()
    assert batched == alone
    assert dict(batched) == {case: status for case, (status, _) in EXPECTED.items()}


def test_two_workers_share_the_log_and_lose_no_row(tmp_path, deployed):
    log = tmp_path / "shared.sqlite"
    requests = [[f"great film {i}", f"awful food {i}"] for i in range(160)]
    with Service("sentiment", deployed.root,
                 ("--workers", "2", "--log", str(log))) as running:
        workers = psutil.Process(running.process.pid).children()
        answers = _burst(running, requests, threads=16)
    assert len(workers) >= 2
    assert {a.status for a in answers} == {200}
    answered = [p["prediction_id"] for a in answers for p in a.body["predictions"]]
    rows = prediction_log.read(log)
    assert len(answered) == len(set(answered)) == 320
    assert sorted(rows["prediction_id"]) == sorted(answered)


def test_invalid_scores_get_500_with_a_request_id_are_logged_and_fire_the_alert(
        deployed_project, forged_deployment):
    model = deployed_project.read("final_model")
    column = word_vectorizer(model).vocabulary_["great"]
    model[-1].coef_[0, column] = np.nan  # a real fitted pipeline answering NaN for "great"
    cat = forged_deployment(model)  # stage 6's canary would refuse to deploy it
    log = cat.root / "nan.sqlite"
    with Service("sentiment", cat.root, ("--log", str(log))) as running:
        client = running.client()
        good = client.post("/predict", {"texts": ["awful food"]})
        assert client.get("/health").body["status"] == "ok"
        answer = client.post("/predict", {"texts": ["great film", "awful food"]})
        health = client.get("/health")
        client.close()
        server_log = running.errors()
    assert good.status == 200 and good.headers["x-request-id"] == good.body["batch_id"]
    assert answer.status == 500
    request_id = answer.body["request_id"]
    assert answer.headers["x-request-id"] == request_id
    assert "1 of 2 scores that are not finite numbers in [0, 1]" in answer.body["detail"]
    assert f"request {request_id} answered 500" in server_log
    rows = prediction_log.read(log, request_id)  # what was answered was logged, with the error
    assert rows["text"].tolist() == ["great film", "awful food"]
    assert rows["error"].str.startswith("the model returned an invalid score").tolist() == [
        True, False]
    assert health.status == 503 and health.body["status"] == "degraded"
    assert "1 of the last 2 requests failed in the model" in health.body["reasons"][0]
    assert health.body["model_version"]
    result = monitor.run(cat, window_size=10, log_path=log, record=False)
    fired = result.fired.set_index("metric")
    assert fired.loc["invalid_scores", "value"] == 1  # from the log alone
    assert result.reports["scoring_errors"].iloc[0] == 1


def test_health_is_degraded_while_the_log_cannot_be_written(tmp_path, deployed):
    log = tmp_path / "refusing.sqlite"
    prediction_log.append(log, [], "v", "test")  # creates the log
    with sqlite3.connect(log) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON predictions "
                   "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
    with Service("sentiment", deployed.root, ("--log", str(log))) as running:
        client = running.client()
        assert client.post("/predict", {"texts": ["great"]}).status == 503
        degraded = client.get("/health")
        with sqlite3.connect(log) as db:
            db.execute("DROP TRIGGER refuse")
        assert client.post("/predict", {"texts": ["great"]}).status == 200
        recovered = client.get("/health")
        client.close()
    assert degraded.status == 503 and degraded.body["status"] == "degraded"
    assert "prediction log cannot be written" in degraded.body["reasons"][0]
    assert "injected failure" in degraded.body["reasons"][0]
    assert recovered.status == 200 and recovered.body["status"] == "ok"


def test_no_request_is_shed_at_the_stated_concurrency(deployed, tmp_path):
    """8 clients and a health probe against --max-concurrency 8: nothing is shed.

    uvicorn's own limit (which the service used to be given) counts request tasks, and a
    task leaves its set one event-loop turn after its answer was sent: with a whole batch
    answered in one turn and its clients' next requests read in the same turn, it counted
    about twice the requests in flight and shed at half the stated limit.
    """
    stop = threading.Event()
    probes: list[int] = []

    def probe(running) -> None:
        client = running.client(api_key="")
        while not stop.is_set():
            probes.append(client.get("/health").status)
            client.close()  # a new connection each time, as a load balancer's probe
            time.sleep(0.01)

    requests = [[f"great film {i}"] for i in range(480)]
    with Service("sentiment", deployed.root,
                                ("--max-concurrency", "8", "--log",
                                 str(tmp_path / "log.sqlite"))) as running:
        prober = threading.Thread(target=probe, args=(running,))
        prober.start()
        try:
            answers = _burst(running, requests, threads=8)
        finally:
            stop.set()
            prober.join(30)
        health = running.client().get("/health").body
    assert [a.status for a in answers] == [200] * len(requests)
    assert set(probes) == {200}
    assert health["load"]["shed"] == 0 and health["load"]["max_concurrency"] == 8
    assert health["load"]["peak_in_flight"] <= 8
