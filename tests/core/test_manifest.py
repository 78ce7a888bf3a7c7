"""A deployed model is loaded only when every file matches its SHA-256 in the manifest."""

import json
import shutil
import warnings

import numpy as np
import pytest

from shared.core import manifest
from shared.core.catalog import MissingArtifactError


@pytest.fixture
def folder(deployed_project, tmp_path):
    copy = tmp_path / "deployed"
    shutil.copytree(deployed_project.deployed_dir, copy)
    return copy


def test_untouched_files_load(folder, deployed_project):
    model, loaded = manifest.load_deployed(folder)
    assert set(loaded.files) == {"model.skops", "metrics.json", "problem.json",
                                 "reference_predictions.csv", "MODEL_CARD.md",
                                 "training_keys.txt"}
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


def _saved_with(folder, **versions):
    """Rewrite the manifest as if the model had been saved with other library versions."""
    path = folder / "manifest.json"
    payload = json.loads(path.read_text())
    payload["libraries"].update(versions)
    path.write_text(json.dumps(payload))


def test_another_scikit_learn_minor_version_is_refused_naming_both(folder):
    running = manifest.library_versions()["scikit-learn"]
    major, minor = running.split(".")[:2]
    other = f"{major}.{int(minor) + 1}.0"
    _saved_with(folder, **{"scikit-learn": other})
    with pytest.raises(manifest.LibraryMismatchError,
                       match=rf"saved with scikit-learn {other} .* runs scikit-learn {running}"):
        manifest.load_deployed(folder)


def test_other_library_differences_only_warn(folder):
    running = manifest.library_versions()
    major, minor = running["scikit-learn"].split(".")[:2]
    _saved_with(folder, numpy="1.0.0", **{"scikit-learn": f"{major}.{minor}.999"})
    with pytest.warns(manifest.LibraryVersionWarning) as warned:
        model, _ = manifest.load_deployed(folder)
    message = str(warned[0].message)
    assert f"numpy 1.0.0 at deployment, {running['numpy']} now" in message
    assert f"scikit-learn {major}.{minor}.999 at deployment" in message
    assert model is not None


def test_same_versions_load_without_a_warning(folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error", manifest.LibraryVersionWarning)
        manifest.load_deployed(folder)
