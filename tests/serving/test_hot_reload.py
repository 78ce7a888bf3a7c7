"""Hot reload: the running service switches to a new release or a rollback without a restart,
refuses a broken release while the old model serves, and every answer names the model that
scored it, as its log rows do."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import evaluate_small_model, train_small_model
from service_harness import Service
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared.core.manifest import verify
from shared.core.records import TrainingReport
from shared.core.text_rules import clean_text
from shared.deploy import deployment, release
from shared.serving import prediction_log
from shared.serving.batching import Batcher
from shared.serving.hot_reload import ReleaseRefused, load_release
from shared.serving.predictor import Predictor


@pytest.fixture(scope="module")
def two_releases(deployed):
    """The fixture's release, then a second one of another model (C=1 instead of 10)."""
    first = verify(deployed.deployed_dir)
    evaluate_small_model(deployed, train_small_model(deployed, c=1.0))
    second = deployment.deploy(deployed, TrainingReport.load(deployed), allow_failed_gate=True)
    assert second.model_version != first.model_version
    return deployed, first, second


def _wait_for(condition, seconds: float = 60.0, state=lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {seconds:g} s: {state()}"
        time.sleep(0.05)


def test_a_batch_finishes_on_the_model_it_started_with(tmp_path, deployed_project):
    old = Predictor.from_deployed(deployed_project.deployed_dir)
    new = replace(old, model_version="f" * 12)
    log = tmp_path / "log.sqlite"
    batcher = Batcher(old, log, "test")
    score = old.score

    def score_while_a_swap_lands(texts, checked=False):
        batcher.predictor = new  # what the hot reload does, here in the middle of the batch
        return score(texts, checked)

    old.score = score_while_a_swap_lands

    async def two_requests():
        try:
            return await batcher.submit(["great film"]), await batcher.submit(["awful food"])
        finally:
            await batcher.close()

    during, after = asyncio.run(two_requests())
    assert during.model_version == old.model_version  # the batch kept its model
    assert after.model_version == new.model_version   # the next batch took the new one
    for answer in (during, after):
        rows = prediction_log.read(log, answer.batch_id)
        assert rows["model_version"].tolist() == [answer.model_version]


def test_the_service_switches_on_deploy_and_rollback_under_concurrent_requests(
        two_releases, tmp_path):
    cat, first, second = two_releases
    assert release.live_release(cat) == second.release
    log = tmp_path / "reload.sqlite"
    answers: list[tuple[int, object]] = []
    failures: list[object] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client_loop(service, n: int) -> None:
        client = service.client(timeout=30)
        i = 0
        try:
            while not stop.is_set():
                answer = client.post("/predict", {"texts": [f"great film {n} {i}", "awful"]})
                i += 1
                with lock:
                    (answers if answer.status == 200 else failures).append((n, answer))
        except Exception as error:  # noqa: BLE001 - a connection error is a failed request
            failures.append((n, error))
        finally:
            client.close()

    with Service("sentiment", cat.root, ("--workers", "2", "--log", str(log),
                                         "--reload-interval", "0.2")) as running:
        threads = [threading.Thread(target=client_loop, args=(running, n)) for n in range(6)]
        for thread in threads:
            thread.start()

        def served_everywhere(version: str, name: str, swaps: int) -> bool:
            # each worker said it switched, and the last 20 answers came from the version
            if running.errors().count(f"now serves release {name}") < swaps:
                return False
            with lock:
                recent = [a.body["model_version"] for _, a in answers[-20:]]
            return len(recent) == 20 and set(recent) == {version}

        def state() -> str:
            with lock:
                recent = [a.body["model_version"] for _, a in answers[-20:]]
            return (f"{len(answers)} answers, the last 20 from {sorted(set(recent))}, "
                    f"{len(failures)} failures; server log: {running.errors()[-1500:]}")

        pids: set[int] = set()

        def both_workers_answer() -> bool:
            # a worker still starting would load the new release directly, without a swap
            client = running.client()
            pids.add(client.get("/health").body["reload"]["pid"])
            client.close()
            return len(pids) == 2

        try:
            _wait_for(both_workers_answer, state=lambda: f"pids {pids}")
            _wait_for(lambda: served_everywhere(second.model_version, second.release, 0),
                      state=state)
            release.rollback(cat, first.release)  # what `python -m shared release rollback` does
            _wait_for(lambda: served_everywhere(first.model_version, first.release, 2),
                      state=state)
            release.activate(cat, second.release)  # the newer release goes live again
            _wait_for(lambda: served_everywhere(second.model_version, second.release, 2),
                      state=state)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        health = running.client().get("/health").body
        errors = running.errors()
    assert not failures, failures[:3]
    versions = [a.body["model_version"] for _, a in answers]
    assert {first.model_version, second.model_version} == set(versions)
    # each client saw second, then first, then second again: one switch each way, no flapping
    for n in range(6):
        mine = [a.body["model_version"] for m, a in answers if m == n]
        runs = [v for i, v in enumerate(mine) if i == 0 or v != mine[i - 1]]
        assert runs == [second.model_version, first.model_version, second.model_version], runs
    # answered = logged, and every answer names the model its log rows name
    rows = prediction_log.read(log).set_index("prediction_id")
    answered = {p["prediction_id"]: a.body["model_version"]
                for _, a in answers for p in a.body["predictions"]}
    assert len(rows) == len(answered) == 2 * len(answers)
    assert all(rows.loc[pid, "model_version"] == version for pid, version in answered.items())
    assert health["status"] == "ok" and health["release"] == second.release
    assert health["reload"]["reloads"] >= 2 and health["reload"]["refused"] is None
    assert health["load"]["shed"] == 0
    for name in (first.release, second.release):  # each worker switched once each way
        assert errors.count(f"now serves release {name}") == 2
    assert "Traceback" not in errors


def _broken_release(cat, name: str, source_dir) -> str:
    """Copy ``source_dir`` into ``releases/`` as release ``name`` and make it live (no checks)."""
    shutil.copytree(source_dir, cat.releases_dir / name)
    release.activate(cat, name)
    return name


def test_a_broken_release_is_refused_while_the_old_model_serves(
        two_releases, forged_deployment, deployed_project):
    cat, _, second = two_releases
    release.activate(cat, second.release)
    # a release whose model file changed after deployment (its hash no longer matches)
    tampered = cat.releases_dir / "0097-aaaaaaaaaaaa"
    shutil.copytree(cat.releases_dir / second.release, tampered)
    with open(tampered / "reference_predictions.csv", "a", encoding="utf-8") as handle:
        handle.write("tampered,positive,0.9,positive,0.9\n")
    # a model holding a function nobody vouched for, its hash forged to match
    untrusted = forged_deployment(Pipeline([("f", FunctionTransformer(clean_text))]))
    # a real model that answers NaN for everything: the warm-up refuses it
    nan_model = deployed_project.read("final_model")
    nan_model[-1].intercept_[:] = np.nan
    nan_release = forged_deployment(nan_model)
    expected = {
        tampered.name: "reference_predictions.csv does not match manifest.json",
        "0098-bbbbbbbbbbbb": "untrusted types",
        "0099-cccccccccccc": "the model failed its warm-up",
    }
    with Service("sentiment", cat.root, ("--reload-interval", "0.2")) as running:
        client = running.client()
        for name, reason in expected.items():
            if name == "0098-bbbbbbbbbbbb":
                _broken_release(cat, name, untrusted.deployed_dir)
            elif name == "0099-cccccccccccc":
                _broken_release(cat, name, nan_release.deployed_dir)
            else:
                release.activate(cat, name)
            _wait_for(lambda n=name: (client.get("/health").body["reload"]["refused"] or {})
                      .get("release") == n)
            health = client.get("/health")
            answer = client.post("/predict", {"texts": ["great film"]})
            forced = client.post("/admin/reload")
            assert health.status == 200  # every request is still answered: not taken out
            assert health.body["status"] == "degraded"
            assert health.body["release"] == second.release
            assert health.body["model_version"] == second.model_version
            assert f"release {name} was refused" in health.body["reasons"][0]
            assert reason in health.body["reasons"][0]
            assert answer.status == 200 and answer.body["model_version"] == second.model_version
            assert forced.status == 409 and forced.body["outcome"] == "refused"
            assert reason in forced.body["refused"]["reason"]
        release.activate(cat, second.release)  # the operator rolls back to the serving release
        _wait_for(lambda: client.get("/health").body["status"] == "ok")
        assert client.post("/admin/reload").body["outcome"] == "unchanged"
        client.close()
        errors = running.errors()
    # each broken release refused once by the watcher and once by the forced reload, not
    # again at every look of the watcher
    assert errors.count("refused release") == 6
    assert "Traceback" not in errors


def test_load_release_refuses_with_the_same_words_as_the_start_up(tmp_path):
    with pytest.raises(ReleaseRefused, match="no deployed model in .*stage 6"):
        load_release(tmp_path / "models" / "sentiment" / "deployed")


def test_admin_reload_needs_the_key(two_releases):
    cat, _, second = two_releases
    release.activate(cat, second.release)
    with Service("sentiment", cat.root, ("--reload-interval", "0",)) as running:
        no_key = running.client(api_key="").post("/admin/reload")
        wrong = running.client(api_key="not-the-key-" + "x" * 20).post("/admin/reload")
        good = running.client().post("/admin/reload")
        health = running.client().get("/health").body
    assert no_key.status == wrong.status == 401
    assert good.status == 200 and good.body["outcome"] == "unchanged"
    assert good.body["release"] == second.release
    assert health["reload"]["watching"] is False


def test_without_watching_a_reload_waits_for_the_admin_call(two_releases):
    cat, first, second = two_releases
    release.activate(cat, second.release)
    with Service("sentiment", cat.root, ("--reload-interval", "0"), api_key="") as running:
        client = running.client()  # no key: the service runs on loopback without one
        release.activate(cat, first.release)
        time.sleep(0.5)
        still = client.get("/health").body["release"]
        reloaded = client.post("/admin/reload")
        health = client.get("/health").body
        client.close()
    release.activate(cat, second.release)
    assert still == second.release
    assert reloaded.status == 200 and reloaded.body["outcome"] == "reloaded"
    assert (health["release"], health["model_version"]) == (first.release, first.model_version)
    assert health["reload"]["last_swap"]["from"] == second.release


def test_a_nan_model_is_refused_at_start_up_too(forged_deployment, deployed_project):
    model = deployed_project.read("final_model")
    model[-1].intercept_[:] = np.nan
    cat = forged_deployment(model)
    with pytest.raises(ReleaseRefused, match="the model failed its warm-up: the model returned "
                       "an invalid score"):
        load_release(cat.deployed_dir)
