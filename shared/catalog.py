"""The artifact catalog: one declared place for every file passed between stages.

Every stage asks the catalog where its inputs and outputs live; no notebook
builds a path by hand. Writes are atomic: the content goes to a temporary file
in the destination folder, is flushed to disk, then renamed over the target,
so a crash never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
BUILTIN_DATA_DIR = PROJECT_DIR / "data" / "builtin"
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"


class MissingArtifactError(FileNotFoundError):
    """An input a stage needs has not been written by the stage that owns it."""


@dataclass(frozen=True)
class Catalog:
    """Paths of every artifact of one task, below one project folder.

    ``root`` holds ``data/``, ``models/`` and ``reports/``; ``task`` keys the
    sub-folders so that runs of different tasks never overwrite each other.
    """

    root: Path
    task: str

    @classmethod
    def for_task(cls, task: str, root: str | os.PathLike[str] = PROJECT_DIR) -> Catalog:
        return cls(Path(root).resolve(), task)

    # -- folders -----------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data" / self.task

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def interim_dir(self) -> Path:
        return self.data_dir / "interim"

    @property
    def processed_dir(self) -> Path:
        return self.data_dir / "processed"

    @property
    def models_dir(self) -> Path:
        return self.root / "models" / self.task

    @property
    def training_dir(self) -> Path:
        return self.models_dir / "training"

    @property
    def evaluation_dir(self) -> Path:
        return self.models_dir / "evaluation"

    @property
    def deployed_dir(self) -> Path:
        return self.models_dir / "deployed"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports" / self.task

    # -- stage 1 -----------------------------------------------------------
    @property
    def problem_spec(self) -> Path:
        return self.models_dir / "problem.json"

    # -- stage 2 -----------------------------------------------------------
    @property
    def raw_snapshot(self) -> Path:
        return self.raw_dir / "dataset.csv"

    @property
    def quarantine(self) -> Path:
        return self.raw_dir / "quarantine.csv"

    @property
    def collection_report(self) -> Path:
        return self.raw_dir / "collection.json"

    # -- stage 3 -----------------------------------------------------------
    @property
    def clean_dataset(self) -> Path:
        return self.interim_dir / "clean.csv"

    @property
    def preparation_report(self) -> Path:
        return self.interim_dir / "preparation.json"

    def split(self, name: str) -> Path:
        """Path of the ``train`` or ``test`` split."""
        if name not in ("train", "test"):
            raise ValueError(f"unknown split {name!r}: expected 'train' or 'test'")
        return self.processed_dir / f"{name}.csv"

    # -- stage 4 -----------------------------------------------------------
    @property
    def trained_model(self) -> Path:
        return self.training_dir / "pipeline.skops"

    @property
    def baseline_model(self) -> Path:
        return self.training_dir / "baseline.skops"

    @property
    def cv_results(self) -> Path:
        return self.training_dir / "cv_results.csv"

    @property
    def oof_predictions(self) -> Path:
        """Out-of-fold scores on the training split: the validation data for thresholds."""
        return self.training_dir / "oof_predictions.csv"

    @property
    def training_report(self) -> Path:
        return self.training_dir / "training.json"

    # -- stage 5 -----------------------------------------------------------
    @property
    def metrics(self) -> Path:
        return self.evaluation_dir / "metrics.json"

    @property
    def final_model(self) -> Path:
        """The model stage 5 evaluated (calibrated when that helped): the one deployed."""
        return self.evaluation_dir / "model.skops"

    @property
    def reference_predictions(self) -> Path:
        return self.evaluation_dir / "reference_predictions.csv"

    # -- stage 6 -----------------------------------------------------------
    @property
    def deployed_model(self) -> Path:
        return self.deployed_dir / "model.skops"

    @property
    def deployed_metrics(self) -> Path:
        return self.deployed_dir / "metrics.json"

    @property
    def deployed_problem_spec(self) -> Path:
        return self.deployed_dir / "problem.json"

    @property
    def deployed_reference(self) -> Path:
        return self.deployed_dir / "reference_predictions.csv"

    @property
    def manifest(self) -> Path:
        return self.deployed_dir / "manifest.json"

    @property
    def model_card(self) -> Path:
        return self.deployed_dir / "MODEL_CARD.md"

    # -- stage 7 -----------------------------------------------------------
    @property
    def prediction_log(self) -> Path:
        return self.models_dir / "predictions.sqlite"

    @property
    def monitoring_report(self) -> Path:
        return self.models_dir / "monitoring" / "report.json"

    @property
    def batch_predictions(self) -> Path:
        return self.models_dir / "monitoring" / "batch_predictions.csv"

    def relative(self, path: Path) -> str:
        """The path as shown to people: relative to the project folder, never absolute."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return Path(path).name

    # -- stage 7: the monitor (python -m shared.monitor) -----------------------------
    @property
    def monitoring_windows(self) -> Path:
        """The figures of every window of the monitor's last run, one row per window."""
        return self.models_dir / "monitoring" / "windows.csv"

    @property
    def monitoring_alerts(self) -> Path:
        """The alert table (every rule of every window) of the monitor's last run."""
        return self.models_dir / "monitoring" / "alerts.csv"


def require(path: Path, produced_by: str) -> Path:
    """Return ``path`` if it exists, else explain which stage must run first."""
    if not Path(path).exists():
        raise MissingArtifactError(
            f"{path} does not exist. It is written by {produced_by}: run that notebook "
            "(or `python -m shared.pipeline`) first."
        )
    return Path(path)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On any exception the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], payload: Any) -> Path:
    text = json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return write_text(target, text + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_csv(target: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return Path(target)


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV this project wrote: UTF-8, text columns kept as strings, '' not NaN."""
    return pd.read_csv(path, encoding="utf-8", keep_default_na=False, dtype={"text": str})


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
