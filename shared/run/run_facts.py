"""What a run's history records about each stage, read from the stage's declared outputs.

The run history (``shared.run.tracking``) keeps one record per stage of every run: its
parameters, metrics, tags and files. They are read here from what the stage wrote, as the
catalog declares it (the problem spec, the collection and preparation reports, the training
report, ``metrics.json``, the manifest, the monitoring report), never from a notebook's
variables, and without MLflow: these functions return plain values, which the tracker writes.

A stage that did not write an output (a failed run, a stage not reached) gives what it has.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.core import storage
from shared.core.catalog import Catalog, Stage
from shared.core.manifest import Manifest
from shared.core.records import (
    CollectionReport,
    EvaluationReport,
    MonitoringReport,
    PreparationReport,
    RecordError,
    TrainingReport,
)

#: MLflow refuses a parameter value over 6,000 characters; a longer one is cut, and says so
MAX_PARAM_CHARS = 6000


@dataclass
class Facts:
    """The parameters, metrics, tags and files recorded for one stage (or for a whole run)."""

    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: folder inside the run's artifacts -> files to copy there
    files: dict[str, list[Path]] = field(default_factory=dict)

    def add_file(self, folder: str, path: Path) -> None:
        """Record ``path`` under ``folder`` when it exists (a stage not reached wrote none)."""
        if path.is_file():
            self.files.setdefault(folder, []).append(path)


def param_value(value: Any) -> str:
    """A parameter as MLflow keeps it: a string (JSON for lists and mappings), cut to fit."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if len(text) > MAX_PARAM_CHARS:
        return text[: MAX_PARAM_CHARS - 20] + " ... (cut)"
    return text


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and value == value:  # NaN is not recorded
        return float(value)
    return None


def _load(record: type, cat: Catalog) -> Any:
    try:
        return record.load(cat)
    except (FileNotFoundError, RecordError, KeyError, ValueError, TypeError):
        return None


def figures(executed_notebook: Path, folder: Path) -> list[Path]:
    """The PNG figures of an executed notebook, written to ``folder`` as ``NN_fig_K.png``."""
    if not executed_notebook.is_file():
        return []
    document = json.loads(executed_notebook.read_text(encoding="utf-8"))
    written = []
    stem = executed_notebook.stem.split("_")[0]
    for cell in document.get("cells", []):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                path = folder / f"{stem}_fig_{len(written) + 1}.png"
                path.write_bytes(base64.b64decode("".join(png)))
                written.append(path)
    return written


def stage_facts(cat: Catalog, stage: Stage) -> Facts:
    """What the history records about ``stage`` from the outputs it wrote."""
    facts = Facts()
    reader = _READERS.get(stage.number)
    try:
        if reader is not None:
            reader(cat, facts)
    except (OSError, ValueError, TypeError, KeyError) as error:  # an output not as declared
        facts.tags["facts_error"] = f"{type(error).__name__}: {error}"[:500]
    return facts


def _problem(cat: Catalog, facts: Facts) -> None:
    path = cat.path("problem_spec")
    if path.is_file():
        for name, value in storage.read_json(path).items():
            facts.params[f"spec.{name}"] = param_value(value)
        facts.add_file("outputs", path)


def _collection(cat: Catalog, facts: Facts) -> None:
    from shared.data.engines import engine_of

    report = _load(CollectionReport, cat)
    if report is None:
        return
    facts.params.update(collected_dataset=report.dataset, data_sha256=report.snapshot_sha256,
                        engine=engine_of(cat))
    facts.metrics.update(rows_read=report.rows_read, rows_kept=report.rows_kept,
                         rows_quarantined=report.rows_quarantined)
    for name, counts in report.by_dataset.items():
        facts.metrics[f"rows_kept.{name}"] = counts["rows_kept"]
    facts.add_file("outputs", cat.path("collection_report"))


def _preparation(cat: Catalog, facts: Facts) -> None:
    report = _load(PreparationReport, cat)
    if report is None:
        return
    facts.metrics.update(rows_in=report.rows_in, rows_out=report.rows_out,
                         exact_duplicates_dropped=report.exact_duplicates_dropped,
                         texts_changed_by_cleaning=report.texts_changed_by_cleaning)
    facts.add_file("outputs", cat.path("preparation_report"))


def _training(cat: Catalog, facts: Facts) -> None:
    report = _load(TrainingReport, cat)
    if report is None:
        return
    facts.params.update(chosen=report.chosen, chosen_params=param_value(report.params),
                        search=param_value(report.search))
    facts.metrics.update(cv_mean=report.cv_mean, cv_std=report.cv_std,
                         configurations_tried=report.configurations_tried,
                         train_rows=report.train_rows)
    results = cat.path("cv_results")
    if results.is_file():
        import pandas as pd

        table = pd.read_csv(results, usecols=["model", "mean"])
        for family, best in table.groupby("model")["mean"].max().items():
            facts.metrics[f"cv.{family}"] = float(best)
    facts.add_file("outputs", cat.path("training_report"))
    facts.add_file("outputs", results)


def _evaluation(cat: Catalog, facts: Facts) -> None:
    report = _load(EvaluationReport, cat)
    if report is None:
        return
    for name, value in report.test.items():
        if (number := _number(value)) is not None:
            facts.metrics[f"test.{name}"] = number
    for name, interval in report.intervals.items():
        facts.metrics[f"test.{name}.low"] = float(interval["low"])
        facts.metrics[f"test.{name}.high"] = float(interval["high"])
    for kind, rates in report.behaviour.get("pass_rates", {}).items():
        facts.metrics[f"behaviour.{kind}.pass_rate"] = float(rates["pass_rate"])
    for check, result in report.sensitivity.items():
        for name in ("flips", "mean_spread", "max_spread"):
            if (number := _number(result.get(name))) is not None:
                facts.metrics[f"{check}_check.{name}"] = number
    facts.metrics.update(threshold=report.threshold, gate_passed=float(report.gate.passed))
    facts.params.update(calibration=report.calibration.method,
                        model=param_value(report.training.model_description))
    facts.tags.update(gate=report.gate.verdict, primary_metric=report.primary_metric)
    facts.add_file("outputs", cat.path("metrics"))


def _deployment(cat: Catalog, facts: Facts) -> None:
    manifest = _load(Manifest, cat)
    if manifest is None:
        return
    facts.tags.update(release=manifest.release, model_version=manifest.model_version)
    if manifest.latency_p95_ms is not None:
        facts.metrics["latency_p95_ms"] = manifest.latency_p95_ms
    for name, value in (manifest.cost or {}).items():
        facts.metrics[f"cost.{name}"] = float(value)
    if manifest.canary is not None:
        facts.metrics["canary_passed"] = float(manifest.canary.passed)
    # the deployed model as it was released: skops files and their manifest, never a pickle
    for name in sorted(manifest.files) + ["manifest.json"]:
        facts.add_file("model", cat.deployed_dir / name)


def _monitoring(cat: Catalog, facts: Facts) -> None:
    report = _load(MonitoringReport, cat)
    if report is None:
        return
    for window in report.windows:
        fired = sum(bool(alert.get("fired")) for alert in window.alerts)
        facts.metrics[f"alerts_fired.{window.name.replace(' ', '_')}"] = fired
    facts.add_file("outputs", cat.path("monitoring_report"))


_READERS = {1: _problem, 2: _collection, 3: _preparation, 4: _training, 5: _evaluation,
            6: _deployment, 7: _monitoring}

