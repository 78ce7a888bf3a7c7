"""Challenger against champion: a paired bootstrap on the same texts, the live model re-scored
on the candidate's split, the hashes of a release's training texts, and the frozen test set."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from conftest import deploy_small_model, evaluate_small_model, train_small_model

from shared.core import problem, storage
from shared.core.manifest import verify
from shared.core.records import TrainingReport
from shared.data import tasks
from shared.deploy import challenger, deployment, release


def test_identical_predictions_differ_by_nothing(spec):
    y = np.array([True, False] * 50)
    scores = np.where(y, 0.8, 0.2)
    scores[:10] = 1 - scores[:10]  # ten mistakes, the same for both models
    result = challenger.paired_bootstrap(y, scores, scores.copy(), 0.5, 0.5, spec)
    assert (result.difference, result.lower_bound) == (0.0, 0.0) and result.passed


def test_a_worse_challenger_fails_and_the_result_is_seeded(spec):
    y = np.array([True, False] * 100)
    champion = np.where(y, 0.9, 0.1)
    worse = champion.copy()
    worse[:30] = 1 - worse[:30]  # 30 more mistakes of 200
    result = challenger.paired_bootstrap(y, worse, champion, 0.5, 0.5, spec)
    assert result.difference < -0.1 and result.lower_bound < -0.02 and not result.passed
    assert challenger.paired_bootstrap(y, worse, champion, 0.5, 0.5, spec) == result
    # the same models, but 5 differing mistakes only: within the tolerance of 0.02? The
    # point difference is -0.025, so no confidence can say "at most 0.02 worse"
    close = champion.copy()
    close[:5] = 1 - close[:5]
    assert not challenger.paired_bootstrap(y, close, champion, 0.5, 0.5, spec).passed
    better = challenger.paired_bootstrap(y, champion, close, 0.5, 0.5, spec)
    assert better.difference > 0 and better.lower_bound >= 0 and better.passed


def test_each_model_is_scored_at_its_own_threshold(spam_spec):
    y = np.array([True] * 20 + [False] * 20)
    scores = np.r_[np.full(20, 0.6), np.full(20, 0.1)]
    # at 0.5 every spam is caught; at 0.7 none is
    result = challenger.paired_bootstrap(y, scores, scores, 0.5, 0.7, spam_spec)
    assert result.difference == 1.0 and result.passed


@pytest.fixture
def project(tmp_path):
    """A fresh sentiment project deployed with the small model, for tests that deploy more."""
    return deploy_small_model(tmp_path)


def relax(cat) -> None:
    """Stage 1 with a low target and no behavioural or slice bar, so that only the comparison
    with the live model (or the frozen set) can refuse a weak model."""
    spec, _ = tasks.run_spec("sentiment", "builtin", target=0.3, min_behaviour_pass_rate=0.0,
                             slice_margin=0.3, interval_margin=0.3)
    problem.save(spec, cat)


def live_state(cat) -> tuple[str, dict[str, str]]:
    folder = cat.deployed_dir
    return os.readlink(folder), {p.name: storage.sha256_file(p) for p in sorted(folder.iterdir())}


def test_on_one_split_a_worse_challenger_is_refused_and_a_better_one_released(project):
    cat = project
    relax(cat)
    champion = verify(cat.deployed_dir)
    assert challenger.TRAINING_KEYS in champion.files
    weak = evaluate_small_model(cat, train_small_model(cat, rows=60))
    assert weak.gate.passed  # the gate alone would let it through
    before = live_state(cat)
    with pytest.raises(deployment.DeploymentRefused) as refused:
        deployment.deploy(cat, TrainingReport.load(cat))
    message = str(refused.value)
    assert f"below the live release {champion.release} with 95% confidence" in message
    assert "paired bootstrap" in message and "left out" in message
    assert live_state(cat) == before
    # the weak model goes live anyway (overridden, and recorded); the full one then beats it
    deployment.deploy(cat, TrainingReport.load(cat), allow_failed_gate=True)
    weak_release = release.live_release(cat)
    evaluate_small_model(cat)
    better = deployment.deploy(cat, TrainingReport.load(cat))
    compared = deployment.regression_checks(better)
    assert [c.passed for c in compared] == [True]
    assert f"below the live release {weak_release}" in compared[0].check
    assert compared[0].value > 0, "the lower bound of the difference is above zero"
    assert release.live_release(cat) == better.release


def test_the_frozen_set_is_checked_by_hash_and_compared_with_its_own_release(project):
    cat = project
    relax(cat)
    live = verify(cat.deployed_dir)
    frozen = challenger.freeze(cat, cat.read("deployed_reference"), live.release,
                               live.metrics.threshold, "builtin")
    assert frozen.record["rows"] == len(cat.read("deployed_reference"))
    with pytest.raises(challenger.FrozenSetError, match="never replaced"):
        challenger.freeze(cat, cat.read("deployed_reference"), live.release, 0.5, "builtin")
    # a weak model goes live (overridden); the same weak model again is no worse than it, but it
    # is worse than the release the set was frozen from: retrains cannot add up small losses
    evaluate_small_model(cat, train_small_model(cat, rows=60))
    deployment.deploy(cat, TrainingReport.load(cat), allow_failed_gate=True)
    evaluation = evaluate_small_model(cat, train_small_model(cat, rows=60))
    checks = challenger.compare_with_live(cat, problem.load(cat), evaluation)
    assert len(checks) == 2
    on_live, on_frozen = checks
    assert on_live.passed
    assert f"frozen from release {live.release}" in on_frozen.check and not on_frozen.passed
    with pytest.raises(deployment.DeploymentRefused, match="on the frozen test set"):
        deployment.deploy(cat, TrainingReport.load(cat))
    # a changed frozen set is refused, whatever the model
    table = challenger.frozen_dir(cat) / challenger.FROZEN_TABLE
    frame = pd.read_csv(table, dtype=str, keep_default_na=False)
    frame.loc[0, "label"] = "positive" if frame.loc[0, "label"] == "negative" else "negative"
    frame.to_csv(table, index=False)
    checks = challenger.compare_with_live(cat, problem.load(cat), evaluation)
    assert not checks[-1].passed and "is not what was frozen" in checks[-1].check


def test_a_live_release_that_cannot_be_loaded_is_named_and_does_not_block(project):
    cat = project
    model = cat.deployed_dir / "model.skops"
    os.chmod(model, 0o644)
    model.write_bytes(b"not a model")
    evaluation = evaluate_small_model(cat)
    checks = challenger.compare_with_live(cat, problem.load(cat), evaluation)
    assert len(checks) == 1 and checks[0].passed
    assert "cannot be loaded (ManifestMismatchError" in checks[0].check
