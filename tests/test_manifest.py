"""A deployed model is loaded only when every file matches its SHA-256 in the manifest."""

import shutil

import numpy as np
import pytest

from shared import manifest
from shared.catalog import MissingArtifactError


@pytest.fixture
def folder(deployed_project, tmp_path):
    copy = tmp_path / "deployed"
    shutil.copytree(deployed_project.deployed_dir, copy)
    return copy


def test_untouched_files_load(folder, deployed_project):
    model, loaded = manifest.load_deployed(folder)
    assert set(loaded.files) == {"model.skops", "metrics.json", "problem.json",
                                 "reference_predictions.csv", "MODEL_CARD.md"}
    assert loaded.model_version == loaded.files["model.skops"][:12]
    reference = deployed_project.read("deployed_reference")
    scores = model.predict_proba(list(reference["text"]))[:, 1]
    assert np.array_equal(scores, reference["score"].to_numpy())


def test_a_changed_file_is_refused_by_name(folder):
    (folder / "metrics.json").write_text("{}")
    with pytest.raises(manifest.ManifestMismatchError, match="metrics.json does not match"):
        manifest.load_deployed(folder)


def test_a_missing_file_is_refused_by_name(folder):
    (folder / "model.skops").unlink()
    with pytest.raises(manifest.ManifestMismatchError, match="model.skops is listed"):
        manifest.load_deployed(folder)


def test_no_manifest_says_to_deploy(tmp_path):
    with pytest.raises(MissingArtifactError, match="Run stage 6"):
        manifest.verify(tmp_path)
