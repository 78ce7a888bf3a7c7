"""Deployment: the folder, its manifest and model card, swapped in whole."""

from shared import deployment
from shared.manifest import Manifest, verify
from shared.records import EvaluationReport, TrainingReport


def test_the_deployed_folder_is_complete_and_verified(deployed_project):
    cat = deployed_project
    manifest = verify(cat.deployed_dir)
    assert manifest == Manifest.load(cat)
    assert manifest.metrics == EvaluationReport.load(cat)
    assert manifest.problem == cat.read("problem_spec")
    assert not list(cat.models_dir.glob(".deployed*")), "staging folders are cleaned up"


def test_the_model_card_is_filled_from_the_records(deployed_project):
    cat = deployed_project
    card = cat.read("model_card")
    training = TrainingReport.load(cat)
    assert "$" not in card, "every placeholder of the template is filled"
    assert card.startswith(f"# Model card: sentiment ({verify(cat.deployed_dir).model_version})")
    assert training.model_description in card and "95% bootstrap interval of f1" in card
    assert "share of words unknown to the model: alert when above 0.3" in card


def test_redeploying_swaps_the_folder_whole(deployed, tmp_path):
    before = verify(deployed.deployed_dir)
    again = deployment.deploy(deployed, TrainingReport.load(deployed))
    assert again.model_version == before.model_version
    assert verify(deployed.deployed_dir).deployed_at == again.deployed_at
