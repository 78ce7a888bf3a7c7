"""The manifest of a deployed folder, and loading a deployed model only if it matches.

``manifest.json`` records the SHA-256 of every deployed file, the library
versions, the training data's fingerprint and the evaluation that let the
model through. A deployed model is loaded only when every file matches its
SHA-256 and every type in the model is trusted (``shared.modelfile``).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from shared import modelfile, storage
from shared.catalog import MissingArtifactError
from shared.records import EvaluationReport, Record

#: libraries whose versions decide whether a model file loads and predicts the same
VERSIONED_PACKAGES = ("scikit-learn", "skops", "numpy", "scipy", "pandas")
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.skops"


class ManifestMismatchError(RuntimeError):
    """A deployed file differs from what the manifest recorded; it is not loaded."""


@dataclass(frozen=True)
class Manifest(Record):
    """What was deployed: every file's SHA-256, versions, data fingerprint, the evaluation."""

    artifact: ClassVar[str] = "manifest"

    task: str
    model_version: str
    files: dict[str, str]
    training_data_sha256: str
    libraries: dict[str, str]
    metrics: EvaluationReport
    problem: dict[str, Any]
    deployed_at: str

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        return EvaluationReport.from_dict(value) if name == "metrics" else value


def library_versions() -> dict[str, str]:
    """The running versions of Python and of the libraries a model file depends on."""
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        versions[package] = metadata.version(package)
    return versions


def verify(deployed_dir: str | os.PathLike[str]) -> Manifest:
    """Check every file listed in the manifest against its SHA-256; return the manifest."""
    deployed_dir = Path(deployed_dir)
    manifest_path = deployed_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise MissingArtifactError(
            f"{deployed_dir.name}/{MANIFEST_NAME} does not exist: nothing is deployed there. "
            "Run stage 6 (notebooks/06_deployment.ipynb) to deploy a model."
        )
    manifest = Manifest.from_dict(storage.read_json(manifest_path))
    for name, expected in manifest.files.items():
        path = deployed_dir / name
        if not path.exists():
            raise ManifestMismatchError(
                f"{name} is listed in {MANIFEST_NAME} but missing from {deployed_dir.name}/; "
                "re-run stage 6 (06_deployment) to redeploy"
            )
        actual = storage.sha256_file(path)
        if actual != expected:
            raise ManifestMismatchError(
                f"{name} does not match {MANIFEST_NAME} (SHA-256 {actual[:12]}..., expected "
                f"{expected[:12]}...): the file changed after deployment. Re-run stage 6 "
                "(06_deployment) or restore the original file."
            )
    return manifest


def load_deployed(deployed_dir: str | os.PathLike[str]) -> tuple[Any, Manifest]:
    """The deployed model and its manifest, after checking hashes and types."""
    manifest = verify(deployed_dir)
    return modelfile.load_model(Path(deployed_dir) / MODEL_NAME), manifest
