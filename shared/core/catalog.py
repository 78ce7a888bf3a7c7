"""The artifact catalog: every file passed between stages, declared once.

Each artifact has a name, a path (below the run's root folder, or inside the
project for the data that ships with it), a format and the stage that writes
it; each stage declares the artifacts it reads and writes. Notebooks, the
runner (which stage a change invalidates) and the error for a missing input
(which notebook writes it) all use this one declaration.

    cat = Catalog.for_task("sentiment")
    cat.path("train")            # data/sentiment/processed/train.csv
    cat.read("train")            # a DataFrame, or MissingArtifactError naming stage 3
    cat.write("train", frame)    # atomic

This module imports no stage logic; reading and writing go through
``shared.core.storage`` (and ``shared.core.modelfile`` for skops files).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shared
from shared.core import storage

#: the ``shared`` package's folder (wherever in it this module sits)
PACKAGE_DIR = Path(shared.__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
BUILTIN_DATA_DIR = PROJECT_DIR / "data" / "builtin"
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"

#: "parquet" is a folder of Parquet part files (``part-00000.parquet``, ...): the out-of-core
#: engine's tables, read and written part by part with ``shared.data.partitions``
FORMATS = ("json", "csv", "skops", "markdown", "sqlite", "parquet")


class MissingArtifactError(FileNotFoundError):
    """An input a stage needs has not been written by the stage that owns it."""


@dataclass(frozen=True)
class Artifact:
    """One declared file: where it lives, in which format, what it holds.

    ``path`` is relative to the run's root folder (``--root``), with ``{task}``
    filled in; a ``shipped`` artifact is part of the project (``data/builtin``)
    and is read from the project folder whatever the root.
    """

    name: str
    path: str
    format: str
    description: str
    shipped: bool = False


@dataclass(frozen=True)
class Stage:
    """One notebook of the workflow and the artifacts it reads and writes."""

    number: int
    notebook: str
    title: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    #: also reads the data set its ``dataset`` parameter names (built-in, public or a file)
    reads_dataset: bool = False

    @property
    def key(self) -> str:
        """The two-digit number the runner's ``--from`` and ``--only`` take ("04")."""
        return f"{self.number:02d}"

    @property
    def label(self) -> str:
        """How messages name the stage: 'stage 4 (notebooks/04_model_training.ipynb)'."""
        return f"stage {self.number} (notebooks/{self.notebook})"


ARTIFACTS: dict[str, Artifact] = {a.name: a for a in (
    # stage 1
    Artifact("problem_spec", "models/{task}/problem.json", "json",
             "the problem spec: labels, metric, target, thresholds, seed"),
    # stage 2
    Artifact("raw_snapshot", "data/{task}/raw/dataset.csv", "csv",
             "the rows kept, in the fixed schema (row, text, label, source, dataset; date when "
             "the data has one)"),
    Artifact("raw_parts", "data/{task}/raw/dataset.parquet", "parquet",
             "out-of-core engine: the rows kept, as Parquet parts (row, text, label, source, "
             "dataset; date when the data has one)"),
    Artifact("quarantine", "data/{task}/raw/quarantine.csv", "csv",
             "every rejected row with its reason"),
    Artifact("collection_report", "data/{task}/raw/collection.json", "json",
             "rows read, kept and quarantined; label balance; snapshot fingerprint"),
    # stage 3
    Artifact("clean_dataset", "data/{task}/interim/clean.csv", "csv",
             "cleaned texts, exact duplicates removed"),
    Artifact("preparation_report", "data/{task}/interim/preparation.json", "json",
             "rows in and out of cleaning and de-duplication"),
    Artifact("train", "data/{task}/processed/train.csv", "csv", "the training split"),
    Artifact("test", "data/{task}/processed/test.csv", "csv", "the held-out test split"),
    Artifact("clean_parts", "data/{task}/interim/clean.parquet", "parquet",
             "out-of-core engine: cleaned texts, exact duplicates removed, as Parquet parts"),
    Artifact("train_parts", "data/{task}/processed/train.parquet", "parquet",
             "out-of-core engine: the training split, as Parquet parts"),
    Artifact("test_parts", "data/{task}/processed/test.parquet", "parquet",
             "out-of-core engine: the held-out test split, as Parquet parts"),
    # stage 4
    Artifact("trained_model", "models/{task}/training/pipeline.skops", "skops",
             "the chosen pipeline, fitted on the whole training split"),
    Artifact("baseline_model", "models/{task}/training/baseline.skops", "skops",
             "the majority-class baseline"),
    Artifact("cv_results", "models/{task}/training/cv_results.csv", "csv",
             "every configuration searched, with its fold scores"),
    Artifact("oof_predictions", "models/{task}/training/oof_predictions.csv", "csv",
             "out-of-fold scores of the chosen configuration: the validation data"),
    Artifact("training_report", "models/{task}/training/training.json", "json",
             "the search settings, the choice and why"),
    # stage 5
    Artifact("final_model", "models/{task}/evaluation/model.skops", "skops",
             "the evaluated model (calibrated when that helped): the one deployed"),
    Artifact("metrics", "models/{task}/evaluation/metrics.json", "json",
             "threshold, held-out metrics with intervals, baseline, calibration, gate"),
    Artifact("reference_predictions", "models/{task}/evaluation/reference_predictions.csv",
             "csv", "test-split predictions: monitoring's reference"),
    # stage 6
    Artifact("deployed_model", "models/{task}/deployed/model.skops", "skops",
             "the deployed model"),
    Artifact("deployed_metrics", "models/{task}/deployed/metrics.json", "json",
             "the deployed model's metrics.json"),
    Artifact("deployed_problem_spec", "models/{task}/deployed/problem.json", "json",
             "the problem spec the deployed model was built for"),
    Artifact("deployed_reference", "models/{task}/deployed/reference_predictions.csv", "csv",
             "the deployed model's reference predictions"),
    Artifact("model_card", "models/{task}/deployed/MODEL_CARD.md", "markdown",
             "the model card"),
    Artifact("manifest", "models/{task}/deployed/manifest.json", "json",
             "SHA-256 of every deployed file, library versions, data fingerprint"),
    # stage 7 (the log is appended to by stage 6, stage 7, the service and the batch command)
    Artifact("prediction_log", "models/{task}/predictions.sqlite", "sqlite",
             "every prediction, feedback label and alert"),
    Artifact("monitoring_report", "models/{task}/monitoring/report.json", "json",
             "stage 7's figures and alerts for the new and the drifted batch"),
    Artifact("batch_predictions", "models/{task}/monitoring/batch_predictions.csv", "csv",
             "stage 7's predictions of the new batch"),
    Artifact("monitoring_windows", "models/{task}/monitoring/windows.csv", "csv",
             "the monitor command's figures, one row per window"),
    Artifact("monitoring_alerts", "models/{task}/monitoring/alerts.csv", "csv",
             "the monitor command's alert table"),
    Artifact("release_runs", "models/{task}/releases/runs.json", "json",
             "the tracked run (MLflow run id and name) that produced each release"),
    Artifact("alert_notifications", "models/{task}/monitoring/notifications.json", "json",
             "the watch loop's alerts that are firing, and when each was last sent"),
    # shipped with the project
    Artifact("new_batch", "data/builtin/{task}/new_batch.csv", "csv",
             "new texts with labels for stage 7, a few from other domains", shipped=True),
    Artifact("drifted_batch", "data/builtin/{task}/drifted_batch.csv", "csv",
             "texts from other domains for stage 7", shipped=True),
    Artifact("behaviour_cases", "data/builtin/{task}/behaviour.csv", "csv",
             "stage 5's behavioural test cases (MFT, INV, DIR): shared.model.behaviour", shipped=True),
    Artifact("sensitivity_templates", "data/builtin/{task}/sensitivity.csv", "csv",
             "stage 5's name and gender templates: shared.model.sensitivity", shipped=True),
)}

STAGES: tuple[Stage, ...] = (
    Stage(1, "01_problem_definition.ipynb", "problem definition",
          reads=(), writes=("problem_spec",)),
    Stage(2, "02_data_collection.ipynb", "data collection",
          reads=("problem_spec",),
          writes=("raw_snapshot", "raw_parts", "quarantine", "collection_report"),
          reads_dataset=True),
    Stage(3, "03_data_preparation.ipynb", "data preparation",
          reads=("problem_spec", "raw_snapshot", "raw_parts", "collection_report"),
          writes=("clean_dataset", "preparation_report", "train", "test", "clean_parts",
                  "train_parts", "test_parts")),
    Stage(4, "04_model_training.ipynb", "model training",
          reads=("problem_spec", "train", "train_parts", "collection_report"),
          writes=("trained_model", "baseline_model", "cv_results", "oof_predictions",
                  "training_report")),
    Stage(5, "05_model_evaluation.ipynb", "model evaluation",
          reads=("problem_spec", "train", "test", "train_parts", "test_parts", "trained_model",
                 "baseline_model", "oof_predictions", "training_report", "behaviour_cases",
                 "sensitivity_templates"),
          writes=("final_model", "metrics", "reference_predictions")),
    Stage(6, "06_deployment.ipynb", "deployment",
          reads=("problem_spec", "train", "train_parts", "final_model", "metrics",
                 "reference_predictions", "training_report", "new_batch"),
          writes=("deployed_model", "deployed_metrics", "deployed_problem_spec",
                  "deployed_reference", "model_card", "manifest")),
    Stage(7, "07_monitoring.ipynb", "monitoring and prediction",
          reads=("problem_spec", "train", "deployed_model", "deployed_reference", "manifest",
                 "model_card", "new_batch", "drifted_batch"),
          writes=("monitoring_report", "batch_predictions", "monitoring_windows",
                  "monitoring_alerts")),
)

NOTEBOOKS: tuple[str, ...] = tuple(stage.notebook for stage in STAGES)

#: the embedded run history's folder under a run's root (git ignores it)
TRACKING_FOLDER = "mlruns"

#: artifacts written while the model serves, not by a stage: the service's and the batch
#: command's prediction log, the watch loop's notification state (``shared.monitoring.watch``),
#: and the runner's link from each release to the tracked run that made it
#: (``shared.run.tracking``)
RUNTIME_ARTIFACTS: tuple[str, ...] = ("prediction_log", "alert_notifications", "release_runs")


def producer(name: str) -> Stage | None:
    """The stage that writes artifact ``name`` (None for what ships with the project)."""
    artifact(name)
    return next((stage for stage in STAGES if name in stage.writes), None)


def artifact(name: str) -> Artifact:
    """The declaration of artifact ``name``; the error lists the declared names."""
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise KeyError(f"no artifact {name!r} in the catalog; declared: "
                       f"{', '.join(ARTIFACTS)}") from None


def stage(key: str | int) -> Stage:
    """The stage numbered ``key`` (4, "4", "04" or its notebook's name)."""
    for candidate in STAGES:
        if str(key) in (str(candidate.number), candidate.key, candidate.notebook,
                        candidate.notebook.removesuffix(".ipynb")):
            return candidate
    raise KeyError(f"no stage {key!r}; the stages are {', '.join(s.key for s in STAGES)}")


@dataclass(frozen=True)
class Catalog:
    """Paths of every artifact of one task, below one root folder.

    ``root`` holds ``data/``, ``models/`` and ``reports/``; ``task`` keys the
    sub-folders so that runs of different tasks never overwrite each other.
    """

    root: Path
    task: str

    @classmethod
    def for_task(cls, task: str, root: str | os.PathLike[str] = PROJECT_DIR) -> Catalog:
        """The catalog of ``task`` below ``root`` (default: the project folder)."""
        return cls(Path(root).resolve(), task)

    def path(self, name: str) -> Path:
        """Where artifact ``name`` lives for this task."""
        declared = artifact(name)
        base = PROJECT_DIR if declared.shipped else self.root
        return base / declared.path.format(task=self.task)

    def require(self, name: str) -> Path:
        """The path of ``name`` if it exists, else an error naming the stage that writes it."""
        path = self.path(name)
        if not path.exists():
            writer = producer(name)
            if writer is None:
                raise MissingArtifactError(
                    f"{self.relative(path)} does not exist; it ships with the project: restore "
                    "it from git (`git checkout -- data/builtin`)."
                )
            raise MissingArtifactError(
                f"{self.relative(path)} does not exist. It is written by {writer.label}: run "
                f"that notebook, or `python -m shared.runner --task {self.task} --from "
                f"{writer.key}`, first."
            )
        return path

    def existing(self, *names: str) -> tuple[str, Path]:
        """The first of ``names`` (alternatives, such as "train" and "train_parts") that
        exists, with its path; else the error of the first one missing."""
        for name in names:
            if self.path(name).exists():
                return name, self.path(name)
        return names[0], self.require(names[0])

    def read(self, name: str) -> Any:
        """Artifact ``name`` as its format gives it: a dict, a DataFrame, a model or text."""
        path = self.require(name)
        kind = artifact(name).format
        if kind == "json":
            return storage.read_json(path)
        if kind == "csv":
            return storage.read_csv(path)
        if kind == "skops":
            from shared.core import modelfile

            return modelfile.load_model(path)
        if kind == "markdown":
            return path.read_text(encoding="utf-8")
        raise ValueError(f"{name} is a {kind} artifact: read it with its own module")

    def write(self, name: str, value: Any) -> Path:
        """Write artifact ``name`` atomically, in its declared format."""
        path = self.path(name)
        declared = artifact(name)
        if declared.shipped:
            raise ValueError(f"{name} ships with the project and is never written by a stage")
        if declared.format == "json":
            return storage.write_json(path, value)
        if declared.format == "csv":
            return storage.write_csv(path, value)
        if declared.format == "skops":
            from shared.core import modelfile

            return modelfile.save_model(value, path)
        if declared.format == "markdown":
            return storage.write_text(path, value)
        raise ValueError(f"{name} is a {declared.format} artifact: write it with its own module")

    # -- folders -----------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """``data/<task>/``: what stages 2 and 3 write."""
        return self.root / "data" / self.task

    @property
    def models_dir(self) -> Path:
        """``models/<task>/``: what stages 1 and 4 to 7 write."""
        return self.root / "models" / self.task

    @property
    def deployed_dir(self) -> Path:
        """The deployed folder that the service, the batch command and stage 7 load.

        Since releases are kept, it is a link to the live one in :attr:`releases_dir`
        (``shared.deploy.release``); every deployed artifact is read through it.
        """
        return self.path("manifest").parent

    @property
    def retrain_dir(self) -> Path:
        """``models/<task>/retrain/``: one folder per retrain (``shared.run.retrain``), with
        the feedback it read, texts included, which retention deletes."""
        return self.models_dir / "retrain"

    @property
    def releases_dir(self) -> Path:
        """``models/<task>/releases/``: every kept deployment, one folder each."""
        return self.models_dir / "releases"

    @property
    def tracking_dir(self) -> Path:
        """``mlruns/``: the embedded run history of every task (``shared.run.tracking``)."""
        return self.root / TRACKING_FOLDER

    @property
    def tracked_files_dir(self) -> Path:
        """``mlruns/artifacts/<task>/``: the files of this task's runs in the embedded run
        history, one folder per MLflow run (``<run id>/artifacts/...``)."""
        return self.tracking_dir / "artifacts" / self.task

    @property
    def reports_dir(self) -> Path:
        """``reports/<task>/``: the executed notebooks, their HTML and the run record."""
        return self.root / "reports" / self.task

    def relative(self, path: str | os.PathLike[str]) -> str:
        """The path as shown to people: relative to the root or project, never absolute.

        Links are not followed: ``deployed`` is shown as itself, not as the release it
        points to.
        """
        resolved = Path(os.path.abspath(path))
        for base in (self.root, PROJECT_DIR):
            try:
                return resolved.relative_to(base).as_posix()
            except ValueError:
                continue
        return resolved.name
