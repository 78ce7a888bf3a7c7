"""Saving and loading models safely: skops (never pickle), manifests and model cards.

A model file is loaded only when (1) its SHA-256 matches the manifest written
at deployment and (2) every type it contains is either one skops trusts by
default or one of this project's own components listed in ``TRUSTED_TYPES``.
"""

from __future__ import annotations

import io
import os
import platform
import re
import tempfile
import zipfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import skops.io as sio

from shared import catalog
from shared.monitoring import RULES

#: the only types beyond skops' defaults that a model file may contain, each by name:
#: this project's own components, and scikit-learn internals that calibration and
#: random forests are made of but that skops' default list leaves out
TRUSTED_TYPES: tuple[str, ...] = (
    "shared.text.TextCleaner",
    "shared.features.LogCountRatio",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.tree._tree.Tree",
)

_MEMBER = re.compile(r'"([^"/]+\.npy)"')
_OBJECT_ID = re.compile(r'"__id__": (\d+)')
# sklearn's vectorizers remember id(stop_words), a memory address that differs in every
# process and means nothing once loaded elsewhere; it only decides whether to re-check them.
_STOP_WORDS_ID = re.compile(r'("_stop_words_id": \{[^{}]*?"content": ")\d+')

#: libraries whose versions decide whether a model file loads and predicts the same
VERSIONED_PACKAGES = ("scikit-learn", "skops", "numpy", "scipy", "pandas")


class UntrustedModelError(RuntimeError):
    """The model file holds types nobody vouched for; it is not loaded."""


class ManifestMismatchError(RuntimeError):
    """A deployed file differs from what the manifest recorded; it is not loaded."""


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` with skops, atomically, as a byte-for-byte reproducible file."""
    buffer = io.BytesIO()
    sio.dump(model, buffer)
    return catalog.write_bytes(path, canonical_skops(buffer.getvalue()))


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive with deterministic member names and timestamps.

    skops names array members and memo keys after ``id()`` of the objects and
    stamps the current time, so two dumps of one model differ. Renumbering both
    in order of first mention in the schema (a one-to-one renaming, so shared
    references stay shared) and fixing the timestamps makes the file's
    SHA-256 a content hash: the same model always gets the same version.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = source.read("schema.json").decode("utf-8")
    members = [n for n in source.namelist() if n != "schema.json"]
    order = sorted(members, key=lambda n: (schema.find(f'"{n}"'), n))
    renamed = {old: f"{i:05d}{Path(old).suffix}" for i, old in enumerate(order)}
    schema = _MEMBER.sub(lambda m: f'"{renamed.get(m.group(1), m.group(1))}"', schema)
    schema = _STOP_WORDS_ID.sub(r"\g<1>0", schema)
    ids: dict[str, int] = {}
    schema = _OBJECT_ID.sub(
        lambda m: f'"__id__": {ids.setdefault(m.group(1), len(ids) + 1)}', schema
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, payload in [("schema.json", schema.encode("utf-8"))] + [
            (renamed[old], source.read(old)) for old in order
        ]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, payload)
    return out.getvalue()


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a skops file, refusing any type outside skops' defaults and TRUSTED_TYPES."""
    path = Path(path)
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in TRUSTED_TYPES]
    if untrusted:
        raise UntrustedModelError(
            f"{path.name} contains types that are not trusted: {', '.join(untrusted)}. "
            "Only scikit-learn types and shared.persistence.TRUSTED_TYPES are loaded; "
            "retrain the model with the project's own components."
        )
    return sio.load(path, trusted=list(TRUSTED_TYPES))


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        versions[package] = metadata.version(package)
    return versions


def build_manifest(
    deployed_dir: Path,
    files: list[Path],
    training_data: Path,
    metrics: dict[str, Any],
    spec: dict[str, Any],
) -> dict[str, Any]:
    """What was deployed: every file's SHA-256, versions, data fingerprint, metrics."""
    hashes = {Path(f).name: catalog.sha256_file(f) for f in files}
    model_hash = hashes["model.skops"]
    return {
        "task": spec["task"],
        "model_version": model_hash[:12],
        "files": hashes,
        "training_data_sha256": catalog.sha256_file(training_data),
        "libraries": library_versions(),
        "metrics": metrics,
        "problem": spec,
    }


def verify_manifest(deployed_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Check every file listed in the manifest against its SHA-256; return the manifest."""
    deployed_dir = Path(deployed_dir)
    manifest_path = catalog.require(
        deployed_dir / "manifest.json", "stage 6, notebooks/06_deployment.ipynb"
    )
    manifest = catalog.read_json(manifest_path)
    for name, expected in manifest["files"].items():
        path = deployed_dir / name
        if not path.exists():
            raise ManifestMismatchError(
                f"{name} is listed in manifest.json but missing from {deployed_dir.name}/; "
                "re-run stage 6 (06_deployment) to redeploy"
            )
        actual = catalog.sha256_file(path)
        if actual != expected:
            raise ManifestMismatchError(
                f"{name} does not match manifest.json (SHA-256 {actual[:12]}..., expected "
                f"{expected[:12]}...): the file changed after deployment. Re-run stage 6 "
                "(06_deployment) or restore the original file."
            )
    return manifest


def load_deployed(deployed_dir: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """The deployed model and its manifest, after checking hashes and types."""
    manifest = verify_manifest(deployed_dir)
    return load_model(Path(deployed_dir) / "model.skops"), manifest


def model_card(manifest: dict[str, Any], training: dict[str, Any]) -> str:
    """A Markdown model card built from the manifest and the training summary."""
    spec = manifest["problem"]
    m = manifest["metrics"]
    rows = "\n".join(
        f"| {name} | {m['test'][name]:.3f} |"
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc", "false_positive_rate")
    )
    gate = "PASS" if m["gate"]["passed"] else "FAIL"
    interval = m["intervals"][spec["primary_metric"]]
    rules = "\n".join(
        f"- {rule.description}: alert when {rule.fires_when} {spec[rule.threshold_field]:g}"
        for rule in RULES
    )
    libs = ", ".join(f"{k} {v}" for k, v in manifest["libraries"].items())
    return f"""# Model card: {spec['task']} ({manifest['model_version']})

## What it does
{spec['description']}

Labels: {', '.join(spec['labels'])} (positive class: `{spec['positive_label']}`).
Input: one raw text. Output: a label and the model's confidence in it.

## Model
{training['model_description']}
Chosen by a {training['search']['method']} search ({training['configurations_tried']} configurations,
{spec['cv_folds']}-fold stratified cross-validation on the training split):
{training['chosen']}, {training['cv_mean']:.3f} ± {training['cv_std']:.3f} {spec['primary_metric']};
{training['reason']}.
Probability calibration: {m['calibration']['method']} (chosen on validation Brier score;
test Brier {m['calibration']['test_brier']:.3f}).
Decision threshold on P({spec['positive_label']}): {m['threshold']:.3f} (rule: `{spec['decision_rule']}`).

## Data
Data set: {training['dataset']} ({training['train_rows']} training texts,
{m['test']['support']} held-out test texts); training data SHA-256
`{manifest['training_data_sha256'][:16]}...`.

## Held-out test metrics
| metric | value |
|---|---|
{rows}

95% bootstrap interval of {spec['primary_metric']}: {interval['low']:.3f} to {interval['high']:.3f}.
Gate against the stage-1 target ({spec['primary_metric']} >= {spec['target']:.2f}): **{gate}**.
Majority-class baseline {spec['primary_metric']}: {m['baseline'][spec['primary_metric']]:.3f}.

## Monitoring
Predictions whose confidence is under {spec['confidence_threshold']:.2f} are flagged. Every window of
logged predictions is checked against these rules (limits from the problem spec):

{rules}

## Limits
Trained on short English texts of the domains above; texts from other domains,
other languages or very different lengths are less reliable, which is what the
monitoring stage watches for.

## Provenance
Built with {libs}. Load only with `shared.persistence.load_deployed`, which checks
every file against `manifest.json`.
"""


def deploy(cat: catalog.Catalog, training: dict[str, Any]) -> dict[str, Any]:
    """Assemble the deployed folder: model, metrics, spec, reference, manifest, model card.

    The folder is built beside the live one and swapped in by rename, so a
    service never sees a half-deployed model.
    """
    import shutil

    stage = "an earlier stage: run notebooks 01-05 first"
    sources = {
        cat.deployed_model.name: cat.final_model,
        cat.deployed_metrics.name: cat.metrics,
        cat.deployed_problem_spec.name: cat.problem_spec,
        cat.deployed_reference.name: cat.reference_predictions,
    }
    for path in sources.values():
        catalog.require(path, stage)
    cat.models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".deployed.", dir=cat.models_dir))
    try:
        for name, path in sources.items():
            shutil.copyfile(path, staging / name)
        metrics = catalog.read_json(cat.metrics)
        manifest = build_manifest(
            staging, [staging / n for n in sources], cat.split("train"),
            metrics, catalog.read_json(cat.problem_spec),
        )
        card = staging / cat.model_card.name
        catalog.write_text(card, model_card(manifest, training))
        manifest["files"][card.name] = catalog.sha256_file(card)
        manifest["deployed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        catalog.write_json(staging / cat.manifest.name, manifest)
        retired = cat.models_dir / ".deployed.retired"
        shutil.rmtree(retired, ignore_errors=True)
        if cat.deployed_dir.exists():
            os.replace(cat.deployed_dir, retired)
        os.replace(staging, cat.deployed_dir)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
