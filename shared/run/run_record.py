"""The run record: what each stage last ran on, so that a stage whose inputs did not change
is not run again.

A stage's fingerprint is a SHA-256 over everything that decides its outputs:
its notebook's cells, the parameters it gets, the content of every artifact
it reads (as the catalog declares them; for stage 2 also the files of the data
set), the source of ``shared/`` and the pinned library versions. Content
hashes, never timestamps. ``reports/<task>/run.json`` keeps, per stage, the
fingerprint of its last run, how that run ended, its time and the SHA-256 of
each output. A stage is up to date when it last succeeded with the same
fingerprint and its outputs are still there, unchanged.

The record is written before a stage starts (``running``) and after it ends,
atomically, so a run killed midway leaves the interrupted stage counted as
not done.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from shared.core import storage
from shared.core.catalog import NOTEBOOKS_DIR, PACKAGE_DIR, PROJECT_DIR, Catalog, Stage, producer
from shared.core.records import Record

RECORD_NAME = "run.json"
RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


@dataclass(frozen=True)
class StageRecord(Record):
    """How a stage last ran: on which fingerprint, how it ended, and what it wrote."""

    fingerprint: str
    outcome: str
    started_at: str
    seconds: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    #: "ran" or "skipped" (up to date) in the latest run
    last_action: str = "ran"
    #: the data set the stage last ran on (the runner's --dataset); "" in older records
    dataset: str = ""
    #: the run history's record of the run that wrote these outputs (``shared.run.tracking``),
    #: and the store that holds it (as messages show it); "" when that run was not tracked
    tracking_run: str = ""
    tracking_store: str = ""


@dataclass(frozen=True)
class RunRecord(Record):
    """``reports/<task>/run.json``: the last known state of every stage of a task."""

    artifact: ClassVar[str] = ""

    task: str
    stages: dict[str, StageRecord] = field(default_factory=dict)

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        if name == "stages":
            return {key: StageRecord.from_dict(stage) for key, stage in value.items()}
        return value

    @staticmethod
    def path(cat: Catalog) -> Path:
        """Where the record of ``cat``'s task lives."""
        return cat.reports_dir / RECORD_NAME

    @classmethod
    def read(cls, cat: Catalog) -> RunRecord:
        """The task's record, or an empty one before the first run."""
        path = cls.path(cat)
        return cls.from_dict(storage.read_json(path)) if path.exists() else cls(task=cat.task)

    def write(self, cat: Catalog) -> None:
        """Write the record atomically."""
        storage.write_json(self.path(cat), self.to_dict())

    def with_stage(self, stage: Stage, record: StageRecord) -> RunRecord:
        """A copy with ``stage``'s record replaced."""
        return replace(self, stages={**self.stages, stage.key: record})


def now() -> str:
    """The time, for the record."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Fingerprints:
    """Content hashes of files and stages, each file hashed at most once a run."""

    def __init__(self, cat: Catalog) -> None:
        self.cat = cat
        self._files: dict[Path, str] = {}
        self._code: str | None = None

    def file(self, path: Path) -> str:
        """The SHA-256 of a file or folder, or "missing"."""
        path = Path(path)
        if path not in self._files:
            # a folder artifact (the out-of-core engine's Parquet parts) is hashed whole
            self._files[path] = storage.sha256_path(path) if path.exists() else "missing"
        return self._files[path]

    def forget(self, paths: list[Path]) -> None:
        """Drop the hashes of files a stage has just rewritten."""
        for path in paths:
            self._files.pop(Path(path), None)

    def code(self) -> str:
        """One hash of the project's code and of the pinned libraries."""
        if self._code is None:
            files = sorted(p for p in PACKAGE_DIR.rglob("*")
                           if p.is_file() and p.suffix in (".py", ".md") and "__pycache__" not in p.parts)
            files.append(PROJECT_DIR / "requirements.lock")
            digest = hashlib.sha256()
            for path in files:
                digest.update(path.relative_to(PROJECT_DIR).as_posix().encode())
                digest.update(self.file(path).encode())
            self._code = digest.hexdigest()
        return self._code

    @staticmethod
    def notebook(stage: Stage) -> str:
        """A hash of the notebook's cells (sources, not outputs: those are what a run makes)."""
        document = json.loads((NOTEBOOKS_DIR / stage.notebook).read_text(encoding="utf-8"))
        cells = [[cell["cell_type"], "".join(cell["source"])] for cell in document["cells"]]
        return hashlib.sha256(json.dumps(cells).encode()).hexdigest()

    def inputs(self, stage: Stage, dataset_files: list[Path]) -> dict[str, str]:
        """The hash of every input of the stage, by name (artifacts, then data-set files)."""
        hashes = {name: self.file(self.cat.path(name)) for name in stage.reads}
        if stage.reads_dataset:
            names = [p.name for p in dataset_files]
            # by name, as before; by path when two files of a mix share a name, so none hides
            hashes.update({f"dataset:{p.name if names.count(p.name) == 1 else p}": self.file(p)
                           for p in dataset_files})
        return hashes

    def stage(self, stage: Stage, parameters: dict[str, Any], dataset_files: list[Path]) -> str:
        """The fingerprint of running ``stage`` now with these parameters."""
        payload = {
            "notebook": self.notebook(stage),
            "parameters": parameters,
            "inputs": self.inputs(stage, dataset_files),
            "code": self.code(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def outputs(self, stage: Stage) -> dict[str, str]:
        """The hash of every output the stage declares (after it ran)."""
        paths = [self.cat.path(name) for name in stage.writes]
        self.forget(paths)
        return {name: self.file(path) for name, path in zip(stage.writes, paths, strict=True)}


def why_not_current(
    record: RunRecord, stage: Stage, fingerprint: str, fingerprints: Fingerprints
) -> str | None:
    """Why ``stage`` must run again, or None when it is up to date."""
    last = record.stages.get(stage.key)
    if last is None:
        return "it has not run yet"
    if last.outcome == RUNNING:
        return "its last run was interrupted"
    if last.outcome == FAILED:
        return "its last run failed"
    if last.fingerprint != fingerprint:
        return "its inputs, parameters, notebook or code changed"
    for name, expected in last.outputs.items():
        actual = fingerprints.file(fingerprints.cat.path(name))
        if actual != expected:
            state = "is missing" if actual == "missing" else "was changed since"
            return f"its output {fingerprints.cat.relative(fingerprints.cat.path(name))} {state}"
    return None


def producers_of(stage: Stage) -> list[Stage]:
    """The earlier stages that write what ``stage`` reads, in order."""
    found = {producer(name) for name in stage.reads}
    return sorted((s for s in found if s is not None), key=lambda s: s.number)
