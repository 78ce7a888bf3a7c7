"""The HTTP service, for real: a subprocess on a free loopback port, real HTTP requests.

``make_deployed`` builds a small deployed folder (built-in sentiment reviews, a
TF-IDF + logistic-regression pipeline, manifest with SHA-256 hashes) that the
monitor and batch-command tests reuse.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared import catalog, evaluation, persistence, predlog, serve
from shared.catalog import PROJECT_DIR, Catalog
from shared.tasks import get_task
from shared.text import TextCleaner, word_count

LIMITS = ["--max-texts", "5", "--max-text-chars", "300", "--max-body-bytes", "4000"]


def _model() -> Pipeline:
    return Pipeline([
        ("clean", TextCleaner()),
        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("clf", LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000)),
    ])


def write_deployed(cat: Catalog, model, reference: pd.DataFrame, task: str = "sentiment") -> None:
    """The deployed folder as stage 6 writes it: files, then a manifest of their hashes."""
    spec = get_task(task).spec
    test_metrics = evaluation.binary_metrics(reference["label"], reference["score"], 0.5, spec)
    metrics = {"threshold": 0.5, "test": test_metrics, "baseline": test_metrics,
               "gate": {"passed": True, "checks": []}, "problem": spec.to_dict()}
    persistence.save_model(model, cat.deployed_model)
    catalog.write_json(cat.deployed_metrics, metrics)
    catalog.write_json(cat.deployed_problem_spec, spec.to_dict())
    catalog.write_csv(cat.deployed_reference, reference)
    catalog.write_text(cat.model_card, f"# Model card: {task} (test)\n\n## What it does\nA test.\n")
    files = [cat.deployed_model, cat.deployed_metrics, cat.deployed_problem_spec,
             cat.deployed_reference, cat.model_card]
    hashes = {p.name: catalog.sha256_file(p) for p in files}
    catalog.write_json(cat.manifest, {
        "task": task, "model_version": hashes["model.skops"][:12], "files": hashes,
        "training_data_sha256": "0" * 64, "libraries": persistence.library_versions(),
        "metrics": metrics, "problem": spec.to_dict(),
    })


def make_deployed(root: Path, task: str = "sentiment") -> Catalog:
    """A deployed model of ``task`` under ``root``, trained on its built-in data."""
    cat = Catalog.for_task(task, root)
    spec = get_task(task).spec
    data = catalog.read_csv(get_task(task).builtin_dataset)
    train, test = train_test_split(data, test_size=0.2, stratify=data["label"], random_state=0)
    model = _model().fit(train["text"], train["label"])
    scores = evaluation.positive_scores(model, test["text"], spec)
    reference = test[["text", "label"]].assign(
        score=scores, predicted=evaluation.predict_labels(scores, 0.5, spec),
        confidence=evaluation.confidence(scores, 0.5),
    )
    catalog.write_csv(cat.split("train"), train)
    write_deployed(cat, model, reference, task)
    return cat


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Catalog:
    return make_deployed(tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="module")
def service(deployed):
    with serve.Service("sentiment", deployed.root, tuple(LIMITS)) as running:
        yield running


@pytest.fixture
def client(service):
    client = service.client(timeout=30)
    yield client
    client.close()


def test_listens_on_loopback_by_default(service):
    assert serve.Settings().host == "127.0.0.1"
    assert service.url.startswith("http://127.0.0.1:")


def test_health_and_model(client, deployed):
    manifest = catalog.read_json(deployed.manifest)
    health = client.get("/health")
    assert health.status == 200
    assert health.body["model_loaded"] is True
    assert health.body["model_version"] == manifest["model_version"]
    assert health.body["model_sha256"] == manifest["files"]["model.skops"]
    info = client.get("/model").body
    assert info["files"] == manifest["files"]
    assert info["labels"] == ["negative", "positive"]
    assert info["limits"] == {"max_body_bytes": 4000, "max_texts": 5, "max_text_chars": 300}
    assert info["model_card"]["title"] == "Model card: sentiment (test)"
    assert 0 <= info["metrics"]["f1"] <= 1


def test_predict_answers_every_text_and_logs_it(client, deployed):
    texts = ["Wonderful film, superb acting", "Cold food and rude staff", "It arrived."]
    answer = client.post("/predict", {"texts": texts})
    assert answer.status == 200, answer.body
    predictions = answer.body["predictions"]
    assert [p["label"] for p in predictions][:2] == ["positive", "negative"]
    assert all(0.5 <= p["confidence"] <= 1 for p in predictions)
    assert len({p["prediction_id"] for p in predictions}) == 3
    logged = predlog.read(deployed.prediction_log, answer.body["batch_id"])
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
    logged = predlog.read(deployed.prediction_log, answer.body["batch_id"], with_feedback=True)
    assert logged["true_label"].tolist() == ["negative"]


EXPECTED = {
    "invalid JSON": (400, "not valid JSON"),
    "no body": (422, "missing"),
    "body is not an object": (422, "JSON object"),
    "texts is not a list": (422, "texts: Input should be a valid list"),
    "a text is not a string": (422, "texts[1]: Input should be a valid string"),
    "unknown field": (422, "extra"),
    "empty list": (422, "texts is empty"),
    "blank text": (422, "texts[1]: text is empty or blank"),
    "too many texts": (422, "too many texts: 6 in one request, at most 5"),
    "text too long": (422, "texts[0]: text is longer than 300 characters"),
    "body too large": (413, "larger than 4,000 bytes"),
    "not JSON content type": (415, "application/json"),
    "unknown prediction id": (404, "unknown prediction id 'no-such-id'"),
    "unknown label in feedback": (422, "true_label 'maybe' is not one of: negative, positive"),
    "unknown endpoint": (404, "Not Found"),
    "wrong method": (405, "Method Not Allowed"),
}


def test_every_bad_request_gets_a_clear_4xx(client, deployed):
    before = predlog.count(deployed.prediction_log)
    info = client.get("/model").body
    answers = {case: (status, detail) for case, status, detail in serve.try_bad_requests(client, info)}
    assert set(answers) == set(EXPECTED)
    for case, (status, text) in EXPECTED.items():
        assert answers[case][0] == status, (case, answers[case])
        assert text in answers[case][1], (case, answers[case])
    # nothing was logged, and the service still answers good requests
    assert predlog.count(deployed.prediction_log) == before
    assert client.post("/predict", {"texts": ["great"]}).status == 200


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(service):
    host, port = service.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    chunks = (b"z" * 1000 for _ in range(5))  # 5,000 bytes, no Content-Length
    connection.request("POST", "/predict", body=chunks, encode_chunked=True,
                       headers={"Content-Type": "application/json"})
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
    with sqlite3.connect(deployed.prediction_log) as db:
        placeholders = ", ".join("?" * len(answered))
        found = db.execute(
            f"SELECT COUNT(*) FROM predictions WHERE prediction_id IN ({placeholders})", answered
        ).fetchone()[0]
    assert found == len(answered)


def test_privacy_setting_logs_only_the_hash(tmp_path, deployed):
    log = tmp_path / "private.sqlite"
    with serve.Service("sentiment", deployed.root, ("--hash-texts", "--log", str(log))) as running:
        client = running.client()
        answer = client.post("/predict", {"texts": ["a secret review, great"]})
        client.close()
    row = predlog.read(log, answer.body["batch_id"]).iloc[0]
    assert row["text"] is None and len(row["text_sha256"]) == 64 and row["text_length"] == 22


@pytest.fixture(scope="module")
def refusals(tmp_path_factory, deployed) -> dict[str, subprocess.CompletedProcess]:
    """Try to start the service on three broken deployments at once (they start in parallel)."""
    import shutil

    roots = {name: tmp_path_factory.mktemp(name) for name in ("tampered", "untrusted", "missing")}
    tampered = Catalog.for_task("sentiment", roots["tampered"])
    shutil.copytree(deployed.deployed_dir, tampered.deployed_dir)
    with open(tampered.deployed_reference, "a", encoding="utf-8") as handle:
        handle.write("tampered,positive,0.9,positive,0.9\n")
    write_deployed(Catalog.for_task("sentiment", roots["untrusted"]),
                   Pipeline([("f", FunctionTransformer(word_count))]),
                   catalog.read_csv(deployed.deployed_reference))
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "shared.serve", "--task", "sentiment", "--root", str(root),
             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=PROJECT_DIR,
        )
        for name, root in roots.items()
    }
    results = {}
    for name, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


def test_refuses_to_start_when_a_file_does_not_match_the_manifest(refusals):
    result = refusals["tampered"]
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "reference_predictions.csv does not match manifest.json" in result.stderr
    assert result.stdout == ""  # it never announced an address


def test_refuses_to_start_on_an_untrusted_type(refusals):
    result = refusals["untrusted"]
    assert result.returncode == 2
    assert "untrusted" in result.stderr and "shared.text.word_count" in result.stderr


def test_refuses_to_start_without_a_deployed_model(refusals):
    result = refusals["missing"]
    assert result.returncode == 2
    assert "no deployed model" in result.stderr and "stage 6" in result.stderr
