"""Fixtures shared by the tests, each made by the project's own code.

- ``spec`` / ``spam_spec``: the built-in tasks' problem specs;
- ``toy_corpus`` and ``toy_model``: twelve short reviews and a pipeline fitted on them;
- ``write_file``, ``load_and_validate``, ``reasons_by_row``: stage 2 on a file a test writes;
- ``deployed``: a project folder whose model went through stages 1 to 6 in-process (the
  real split, a real fit, the real evaluation records with behavioural tests, and the real
  ``deploy`` with its canary), with a small, fast model instead of the model search; built
  once per session and copied for each module; ``evaluate_small_model`` and
  ``train_small_model`` re-run stage 5 for another candidate.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from shared.core import modelfile, problem, storage
from shared.core.catalog import Catalog
from shared.core.problem import ProblemSpec
from shared.core.records import EvaluationReport, TrainingReport, ValidatedData
from shared.data import preparation, sources, tasks, validation
from shared.data.tasks import get_task
from shared.deploy import deployment
from shared.model import behaviour, calibration, evaluation, models, training
from shared.model.decision import choose_threshold
from shared.model.metrics import binary_metrics
from shared.model.scoring import positive_scores

#: make test's longest units of work (a minute or so each), handed out first
LONGEST_FIRST = ("notebooks", "tests/test_e2e.py", "tests/test_e2e_out_of_core.py")


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which would choose by --dist alone
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``make test``'s workers (pytest-xdist, ``--dist loadfile``): each test file on one
    worker, as loadfile does, and all the notebooks on one worker, in order, since notebook NN
    reads what the notebooks before it wrote to the project folder. (xdist's loadgroup would
    say this with markers, but under pytest 9 it cannot rename the items it groups.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndNotebooksInOrder(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks" if path.endswith(".ipynb") else path

        def _assign_work_unit(self, node: object) -> None:
            if not self.ordered:  # the longest units first, so no worker ends on one alone
                for scope in reversed(LONGEST_FIRST):
                    if scope in self.workqueue:
                        self.workqueue.move_to_end(scope, last=False)
                self.ordered = True
            super()._assign_work_unit(node)

    return FilesAndNotebooksInOrder(config, log)


TOY_TEXTS = [
    "I loved this, wonderful and great",
    "great value, works perfectly, love it",
    "wonderful film, superb acting",
    "excellent food and lovely staff",
    "superb, would gladly buy again",
    "lovely little gadget, great battery",
    "terrible, broke after a day",
    "awful service and cold food",
    "boring film, awful script",
    "broke on arrival, terrible support",
    "cold, bland and awful",
    "terrible battery, boring design",
]
TOY_LABELS = ["positive"] * 6 + ["negative"] * 6


def small_model(seed: int = 0) -> object:
    """Word TF-IDF and a logistic regression: the fastest of the stage-4 families."""
    return models.text_pipeline(
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000, random_state=seed)
    )


@pytest.fixture
def spec() -> ProblemSpec:
    return get_task("sentiment").spec


@pytest.fixture
def spam_spec() -> ProblemSpec:
    return get_task("spam").spec


@pytest.fixture
def toy_corpus() -> tuple[list[str], list[str]]:
    return list(TOY_TEXTS), list(TOY_LABELS)


@pytest.fixture
def toy_model():
    """A fresh small pipeline fitted on the toy corpus."""
    return small_model().fit(TOY_TEXTS, TOY_LABELS)


@pytest.fixture
def write_file(tmp_path) -> Callable[[str, str | bytes], Path]:
    """Write text (UTF-8) or bytes to a file of that name in the test's folder."""

    def write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def load_and_validate() -> Callable[..., ValidatedData]:
    """Stage 2 on a path: load, validate, and check that rows read = kept + quarantined."""

    def run(path: Path, task: str = "sentiment", **kwargs) -> ValidatedData:
        data = sources.load_dataset(str(path), task, **kwargs)
        validated = validation.validate(data, get_task(task).spec)
        validation.check_reconciled(data, validated)  # raises unless they add up
        return validated

    return run


@pytest.fixture
def reasons_by_row() -> Callable[[ValidatedData], dict[int, str]]:
    """The quarantine as {row number: reason}."""
    return lambda validated: dict(zip(validated.quarantined["row"],
                                      validated.quarantined["reason"], strict=True))


def evaluate_small_model(cat: Catalog, model: object | None = None) -> EvaluationReport:
    """Stage 5 in-process for the spec stage 1 wrote: metrics, intervals, slices, behavioural
    tests and the gate, then its three files. ``model`` (fitted on the training split)
    replaces stage 4's; the calibration search is skipped, and the threshold is chosen on
    stage 4's out-of-fold scores by the spec's rule."""
    spec = problem.load(cat)
    test = cat.read("test")
    model = cat.read("trained_model") if model is None else model
    baseline = cat.read("baseline_model")
    brier = pd.DataFrame({"method": ["none"], "brier": [0.0]})
    oof = cat.read("oof_predictions")["score"].to_numpy()
    calibrated = calibration.CalibrationResult(model, "none", brier, oof)
    threshold = choose_threshold(cat.read("train")["label"], oof, spec)
    scores = positive_scores(model, test["text"], spec.positive_label)
    baseline_scores = positive_scores(baseline, test["text"], spec.positive_label)
    checked = behaviour.run(model, behaviour.load_cases(cat.path("behaviour_cases"), spec),
                            threshold, spec)
    evaluated = evaluation.report(
        spec, threshold, binary_metrics(test["label"], scores, threshold, spec.positive_label),
        binary_metrics(test["label"], baseline_scores, threshold, spec.positive_label),
        evaluation.bootstrap_intervals(test["label"], scores, threshold, spec, n_resamples=50),
        calibrated, test["label"], scores,
        evaluation.slice_metrics(test, scores, threshold, spec, checked),
        models.term_weights(model), TrainingReport.load(cat), checked,
    )
    evaluation.save(cat, model, evaluated,
                    evaluation.reference_predictions(test, scores, threshold, spec))
    return evaluated


def train_small_model(cat: Catalog, c: float = 10.0, rows: int | None = None) -> object:
    """:func:`small_model` with ``C=c``, fitted on the training split stage 3 wrote (on its
    first ``rows`` texts only, for a deliberately weaker model)."""
    train = cat.read("train").head(rows)
    model = small_model(problem.load(cat).seed).set_params(clf__C=c)
    return model.fit(train["text"], train["label"])


def deploy_small_model(root: Path, task: str = "sentiment", dataset: str = "builtin",
                       overrides: dict | None = None, rows: int | None = None,
                       allow_failed_gate: bool = False) -> Catalog:
    """Stages 1 to 6 in-process under ``root``, with :func:`small_model` for the search.

    ``overrides`` are the run's ``-p`` values (stage-1 fields, and stage 3's
    ``hash_split``); with ``rows``, stage 5 evaluates a weaker model fitted on the first
    ``rows`` training texts (:func:`train_small_model`) instead of stage 4's.
    """
    overrides = dict(overrides or {})
    hash_split = overrides.pop("hash_split", None)
    cat = Catalog.for_task(task, root)
    spec, _ = tasks.run_spec(task, dataset, **overrides)
    problem.save(spec, cat)
    loaded = sources.load_dataset(dataset, task)
    validation.save_collection(cat, loaded, validation.validate(loaded, spec), spec)
    clean, report = preparation.clean_and_deduplicate(cat.read("raw_snapshot"))
    splits = preparation.split(clean, spec, hash_split)
    preparation.save(cat, clean, report, splits)
    train = splits["train"]
    candidate = models.Candidate("logistic regression", "word TF-IDF, logistic regression", 2,
                                 small_model(spec.seed), {"quick": {"clf__C": [10.0]}})
    result = training.run_search([candidate], train, spec, "quick", "grid", n_jobs=1)
    choice = training.choose_configuration(result, [candidate], "best", spec.cv_folds)
    model = choice.model
    unconverged = training.fit_final(model, train["text"], train["label"])
    baseline = models.majority_baseline().fit(train["text"], train["label"])
    report = training.search_report(choice.row, choice.reason, result.table, {"method": "grid"},
                                    candidate, loaded.origin, len(train), unconverged)
    training.save(cat, model, baseline, result.table, train, result.oof[choice.index], report)
    evaluate_small_model(cat, None if rows is None else train_small_model(cat, rows=rows))
    deployment.deploy(cat, report, allow_failed_gate=allow_failed_gate)
    return cat


@pytest.fixture(scope="session")
def deployed_template(tmp_path_factory) -> Path:
    """The project folder of one real deployment (stages 1 to 6), never handed to a test:
    :func:`deployed_project` and :func:`deployed` are copies of it."""
    return deploy_small_model(tmp_path_factory.mktemp("template")).root


def copy_of(template: Path, root: Path) -> Catalog:
    """A copy of a deployed project folder at ``root`` (the ``deployed`` link is relative, no
    file names the folder), so that the real stages run once per session."""
    shutil.copytree(template, root, symlinks=True, dirs_exist_ok=True)
    return Catalog.for_task("sentiment", root)


def free_port() -> int:
    """A loopback port nothing listens on at this moment: for a server a test starts, or as
    an address that refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: the stages :func:`track_a_run` records as ran (stage 7 is recorded as skipped)
TRACKED_STAGES = ("01", "02", "03", "04", "05", "06")


def recorder_events(root: Path, stages: list[tuple[str, str, str]], finish: str | None =
                    "FINISHED", uri: str | None = None) -> list[str]:
    """The JSON lines the runner sends its recorder (``shared.run.recorder``) for a run of the
    sentiment task under ``root``: start (with the notebooks' real parameters and one
    override), one event per ``(stage, action, produced_by)``, and ``finish``."""
    import time

    from shared.run import runner, tracking

    now = int(time.time() * 1000)  # runs recorded one after the other list in that order
    events = [{"start": {"uri": uri or tracking.embedded_uri(root), "root": str(root),
                         "task": "sentiment", "dataset": "builtin", "name": "sentiment run",
                         "started_ms": now, "overrides": {"target": 0.7},
                         "parameters": runner.notebook_parameters()}}]
    events += [{"stage": {"key": key, "action": action, "seconds": 1.5, "produced_by": producer,
                          "started_ms": now, "ended_ms": now + 1500}}
               for key, action, producer in stages]
    if finish:
        events.append({"finish": finish})
    return [json.dumps(event) for event in events]


def track_a_run(cat: Catalog, uri: str, skipped_from: str = "") -> object:
    """``cat``'s stages 1-6 recorded as ran and stage 7 as skipped (produced by
    ``skipped_from``) by the recorder's own loop, in this process (the recorder process and
    the runner's side are tested by tests/run/test_tracking.py and the runner's tests); returns
    the :class:`~shared.run.tracking.TrackedRun`. A tracking failure fails the test."""
    from shared.run import recorder, tracking

    stages = [(key, "ran", "") for key in TRACKED_STAGES] + [("07", "skipped", skipped_from)]
    answer = recorder.serve(recorder_events(cat.root, stages, uri=uri))
    if answer["warning"]:
        pytest.fail(answer["warning"])
    return tracking.TrackedRun(answer["run_id"], "sentiment run", uri, answer["stage_runs"],
                               standing=answer["standing"], release=answer["release"])


@pytest.fixture(scope="session")
def tracked_twice(tmp_path_factory, deployed_template) -> tuple[Catalog, str, object, object]:
    """A copy of the deployed project whose deployment the recorder recorded twice in its
    embedded store, the second run's stage 7 linked to the first's stage 6: the project, the
    store's URI and the two recorded runs. Tests must not change it."""
    from shared.run import tracking

    cat = copy_of(deployed_template, tmp_path_factory.mktemp("tracked"))
    uri = tracking.embedded_uri(cat.root)
    first = track_a_run(cat, uri)
    second = track_a_run(cat, uri, skipped_from=first.stage_runs["06"])
    return cat, uri, first, second


@pytest.fixture(scope="session")
def deployed_project(tmp_path_factory, deployed_template) -> Catalog:
    """A sentiment project deployed once for the session; tests must not change it."""
    return copy_of(deployed_template, tmp_path_factory.mktemp("deployed"))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, deployed_template) -> Catalog:
    """A sentiment project deployed for one test module, which may change its log, deploy
    again or roll back."""
    return copy_of(deployed_template, tmp_path_factory.mktemp("project"))


@pytest.fixture(scope="session")
def forged_deployment(tmp_path_factory, deployed_project) -> Callable[[object], Catalog]:
    """A copy of the deployed folder with its model swapped and the manifest rewritten to
    match: what someone who controls the folder could do, and what stage 6's gate and
    canary would have refused. What is left to refuse it are the checks at load time."""

    def forge(model: object) -> Catalog:
        cat = Catalog.for_task("sentiment", tmp_path_factory.mktemp("forged"))
        shutil.copytree(deployed_project.deployed_dir, cat.deployed_dir)
        path = modelfile.save_model(model, cat.path("deployed_model"))
        manifest = storage.read_json(cat.path("manifest"))
        manifest["files"][path.name] = storage.sha256_file(path)
        storage.write_json(cat.path("manifest"), manifest)
        return cat

    return forge


@pytest.fixture(scope="session")
def dask_client():
    """A real distributed cluster for the session: a scheduler and two worker processes on
    127.0.0.1 (one thread each), torn down afterwards."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def labelled_texts(rows: int, seed: int = 0) -> pd.DataFrame:
    """``rows`` short reviews of the built-in sentiment set, recombined (a few thousand texts
    for out-of-core tests: made from real snippets, distinct enough to split and learn)."""
    import numpy as np

    base = pd.read_csv(get_task("sentiment").builtin_dataset)
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(base), rows)
    labels = base["label"].to_numpy()[first]
    texts = []
    for i, label in zip(first, labels, strict=True):
        same = base.index[base["label"] == label].to_numpy()
        other = base.loc[rng.choice(same), "text"]
        texts.append(f"{base.loc[i, 'text']} {other}" if rng.random() < 0.7 else base.loc[i, "text"])
    return pd.DataFrame({"text": texts, "label": labels})


def run_out_of_core(root: Path, rows: int = 3000) -> Catalog:
    """Stages 1 to 6 on the out-of-core path under ``root``: a CSV of ``rows`` texts, small
    chunks and parts (so that every stage crosses part boundaries), a small search sample."""
    from shared.core.records import TrainingReport
    from shared.scale import chunk_validation, incremental, prepare_parts, stage_engines, stages

    cat = Catalog.for_task("sentiment", root)
    # the optional feature groups off (a third of the time): the NB-SVM candidate with them
    # is tests/scale/test_incremental.py's, and the default spec's runs end to end in
    # tests/test_e2e_out_of_core.py
    spec = get_task("sentiment").spec.with_overrides(engine="out_of_core", feature_groups=())
    problem.save(spec, cat)
    dataset = root / "reviews.csv"
    labelled_texts(rows).to_csv(dataset, index=False)
    chunk_validation.collect(cat, spec, str(dataset), chunk_rows=500, part_rows=700)
    prepare_parts.prepare(cat, spec, part_rows=600)
    # three passes over the parts, not the engine's up to 15 for so few rows (enough passes
    # to see 150,000 rows): each pass crosses every part boundary again, and the rest is time
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(incremental, "BATCH_ROWS", 400)
        stages.train_stage(cat, spec, stage_engines.OutOfCore(sample_rows=1000, epochs=3),
                           n_jobs=1)
    stages.evaluate_stage(cat, spec, stage_engines.OutOfCore())
    # the generated texts are not English enough for every behavioural test (DIR cases):
    # deploy past the gate, as a user would, with the override recorded
    deployment.deploy(cat, TrainingReport.load(cat), allow_failed_gate=True)
    return cat


def built_once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str,
                       build: Callable[[Path], object]) -> Path:
    """The folder ``name``, built by ``build`` once for the whole test run: under
    pytest-xdist, the first worker to need it builds it while the others wait on a lock,
    and every worker then reads the same folder (a session fixture is otherwise built once
    per worker). Without xdist, it is an ordinary session folder."""
    import fcntl
    import os

    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name, numbered=False)
        build(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder, above each worker's
    folder, done = shared / name, shared / f"{name}.built"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed part-way
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def out_of_core_project(tmp_path_factory) -> Catalog:
    """An out-of-core sentiment project deployed once for the test run (it takes most of
    20 s, and two test files on different workers read it); tests must not change it."""
    return Catalog.for_task(
        "sentiment", built_once_per_run(tmp_path_factory, "out_of_core", run_out_of_core))


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Records each POSTed JSON body; answers with the status the test sets."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(  # type: ignore[attr-defined]
            {"body": json.loads(body), "authorization": self.headers.get("Authorization")})
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook_receiver(monkeypatch):
    """A real HTTP receiver on 127.0.0.1, its URL in ``ALERT_WEBHOOK_URL``; ``.received``
    holds what was POSTed, ``.status`` is what it answers (200 unless a test changes it)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    yield server
    server.shutdown()
    server.server_close()
