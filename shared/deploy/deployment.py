"""Stage 6's deployment: release checks, the release folder, its manifest, model card and canary.

:func:`deploy` makes the evaluated model the live release, in this order:

1. approval: stage 5's gate must have passed, and the candidate must not be
   worse than the live model, re-scored on the candidate's test split, by more
   than the spec's ``max_metric_regression`` with ``regression_confidence``
   (a paired bootstrap; after a retrain also on the frozen test set:
   ``shared.deploy.challenger``). ``allow_failed_gate=True`` deploys anyway, and
   the manifest and model card say so;
2. the release folder is assembled in ``releases/`` beside the kept releases:
   model (skops), ``metrics.json``, the problem spec, the reference
   predictions, the hashes of the training texts (``training_keys.txt``, so
   that the next candidate is compared on texts this model never saw) and a
   ``manifest.json`` with the SHA-256 of every file;
3. the canary (``shared.deploy.canary``) tries that folder: reload, bit-identical
   scores, the cost budget, a real HTTP round trip;
4. the model card (from ``templates/model_card.md``) and the final manifest,
   with what the canary found, are written and every file is verified again;
5. the release is published (``shared.deploy.release``): ``deployed`` links to it,
   switched in one rename, and releases beyond the kept number are deleted.

A refusal in step 1 or 3 raises :class:`DeploymentRefused` and leaves the live
release exactly as it was.
"""

from __future__ import annotations

import hashlib
import shutil
import string
import tempfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from shared.core import storage
from shared.core.catalog import Catalog
from shared.core.manifest import MANIFEST_NAME, MODEL_NAME, Manifest, library_versions, verify
from shared.core.problem import ProblemSpec, changed_values
from shared.core.records import EvaluationReport, Gate, GateCheck, RecordError, TrainingReport
from shared.data.tasks import get_task
from shared.deploy import canary, challenger, release
from shared.model.behaviour import KINDS
from shared.model.metrics import METRIC_NAMES
from shared.monitoring import alerts

CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"

#: what the deployed folder holds: its file name -> the stage-5 (or stage-1) artifact copied
DEPLOYED_FROM = {
    "deployed_model": "final_model",
    "deployed_metrics": "metrics",
    "deployed_problem_spec": "problem_spec",
    "deployed_reference": "reference_predictions",
}


class DeploymentRefused(RuntimeError):
    """Stage 6 will not make this model live; the live release is unchanged."""


def split_fingerprint(reference: pd.DataFrame) -> str:
    """SHA-256 of the test split's texts and labels (not the scores): two models with the
    same fingerprint were scored on the same texts, so their metrics compare."""
    lines = sorted(f"{text}\t{label}" for text, label in zip(reference["text"],
                                                             reference["label"], strict=True))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def live_manifest(cat: Catalog) -> Manifest | None:
    """The live release's manifest, or None when nothing (readable) is deployed."""
    try:
        return Manifest.from_dict(storage.read_json(cat.deployed_dir / MANIFEST_NAME))
    except (OSError, ValueError, RecordError):
        return None


def approval(evaluation: EvaluationReport, comparison: list[GateCheck]) -> Gate:
    """The release checks: every check of stage 5's gate, then the comparison with the live
    model and the frozen test set (``shared.deploy.challenger.compare_with_live``)."""
    return Gate.of([*evaluation.gate.checks, *comparison])


def regression_checks(manifest: Manifest) -> list[GateCheck]:
    """The release checks beyond stage 5's gate: the comparison with the model that was live
    (none when nothing comparable was live). They depend on the deployment's history."""
    gate = manifest.metrics.gate.checks
    return [c for c in (manifest.approval.checks if manifest.approval else []) if c not in gate]


def refusal(what: str, failed: list[GateCheck], live: str | None, advice: str) -> str:
    """The message of a refusal: what failed, check by check, and that nothing changed."""
    unchanged = (f"the live release {live} is unchanged" if live
                 else "nothing was deployed")
    return (f"stage 6 refuses to deploy: {what}:\n" + "\n".join(
        f"  - {c.check} (value {c.value})" for c in failed) + f"\n{unchanged}. {advice}")


def model_card(manifest: Manifest, training: TrainingReport) -> str:
    """The Markdown model card of a deployment, from the manifest and the training report."""
    spec_dict = manifest.problem
    spec = ProblemSpec.from_dict(spec_dict)
    evaluation = manifest.metrics
    primary = spec.primary_metric
    interval = evaluation.intervals[primary]
    values = {
        "task": spec.task,
        "model_version": manifest.model_version,
        "release": manifest.release,
        "deployed_at": manifest.deployed_at,
        "description": spec.description,
        "labels": ", ".join(spec.labels),
        "positive_label": spec.positive_label,
        "model_description": training.model_description,
        "search_method": training.search["method"],
        "configurations_tried": training.configurations_tried,
        "cv_folds": spec.cv_folds,
        "chosen": training.chosen,
        "cv_mean": f"{training.cv_mean:.3f}",
        "cv_std": f"{training.cv_std:.3f}",
        "primary_metric": primary,
        "reason": training.reason,
        "calibration": evaluation.calibration.method,
        "test_brier": f"{evaluation.calibration.test_brier:.3f}",
        "threshold": f"{evaluation.threshold:.3f}",
        "decision_rule": spec.decision_rule,
        "dataset": training.dataset,
        "train_rows": training.train_rows,
        "test_rows": evaluation.test["support"],
        "training_data_sha256": manifest.training_data_sha256[:16],
        "test_data_sha256": manifest.test_data_sha256[:16],
        "metric_rows": "\n".join(
            f"| {name} | {evaluation.test[name]:.3f} |" for name in METRIC_NAMES),
        "interval_low": f"{interval['low']:.3f}",
        "interval_high": f"{interval['high']:.3f}",
        "target": f"{spec.target:.2f}",
        "gate": evaluation.gate.verdict,
        "gate_checks": "\n".join(
            f"- {'passed' if c.passed else 'FAILED'}: {c.check} ({c.value:g})"
            for c in evaluation.gate.checks),
        "baseline": f"{evaluation.baseline[primary]:.3f}",
        "behaviour": _behaviour_line(evaluation),
        "sensitivity": _sensitivity_text(evaluation, spec),
        "approval": _approval_text(manifest),
        "canary": ("Canary on the staging folder before the swap: " + "; ".join(
            c.check for c in manifest.canary.checks) + ".") if manifest.canary else "",
        "cost": _cost_text(manifest),
        "overrides": _overrides_text(manifest),
        "confidence_threshold": f"{spec.confidence_threshold:.2f}",
        "monitoring_rules": "\n".join(f"- {line}" for line in alerts.describe(spec, manifest)),
        "libraries": ", ".join(f"{k} {v}" for k, v in manifest.libraries.items()),
    }
    template = string.Template(CARD_TEMPLATE.read_text(encoding="utf-8"))
    return template.substitute(values)


def _cost_text(manifest: Manifest) -> str:
    """What the model costs to run, as measured by the canary on the deploying machine."""
    cost = manifest.cost
    if not cost:
        return "Its cost was not measured."
    return (f"Cost of the model's `predict_proba` on the deploying machine (median of "
            f"{cost['repeats']} repeats): {cost['single_text_ms']:.2f} ms for one text "
            f"({cost['single_texts_per_second']:,.0f} texts/s), {cost['batch_ms']:.2f} ms for "
            f"a batch of {cost['batch_size']} ({cost['batch_texts_per_second']:,.0f} texts/s). "
            "Each text is cleaned and vectorized once (calibration, where used, is a step of "
            "the pipeline). The canary's budget, which it met: at most "
            f"{manifest.problem['max_text_ms']:g} ms for one text and "
            f"{manifest.problem['max_model_mb']:g} MB of model file.")


def _behaviour_line(evaluation: EvaluationReport) -> str:
    rates = evaluation.behaviour.get("pass_rates", {})
    if not rates:
        return "Behavioural tests: not run in stage 5."
    return "Behavioural tests (pass rate per kind): " + ", ".join(
        f"{kind} {rates[kind]['passed']}/{rates[kind]['cases']} ({rates[kind]['pass_rate']:.2f})"
        for kind in KINDS if kind in rates) + "."


def _sensitivity_text(evaluation: EvaluationReport, spec: ProblemSpec) -> str:
    """The name and gender checks, and what they do and do not cover."""
    checks = evaluation.sensitivity
    if not checks:
        return "Name and gender sensitivity: not measured in stage 5."
    lines = [
        f"- {kind}: {c['flips']} of {c['templates']} templates change their label; P("
        f"{spec.positive_label}) spreads by {c['mean_spread']:.3f} on average, at most "
        f"{c['max_spread']:.3f} ({'gated' if kind in spec.protected_capabilities else 'reported, not gated'})"
        for kind, c in checks.items()]
    return ("Name and gender sensitivity (`shared.model.sensitivity`, perturbation sensitivity "
            "analysis, Prabhakaran et al. 2019): templates filled with first names held out of "
            "the names the text path blinds, and gender templates scored with every masculine "
            "word made feminine, ten of the word pairs held out of the training's augmentation."
            "\n\n" + "\n".join(lines) + "\n\nScope and limits: English templates, Latin-script "
            "first names, binary gendered word pairs. A pass says that these names and words do "
            "not move the model in these sentences; it says nothing of surnames, dialects, other "
            "languages, or bias learnt through other words.")


def _approval_text(manifest: Manifest) -> str:
    if manifest.approval is None:
        return "No release checks were recorded."
    if manifest.approval.passed:
        return "Every release check passed (stage 5's gate; no regression against the live model)."
    failed = "; ".join(f"{c.check} ({c.value:g})" for c in manifest.approval.failed)
    return (f"**Deployed although release checks failed, with `allow_failed_gate`**: {failed}.")


def _overrides_text(manifest: Manifest) -> str:
    if not manifest.overrides:
        return "Every stage-1 value is the task's default."
    return "Stage-1 values that differ from the task's defaults:\n\n" + "\n".join(
        f"- `{name}` = {change['value']} (task default {change['default']}; {change['source']})"
        for name, change in sorted(manifest.overrides.items()))


def deploy(
    cat: Catalog, training: TrainingReport, allow_failed_gate: bool = False,
    keep: int = release.KEEP_RELEASES,
) -> Manifest:
    """Check, stage, canary and publish the evaluated model as the new live release.

    Raises :class:`DeploymentRefused` (naming every failed check) when the
    release checks fail and ``allow_failed_gate`` is False, or when the canary
    fails (never overridable); the live release is then unchanged. ``keep``
    releases are kept, the live one always among them.
    """
    sources = {cat.path(deployed).name: cat.require(source)
               for deployed, source in DEPLOYED_FROM.items()}
    evaluation = EvaluationReport.load(cat)
    spec = ProblemSpec.from_dict(cat.read("problem_spec"))
    fingerprint = split_fingerprint(cat.read("reference_predictions"))
    live = live_manifest(cat)
    live_name = release.live_release(cat) or (live.model_version if live else None)
    checks = approval(evaluation, challenger.compare_with_live(cat, spec, evaluation))
    if not checks.passed and not allow_failed_gate:
        raise DeploymentRefused(refusal(
            "release checks failed", checks.failed, live_name,
            "Improve the model (stages 4-5) or change stage 1's spec; to deploy anyway, run "
            "stage 6 with -p allow_failed_gate True (recorded in the manifest and model card)."))
    folder = cat.releases_dir
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging.", dir=folder))
    try:
        for name, path in sources.items():
            shutil.copyfile(path, staging / name)
        keys = challenger.write_training_keys(staging, challenger.training_texts(cat))
        files = {name: storage.sha256_file(staging / name)
                 for name in [*sources, *([keys] if keys else [])]}
        manifest = Manifest(
            task=cat.task,
            model_version=files[MODEL_NAME][:12],
            files=files,
            training_data_sha256=storage.sha256_path(cat.existing("train", "train_parts")[1]),
            libraries=library_versions(),
            metrics=evaluation,
            problem=spec.to_dict(),
            deployed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            release=release.next_name(cat, files[MODEL_NAME][:12]),
            test_data_sha256=fingerprint,
            overrides=changed_values(spec, get_task(spec.task).spec),
            approval=checks,
            allow_failed_gate=allow_failed_gate,
        )
        storage.write_json(staging / MANIFEST_NAME, manifest.to_dict())
        tried, latency, cost = canary.run(staging, cat.task)
        if not tried.passed:
            raise DeploymentRefused(refusal(
                "the canary failed on the staging folder", tried.failed, live_name,
                "A failed reload, score or HTTP check means the model files of stage 5 are "
                "broken or do not match each other: re-run stage 5 (05_model_evaluation); a "
                "failed cost budget says what to change. allow_failed_gate does not override "
                "this."))
        manifest = replace(manifest, canary=tried, latency_p95_ms=latency, cost=cost)
        card = staging / cat.path("model_card").name
        storage.write_text(card, model_card(manifest, training))
        manifest = replace(manifest, files={**manifest.files, card.name: storage.sha256_file(card)})
        storage.write_json(staging / MANIFEST_NAME, manifest.to_dict())
        verify(staging)
        release.publish(cat, staging, manifest.release, keep)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
