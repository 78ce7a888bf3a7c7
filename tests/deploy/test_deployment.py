"""Deployment: release checks before anything changes, a canary on the staging folder, the
release swapped in whole, and the run's overrides carried in the manifest and card."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import evaluate_small_model, train_small_model
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared.core import problem, storage
from shared.core.manifest import Manifest, verify
from shared.core.records import EvaluationReport, PreparationReport, TrainingReport
from shared.core.text_rules import clean_text
from shared.data import preparation, tasks
from shared.deploy import challenger, deployment, release


def live_state(cat) -> tuple[str, dict[str, str]]:
    """Where ``deployed`` points and the SHA-256 of every file in it: the live release."""
    folder = cat.deployed_dir
    return os.readlink(folder), {p.name: storage.sha256_file(p) for p in sorted(folder.iterdir())}


def stage1(cat, **overrides) -> None:
    """Stage 1 again with ``-p`` overrides (as the notebook's parameters give them)."""
    spec, _ = tasks.run_spec(cat.task, "builtin", **overrides)
    problem.save(spec, cat)


@pytest.fixture
def restore(deployed):
    """Put stage 1 and stage 5 back as the fixture made them once a test is done."""
    yield deployed
    stage1(deployed)
    evaluate_small_model(deployed)


def test_the_deployed_folder_is_complete_and_verified(deployed_project):
    cat = deployed_project
    manifest = verify(cat.deployed_dir)
    assert manifest == Manifest.load(cat)
    assert manifest.metrics == EvaluationReport.load(cat)
    assert manifest.problem == cat.read("problem_spec")
    assert cat.deployed_dir.is_symlink()
    assert cat.deployed_dir.resolve() == cat.releases_dir.resolve() / manifest.release
    assert manifest.approval.passed and manifest.canary.passed
    assert len(manifest.canary.checks) == 4 and manifest.latency_p95_ms > 0
    assert "within the cost budget (one text <= 50 ms" in manifest.canary.checks[2].check
    assert manifest.test_data_sha256 == deployment.split_fingerprint(cat.read("test"))
    assert not list(cat.releases_dir.glob(".staging*")), "staging folders are cleaned up"


def test_the_model_card_is_filled_from_the_records(deployed_project):
    cat = deployed_project
    card = cat.read("model_card")
    manifest = verify(cat.deployed_dir)
    training = TrainingReport.load(cat)
    assert "$" not in card, "every placeholder of the template is filled"
    assert card.startswith(f"# Model card: sentiment ({manifest.model_version})")
    assert f"Release {manifest.release}" in card
    assert training.model_description in card and "95% bootstrap interval of f1" in card
    assert "share of words unknown to the model: alert when above 0.3" in card
    assert "Behavioural tests (pass rate per kind): MFT" in card
    assert "Every stage-1 value is the task's default." in card
    assert f"{manifest.latency_p95_ms:.2f} ms measured at deployment" in card


def test_redeploying_makes_a_new_release(deployed):
    before = verify(deployed.deployed_dir)
    again = deployment.deploy(deployed, TrainingReport.load(deployed))
    assert again.model_version == before.model_version
    assert again.release != before.release
    assert verify(deployed.deployed_dir).release == again.release


def test_a_failed_gate_is_refused_and_deployed_is_unchanged(deployed, restore):
    before = live_state(deployed)
    stage1(deployed, target=0.99)
    evaluate_small_model(deployed)
    with pytest.raises(deployment.DeploymentRefused) as refused:
        deployment.deploy(deployed, TrainingReport.load(deployed))
    message = str(refused.value)
    assert "f1 >= 0.99" in message and "allow_failed_gate" in message
    assert f"the live release {release.live_release(deployed)} is unchanged" in message
    assert live_state(deployed) == before
    assert not list(deployed.releases_dir.glob(".staging*"))


def test_allow_failed_gate_deploys_and_says_so_everywhere(deployed, restore):
    stage1(deployed, target=0.99)
    evaluate_small_model(deployed)
    manifest = deployment.deploy(deployed, TrainingReport.load(deployed), allow_failed_gate=True)
    assert manifest.allow_failed_gate and not manifest.approval.passed
    assert manifest.overrides["target"] == {"value": 0.99, "default": 0.7,
                                            "source": "override -p"}
    card = deployed.read("model_card")
    assert "Deployed although release checks failed, with `allow_failed_gate`" in card
    assert "`target` = 0.99 (task default 0.7; override -p)" in card
    assert "FAIL, deployed with allow_failed_gate" in set(release.history(deployed)["gate"])


def test_a_regression_on_the_same_test_split_is_refused(deployed, restore):
    live = verify(deployed.deployed_dir)
    # a lower target and no behavioural bar, so that only the comparison with the live
    # model can refuse this much weaker model
    stage1(deployed, target=0.3, min_behaviour_pass_rate=0.0, slice_margin=0.3)
    weaker = evaluate_small_model(deployed, train_small_model(deployed, rows=60))
    assert weaker.gate.passed
    assert weaker.test["f1"] < live.metrics.test["f1"] - 0.02
    before = live_state(deployed)
    with pytest.raises(deployment.DeploymentRefused, match="below the live release"):
        deployment.deploy(deployed, TrainingReport.load(deployed))
    assert live_state(deployed) == before


def test_the_live_model_is_re_scored_when_the_test_split_differs(deployed, restore):
    # another seed gives another split: before, no comparison was made at all
    live = verify(deployed.deployed_dir)
    stage1(deployed, seed=7)
    clean = deployed.read("clean_dataset")
    preparation.save(deployed, clean, PreparationReport.load(deployed),
                     preparation.split(clean, problem.load(deployed)))
    evaluation = evaluate_small_model(deployed, train_small_model(deployed))
    assert deployment.split_fingerprint(deployed.read("reference_predictions")) != \
        live.test_data_sha256
    checks = deployment.approval(evaluation, challenger.compare_with_live(
        deployed, problem.load(deployed), evaluation)).checks
    compared = checks[len(evaluation.gate.checks):]
    assert len(compared) == 1 and f"below the live release {live.release}" in compared[0].check
    left_out = int(compared[0].check.split(" left out)")[0].rsplit("(", 1)[1])
    assert left_out > 0, "texts the live model was trained on are not compared"
    assert "texts of this test split the live release was not trained on" in compared[0].check
    stage1(deployed)
    preparation.save(deployed, clean, PreparationReport.load(deployed),
                     preparation.split(clean, problem.load(deployed)))


@pytest.mark.parametrize(("budget", "refusal"), [
    ({"max_text_ms": 1e-6}, "one text takes"),
    ({"max_model_mb": 1e-6}, "the model file is"),
])
def test_a_model_over_the_cost_budget_is_refused_and_deployed_is_unchanged(
        deployed, restore, budget, refusal):
    # budgets no model can meet: the refusal depends on the rule, not on a timing
    before = live_state(deployed)
    stage1(deployed, **budget)
    with pytest.raises(deployment.DeploymentRefused, match="canary failed") as refused:
        deployment.deploy(deployed, TrainingReport.load(deployed), allow_failed_gate=True)
    assert refusal in str(refused.value) and f"({next(iter(budget))} 1e-06)" in str(refused.value)
    assert live_state(deployed) == before


@pytest.mark.parametrize(("breakage", "refusal"), [
    ("garbage", "reloads from the staging folder: refused"),
    ("other model", "reproduces stage 5's scores bit for bit (0 of"),
    ("untrusted", "shared.core.text_rules.clean_text"),
])
def test_a_broken_staging_model_is_refused_and_deployed_is_unchanged(
        deployed, restore, breakage, refusal):
    before = live_state(deployed)
    if breakage == "garbage":
        Path(deployed.path("final_model")).write_bytes(b"not a skops archive")
    elif breakage == "other model":  # stage 5's metrics and reference no longer match it
        deployed.write("final_model", train_small_model(deployed, rows=60))
    else:
        deployed.write("final_model", Pipeline([("f", FunctionTransformer(clean_text))]))
    with pytest.raises(deployment.DeploymentRefused, match="canary failed") as refused:
        deployment.deploy(deployed, TrainingReport.load(deployed), allow_failed_gate=True)
    assert refusal in str(refused.value)
    assert live_state(deployed) == before
    assert not list(deployed.releases_dir.glob(".staging*"))
