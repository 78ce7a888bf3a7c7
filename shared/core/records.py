"""The records stages hand each other: one typed class per JSON file between stages.

Each record is a frozen dataclass with ``to_dict`` / ``from_dict`` and is read
and written only through ``load(cat)`` / ``save(cat)``, which go through the
catalog entry named by its ``artifact``. So the keys of ``metrics.json`` exist
in one place (:class:`EvaluationReport`), and a reader that asks for a field the
writer never wrote fails here, by name, instead of with a ``KeyError`` three
stages later. (The problem spec, stage 1's record, lives in ``shared.core.problem``
beside its validation.)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from shared.core.catalog import Catalog

if TYPE_CHECKING:
    import pandas as pd

R = TypeVar("R", bound="Record")


class RecordError(ValueError):
    """A stored record does not have the fields its class declares."""


class Record:
    """Base of the stage records: dict round trip, and load/save through the catalog."""

    #: the catalog entry the record is stored as
    artifact: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values (NaN becomes None: it is not JSON)."""
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[R], payload: dict[str, Any]) -> R:
        """The record from its dict; missing or unknown fields are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        required = {f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        unknown, missing = sorted(set(payload) - names), sorted(required - set(payload))
        if unknown or missing:
            raise RecordError(
                f"{cls.__name__} ({cls.artifact or 'record'}): "
                + "; ".join(part for part in (
                    f"unknown field(s) {unknown}" if unknown else "",
                    f"missing field(s) {missing}" if missing else "") if part)
                + ". It was written by another version of the project: re-run the stage "
                "that writes it."
            )
        return cls(**{k: cls._field_from_dict(k, v) for k, v in payload.items()})

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        """Turn one stored field back into its type (nested records override this)."""
        return value

    def save(self, cat: Catalog, artifact: str | None = None) -> None:
        """Write the record to its catalog entry (or to ``artifact``), atomically."""
        cat.write(artifact or self.artifact, self.to_dict())

    @classmethod
    def load(cls: type[R], cat: Catalog, artifact: str | None = None) -> R:
        """Read the record from its catalog entry (or from ``artifact``)."""
        return cls.from_dict(cat.read(artifact or cls.artifact))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# -- stage 2 ------------------------------------------------------------------------------
class DataSourceError(ValueError):
    """A data source cannot be read; the message names the file and what to do."""


def preview(values: list[str], limit: int = 8) -> str:
    """Up to ``limit`` values, quoted, for a DataSourceError: "['a', 'b' and 3 more]"."""
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"[{shown}{more}]" if values else "none (all empty)"


@dataclass
class LoadedData:
    """What a data source yielded, before validation (columns row, text, label, source)."""

    name: str
    frame: pd.DataFrame
    origin: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        """Every record of the source, good or bad."""
        return len(self.frame)


@dataclass
class ValidatedData:
    """The result of validation: kept rows, and quarantined rows with a reason each."""

    kept: pd.DataFrame
    quarantined: pd.DataFrame

    @property
    def reasons(self) -> pd.Series:
        """Quarantined rows per reason."""
        return self.quarantined["reason"].value_counts().sort_index()


@dataclass(frozen=True)
class CollectionReport(Record):
    """``data/<task>/raw/collection.json``: what stage 2 read, kept and quarantined."""

    artifact: ClassVar[str] = "collection_report"

    dataset: str
    origin: str
    rows_read: int
    rows_kept: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int]
    profile: dict[str, Any]
    snapshot_sha256: str
    #: how the source was read: files, encodings, published counts, label mapping
    details: dict[str, Any] = field(default_factory=dict)
    #: per data set of the run (``shared.data.sources``): rows_read, rows_kept, rows_quarantined,
    #: quarantine_reasons and its provenance (kind, origin, licence, dates)
    by_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rows_read != self.rows_kept + self.rows_quarantined:
            raise RecordError(
                f"{self.origin}: {self.rows_read} rows read != {self.rows_kept} kept + "
                f"{self.rows_quarantined} quarantined"
            )
        _check_parts(self.by_dataset, "collection", "rows_read", ("rows_kept", "rows_quarantined"),
                     {"rows_read": self.rows_read, "rows_kept": self.rows_kept,
                      "rows_quarantined": self.rows_quarantined})


def _check_parts(
    parts: dict[str, dict[str, Any]], what: str, total: str, terms: tuple[str, ...],
    overall: dict[str, int],
) -> None:
    """Refuse per-data-set counts that do not add up, or do not sum to the overall ones."""
    if not parts:
        return
    for name, counts in parts.items():
        if counts[total] != sum(counts[t] for t in terms):
            raise RecordError(
                f"{what}, data set {name!r}: {total} {counts[total]} != "
                + " + ".join(f"{counts[t]} {t}" for t in terms))
    for key, value in overall.items():
        if sum(counts[key] for counts in parts.values()) != value:
            raise RecordError(f"{what}: the data sets' {key} do not sum to the total {value}")


# -- stage 3 ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PreparationReport(Record):
    """``data/<task>/interim/preparation.json``: rows in and out of stage 3's cleaning."""

    artifact: ClassVar[str] = "preparation_report"

    rows_in: int
    texts_changed_by_cleaning: int
    exact_duplicates_dropped: int
    rows_out: int
    #: per data set (``shared.data.preparation.counts_by_dataset``): rows_in, duplicates_within
    #: (of a text earlier in the same data set), duplicates_across (of a text kept from an
    #: earlier data set; ``duplicate_of`` says which, with counts) and rows_out
    by_dataset: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.rows_in != self.rows_out + self.exact_duplicates_dropped:
            raise RecordError(
                f"preparation: {self.rows_in} rows in != {self.rows_out} out + "
                f"{self.exact_duplicates_dropped} duplicates dropped"
            )
        _check_parts(self.by_dataset, "preparation", "rows_in",
                     ("rows_out", "duplicates_within", "duplicates_across"),
                     {"rows_in": self.rows_in, "rows_out": self.rows_out})


# -- stage 4 ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingReport(Record):
    """``models/<task>/training/training.json``: the search and the choice it led to."""

    artifact: ClassVar[str] = "training_report"

    chosen: str
    params: str
    model_description: str
    reason: str
    cv_mean: float
    cv_std: float
    configurations_tried: int
    search: dict[str, Any]
    dataset: str
    train_rows: int
    #: ConvergenceWarning messages of the chosen configuration's fits (the final fit included)
    convergence_warnings: list[str] = field(default_factory=list)


# -- stage 5 ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GateCheck(Record):
    """One check of the gate: what was required, the value found, and the verdict."""

    check: str
    value: float
    passed: bool


@dataclass(frozen=True)
class Gate(Record):
    """PASS only when every check passed."""

    passed: bool
    checks: list[GateCheck]

    @classmethod
    def of(cls, checks: list[GateCheck]) -> Gate:
        """The gate of ``checks``: passed when all of them passed."""
        return cls(passed=all(c.passed for c in checks), checks=list(checks))

    @property
    def verdict(self) -> str:
        """'PASS' or 'FAIL'."""
        return "PASS" if self.passed else "FAIL"

    @property
    def failed(self) -> list[GateCheck]:
        """The checks that did not pass."""
        return [c for c in self.checks if not c.passed]

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        return [GateCheck.from_dict(c) for c in value] if name == "checks" else value


@dataclass(frozen=True)
class Calibration(Record):
    """Which calibration stage 5 kept, and the Brier scores that decided it."""

    method: str
    validation_brier: dict[str, float]
    test_brier: float


@dataclass(frozen=True)
class EvaluationReport(Record):
    """``models/<task>/evaluation/metrics.json``: everything stage 5 concluded.

    ``test`` and ``baseline`` map each headline metric (and the confusion
    counts) to its value on the test split at ``threshold``; ``intervals`` maps
    each metric to its bootstrap ``low`` and ``high``.
    """

    artifact: ClassVar[str] = "metrics"

    threshold: float
    test: dict[str, float]
    baseline: dict[str, float]
    intervals: dict[str, dict[str, float]]
    calibration: Calibration
    slices: list[dict[str, Any]]
    terms: list[dict[str, Any]]
    training: TrainingReport
    problem: dict[str, Any]
    gate: Gate
    #: stage 5's behavioural tests: pass rate per kind and the failed cases
    #: (``shared.model.behaviour.BehaviourResult.summary``); empty when they were not run
    behaviour: dict[str, Any] = field(default_factory=dict)
    #: stage 5's name and gender checks (``shared.model.sensitivity.SensitivityResult.summary``),
    #: by check; empty when they were not run
    sensitivity: dict[str, Any] = field(default_factory=dict)

    @property
    def primary_metric(self) -> str:
        """The spec's primary metric, by which the gate and the interval are read."""
        return str(self.problem["primary_metric"])

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        nested = {"calibration": Calibration, "training": TrainingReport, "gate": Gate}
        return nested[name].from_dict(value) if name in nested else value


# -- stage 7 ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowSummary(Record):
    """One monitored window: its figures and every alert rule's verdict."""

    name: str
    batch_id: str
    figures: dict[str, float | None]
    alerts: list[dict[str, Any]]


@dataclass(frozen=True)
class MonitoringReport(Record):
    """``models/<task>/monitoring/report.json``: stage 7's windows and their alerts."""

    artifact: ClassVar[str] = "monitoring_report"

    model_version: str
    windows: list[WindowSummary]

    @classmethod
    def _field_from_dict(cls, name: str, value: Any) -> Any:
        return [WindowSummary.from_dict(w) for w in value] if name == "windows" else value
