"""Stage 6's deployment: the deployed folder, its manifest and its model card.

The folder holds the evaluated model (skops), ``metrics.json``, the problem
spec, the reference predictions, a ``manifest.json`` with the SHA-256 of every
file, and ``MODEL_CARD.md`` (filled in from ``templates/model_card.md``). It
is assembled beside the live folder and swapped in by a rename, so a service
never sees a half-deployed model.
"""

from __future__ import annotations

import os
import shutil
import string
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from shared import storage
from shared.alerts import RULES
from shared.catalog import Catalog
from shared.manifest import MANIFEST_NAME, MODEL_NAME, Manifest, library_versions
from shared.metrics import METRIC_NAMES
from shared.records import EvaluationReport, TrainingReport

CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"

#: what the deployed folder holds: its file name -> the stage-5 (or stage-1) artifact copied
DEPLOYED_FROM = {
    "deployed_model": "final_model",
    "deployed_metrics": "metrics",
    "deployed_problem_spec": "problem_spec",
    "deployed_reference": "reference_predictions",
}


def model_card(manifest: Manifest, training: TrainingReport) -> str:
    """The Markdown model card of a deployment, from the manifest and the training report."""
    spec = manifest.problem
    evaluation = manifest.metrics
    primary = spec["primary_metric"]
    interval = evaluation.intervals[primary]
    values = {
        "task": spec["task"],
        "model_version": manifest.model_version,
        "description": spec["description"],
        "labels": ", ".join(spec["labels"]),
        "positive_label": spec["positive_label"],
        "model_description": training.model_description,
        "search_method": training.search["method"],
        "configurations_tried": training.configurations_tried,
        "cv_folds": spec["cv_folds"],
        "chosen": training.chosen,
        "cv_mean": f"{training.cv_mean:.3f}",
        "cv_std": f"{training.cv_std:.3f}",
        "primary_metric": primary,
        "reason": training.reason,
        "calibration": evaluation.calibration.method,
        "test_brier": f"{evaluation.calibration.test_brier:.3f}",
        "threshold": f"{evaluation.threshold:.3f}",
        "decision_rule": spec["decision_rule"],
        "dataset": training.dataset,
        "train_rows": training.train_rows,
        "test_rows": evaluation.test["support"],
        "training_data_sha256": manifest.training_data_sha256[:16],
        "metric_rows": "\n".join(
            f"| {name} | {evaluation.test[name]:.3f} |" for name in METRIC_NAMES),
        "interval_low": f"{interval['low']:.3f}",
        "interval_high": f"{interval['high']:.3f}",
        "target": f"{spec['target']:.2f}",
        "gate": evaluation.gate.verdict,
        "baseline": f"{evaluation.baseline[primary]:.3f}",
        "confidence_threshold": f"{spec['confidence_threshold']:.2f}",
        "monitoring_rules": "\n".join(
            f"- {rule.description}: alert when {rule.fires_when} {spec[rule.threshold_field]:g}"
            for rule in RULES),
        "libraries": ", ".join(f"{k} {v}" for k, v in manifest.libraries.items()),
    }
    template = string.Template(CARD_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(values)


def deploy(cat: Catalog, training: TrainingReport) -> Manifest:
    """Assemble the deployed folder and swap it in: model, metrics, spec, reference,
    manifest and model card."""
    sources = {cat.path(deployed).name: cat.require(source)
               for deployed, source in DEPLOYED_FROM.items()}
    cat.models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".deployed.", dir=cat.models_dir))
    try:
        for name, path in sources.items():
            shutil.copyfile(path, staging / name)
        manifest = Manifest(
            task=cat.task,
            model_version="",
            files={name: storage.sha256_file(staging / name) for name in sources},
            training_data_sha256=storage.sha256_path(cat.existing("train", "train_parts")[1]),
            libraries=library_versions(),
            metrics=EvaluationReport.load(cat),
            problem=cat.read("problem_spec"),
            deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        manifest = replace(manifest, model_version=manifest.files[MODEL_NAME][:12])
        card = staging / cat.path("model_card").name
        storage.write_text(card, model_card(manifest, training))
        manifest = replace(manifest, files={**manifest.files, card.name: storage.sha256_file(card)})
        storage.write_json(staging / MANIFEST_NAME, manifest.to_dict())
        _swap_in(staging, cat.deployed_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _swap_in(staging: Path, live: Path) -> None:
    """Make ``staging`` the live folder by renames; the old one is removed afterwards."""
    retired = live.with_name(f".{live.name}.retired")
    shutil.rmtree(retired, ignore_errors=True)
    if live.exists():
        os.replace(live, retired)
    os.replace(staging, live)
    shutil.rmtree(retired, ignore_errors=True)
