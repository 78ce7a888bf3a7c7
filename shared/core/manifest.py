"""The manifest of a deployed folder, and loading a deployed model only if it matches.

``manifest.json`` records the SHA-256 of every deployed file, the library
versions, the training data's fingerprint and the evaluation that let the
model through. A deployed model is loaded only when every file matches its
SHA-256 and every type in the model is trusted (``shared.core.modelfile``).
"""

from __future__ import annotations

import os
import platform
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

from shared.core import storage
from shared.core.catalog import MissingArtifactError
from shared.core.records import EvaluationReport, Gate, Record

#: libraries whose versions decide whether a model file loads and predicts the same
VERSIONED_PACKAGES = ("scikit-learn", "skops", "numpy", "scipy", "pandas")
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.skops"


class ManifestMismatchError(RuntimeError):
    """A deployed file differs from what the manifest recorded; it is not loaded."""


class LibraryMismatchError(ManifestMismatchError):
    """The running scikit-learn is another major or minor version than the model was saved with."""


class LibraryVersionWarning(UserWarning):
    """A library other than scikit-learn (or its patch level) differs from the manifest."""


@dataclass(frozen=True)
class Manifest(Record):
    """What was deployed: every file's SHA-256, versions, data fingerprint, the evaluation.

    The release fields (with defaults, so manifests of earlier versions still
    load) say which release this is, what stage 6 checked before it went live
    (``approval``: the gate and the comparison with the model it replaced, and
    whether ``allow_failed_gate`` overrode a failure), what the canary found on
    the staging folder, the p95 latency it measured, the fingerprint of the
    test split the metrics were scored on, and the stage-1 values that differ
    from the task's defaults.
    """

    artifact: ClassVar[str] = "manifest"

    task: str
    model_version: str
    files: dict[str, str]
    training_data_sha256: str
    libraries: dict[str, str]
    metrics: EvaluationReport
    problem: dict[str, Any]
    deployed_at: str
    release: str = ""
    test_data_sha256: str = ""
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    approval: Gate | None = None
    allow_failed_gate: bool = False
    canary: Gate | None = None
    latency_p95_ms: float | None = None
    #: what the model's own ``predict_proba`` cost at deployment (``shared.deploy.model_cost``)
    cost: dict[str, float] | None = None

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        if name == "metrics":
            return EvaluationReport.from_dict(value)
        if name in ("approval", "canary") and value is not None:
            return Gate.from_dict(value)
        return value


def library_versions() -> dict[str, str]:
    """The running versions of Python and of the libraries a model file depends on."""
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        versions[package] = metadata.version(package)
    return versions


def check_libraries(saved: dict[str, str]) -> list[str]:
    """Compare the versions a model was saved with to the running ones.

    Raises LibraryMismatchError, naming both versions, when scikit-learn differs
    in its major or minor version (a model file is then not guaranteed to load
    or to predict the same). Any other difference is returned, and warned about.
    """
    running = library_versions()
    saved_sklearn, now_sklearn = saved.get("scikit-learn", ""), running["scikit-learn"]
    if saved_sklearn and saved_sklearn.split(".")[:2] != now_sklearn.split(".")[:2]:
        raise LibraryMismatchError(
            f"the model was saved with scikit-learn {saved_sklearn} and this environment runs "
            f"scikit-learn {now_sklearn}: install scikit-learn=={saved_sklearn} (see "
            "requirements.lock), or retrain and redeploy (stages 4 to 6) with this version"
        )
    differences = [f"{name} {saved[name]} at deployment, {version} now"
                   for name, version in running.items()
                   if name in saved and saved[name] != version]
    if differences:
        warnings.warn("library versions differ from the manifest: " + "; ".join(differences),
                      LibraryVersionWarning, stacklevel=2)
    return differences


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
    """The deployed model and its manifest, after checking hashes, library versions and types."""
    # imported here: skops brings scikit-learn (1.7 s), which readers of a manifest alone, such
    # as the runner's run history, do not need
    from shared.core import modelfile

    manifest = verify(deployed_dir)
    check_libraries(manifest.libraries)
    return modelfile.load_model(Path(deployed_dir) / MODEL_NAME), manifest
