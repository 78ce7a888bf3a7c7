"""The problem spec: stage 1's decisions, written once and read by every later stage.

Later stages never re-decide a label name, a metric, a target or a threshold:
they read them from here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from shared.core.catalog import Catalog

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "mcc")
DECISION_RULES = ("fixed", "max_recall_at_ham_blocked")
#: where a value of the spec came from; ``value_sources`` names the last two only
TASK_DEFAULT = "task default"
OVERRIDE = "override -p"
#: the folds of the calibration that stage 4's linear SVM nests inside each cross-validation
#: fold (``shared.model.models``: ``CalibratedClassifierCV(cv=3)``); it sets how many texts of a
#: label a fold's training part must hold
CALIBRATION_FOLDS = 3


def dataset_default(dataset: str) -> str:
    """How ``value_sources`` names a value that a data set's own defaults set."""
    return f"data set {dataset} default"


#: how the text path blinds person first names (``shared.core.name_rules.blind_names``): not at
#: all, from the name list, or also capitalised words the training texts never held in lower
#: case, or (spam) also words written "Jessica" that the training texts never held at all
NAME_BLINDING = ("off", "list", "list_and_capitalised", "list_and_unseen")
#: the typed placeholders alone, or each followed by the characters it stands for
PLACEHOLDER_MODES = ("replace", "keep")
#: the optional feature groups a spec's ``feature_groups`` may name: the keys of
#: ``shared.model.features.OPTIONAL_GROUPS`` (tests/model/test_features.py checks that they agree),
#: listed here so that stages 1 to 3 validate a spec without importing scikit-learn
FEATURE_GROUPS = ("char", "shape", "lexicon", "embedding")

#: how stages 2 to 5 hold the data: all in memory, in chunks and partitions, or decided by size
ENGINES = ("auto", "memory", "out_of_core")


class ProblemSpecError(ValueError):
    """The problem spec is inconsistent; the message says which field and why."""


@dataclass(frozen=True)
class ProblemSpec:
    """A binary text-classification problem, stated as data."""

    task: str
    description: str
    labels: tuple[str, str]
    positive_label: str
    primary_metric: str
    target: float
    baseline: str = "majority"
    decision_rule: str = "fixed"
    decision_threshold: float = 0.5
    max_false_positive_rate: float | None = None
    #: with "max_recall_at_ham_blocked", the confidence with which the threshold keeps the
    #: share of negatives flagged within max_false_positive_rate, judged on the validation
    #: negatives (``shared.model.decision.most_blocked``); None: their measured share alone
    threshold_confidence: float | None = None
    confidence_threshold: float = 0.6
    max_low_confidence_share: float = 0.25
    max_unknown_word_share: float = 0.3
    max_confidence_psi: float = 0.25
    min_ks_pvalue: float = 0.01
    max_label_shift: float = 0.2
    max_domain_auc: float = 0.75
    min_live_feedback: int = 20
    #: how long true labels take to come back (hours): a time window's live metrics are read
    #: on the predictions this much older, with the feedback that arrived within it
    #: (``shared.monitoring.windows``)
    label_delay_hours: float = 24.0
    #: how long texts users sent are kept (days): the prediction log and its feedback, the
    #: quarantine, the HTML reports (``shared.serving.retention``); the watch loop applies it
    retention_days: int = 30
    max_model_age_days: int = 90
    max_latency_ratio: float = 3.0
    #: the canary refuses a model whose predict_proba takes longer for one text (ms) ...
    max_text_ms: float = 50.0
    #: ... or whose model file is larger (MB): every service and Dask worker holds a copy
    max_model_mb: float = 200.0
    max_invalid_scores: int = 0
    min_behaviour_pass_rate: float = 0.75
    #: behavioural capabilities whose every case must pass (data/builtin/<task>/behaviour.csv:
    #: INV "name", "gender"); stage 5's gate also judges the sensitivity check of each
    protected_capabilities: tuple[str, ...] = ("name",)
    slice_margin: float = 0.15
    min_slice_texts: int = 30
    max_metric_regression: float = 0.02
    #: stage 6 releases a model only when it is not worse than the live one by more than
    #: ``max_metric_regression`` with this one-sided confidence (a paired bootstrap on the
    #: same test texts, ``shared.deploy.challenger``)
    regression_confidence: float = 0.95
    #: the low end of the primary metric's 95% bootstrap interval must reach
    #: ``target - interval_margin``: a small test split cannot pass on luck (stated per data
    #: set: the margin is about the interval's half-width at the target on its test split)
    interval_margin: float = 0.10
    #: a retrain's training split holds at most this share of feedback texts
    #: (``shared.run.retrain``); 0 keeps feedback out of training altogether
    max_feedback_share: float = 0.2
    test_size: float = 0.2
    cv_folds: int = 5
    seed: int = 42
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: where each value that differs from the task's default came from (``VALUE_SOURCES``)
    value_sources: dict[str, str] = field(default_factory=dict)
    #: "memory", "out_of_core", or "auto": out_of_core when the data set has more rows
    #: than ``max_memory_rows`` (see ``shared.data.engines.resolve_engine``)
    engine: str = "auto"
    max_memory_rows: int = 100_000
    #: the text path before the featurizers (``shared.core.normalise``): confusables, typed
    #: placeholders and de-leet switched on together ...
    text_normalisation: bool = True
    #: ... with the typed placeholders alone ("replace": "xxurl") or each followed by what it
    #: stands for ("keep": "xxurl parcel-fee.example/gb7"; PLACEHOLDER_MODES) ...
    placeholders: str = "replace"
    #: ... and name blinding (NAME_BLINDING)
    name_blinding: str = "list"
    #: counterfactual augmentation: train on a gender-swapped copy of every text with a
    #: gendered word too (``shared.core.names.gender_swap``)
    gender_augmentation: bool = False
    #: stage 5's name check (``shared.model.sensitivity``): at most this many templates whose label
    #: changes with the name alone (and with gender, where protected), and at most this mean
    #: spread of P(positive) across names
    max_name_flips: int = 0
    max_name_spread: float = 0.02
    #: the gender check's mean spread, where gender is protected (its flips: max_name_flips).
    #: Gendered words are not blinded, so they keep some weight that names lose
    max_gender_spread: float = 0.05
    #: the optional feature groups (``FEATURE_GROUPS``) stage 4's grids switch off and on
    #: next to the word n-grams; the others stay off (``shared.model.models.candidates``)
    feature_groups: tuple[str, ...] = ("char",)

    @property
    def negative_label(self) -> str:
        return next(label for label in self.labels if label != self.positive_label)

    def validate(self) -> ProblemSpec:
        """Raise ProblemSpecError naming the first field that is wrong."""
        problems = []
        if not self.task or not self.task.isidentifier():
            problems.append(f"task={self.task!r}: use a short identifier such as 'sentiment'")
        if len(self.labels) != 2 or len(set(self.labels)) != 2:
            problems.append(f"labels={self.labels!r}: exactly two distinct labels are needed")
        if self.positive_label not in self.labels:
            problems.append(
                f"positive_label={self.positive_label!r}: must be one of {list(self.labels)}"
            )
        if self.primary_metric not in METRICS:
            problems.append(
                f"primary_metric={self.primary_metric!r}: choose one of {', '.join(METRICS)}"
            )
        _check_fraction(problems, "target", self.target)
        if self.baseline != "majority":
            problems.append(f"baseline={self.baseline!r}: only 'majority' is supported")
        if self.decision_rule not in DECISION_RULES:
            problems.append(
                f"decision_rule={self.decision_rule!r}: choose one of {', '.join(DECISION_RULES)}"
            )
        _check_fraction(problems, "decision_threshold", self.decision_threshold)
        if self.decision_rule == "max_recall_at_ham_blocked":
            if self.max_false_positive_rate is None:
                problems.append(
                    "max_false_positive_rate: required by decision_rule "
                    "'max_recall_at_ham_blocked'"
                )
            else:
                _check_fraction(problems, "max_false_positive_rate", self.max_false_positive_rate)
        if self.threshold_confidence is not None and not (
                isinstance(self.threshold_confidence, int | float)
                and 0.5 <= self.threshold_confidence < 1):
            problems.append(f"threshold_confidence={self.threshold_confidence!r}: use None or a "
                            "confidence in [0.5, 1), such as 0.95")
        _check_fraction(problems, "confidence_threshold", self.confidence_threshold)
        if not 0.5 <= self.confidence_threshold < 1:
            problems.append(
                f"confidence_threshold={self.confidence_threshold}: a binary model's "
                "confidence is at least 0.5, so use a value in [0.5, 1)"
            )
        _check_fraction(problems, "max_low_confidence_share", self.max_low_confidence_share)
        _check_fraction(problems, "max_unknown_word_share", self.max_unknown_word_share)
        if not isinstance(self.max_confidence_psi, int | float) or self.max_confidence_psi <= 0:
            problems.append(
                f"max_confidence_psi={self.max_confidence_psi!r}: use a positive number "
                "(0.1 is a small shift, 0.25 a large one)"
            )
        _check_fraction(problems, "min_ks_pvalue", self.min_ks_pvalue)
        _check_fraction(problems, "max_label_shift", self.max_label_shift)
        if not isinstance(self.max_domain_auc, int | float) or not 0.5 <= self.max_domain_auc <= 1:
            problems.append(
                f"max_domain_auc={self.max_domain_auc!r}: a ROC-AUC of 0.5 means no drift, so "
                "use a value in [0.5, 1]"
            )
        if (not isinstance(self.label_delay_hours, int | float)
                or isinstance(self.label_delay_hours, bool) or self.label_delay_hours < 0):
            problems.append(f"label_delay_hours={self.label_delay_hours!r}: use the hours true "
                            "labels take to come back, 0 or more")
        for name in ("min_live_feedback", "min_slice_texts", "max_model_age_days",
                     "retention_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name}={value!r}: use a whole number of at least 1")
        if not isinstance(self.max_invalid_scores, int) or self.max_invalid_scores < 0:
            problems.append(
                f"max_invalid_scores={self.max_invalid_scores!r}: use a whole number of at least 0"
            )
        if not isinstance(self.max_latency_ratio, int | float) or self.max_latency_ratio <= 1:
            problems.append(
                f"max_latency_ratio={self.max_latency_ratio!r}: use a number above 1 (3 means "
                "three times the p95 latency measured at deployment)"
            )
        if not all(isinstance(c, str) and c.strip() for c in self.protected_capabilities):
            problems.append(f"protected_capabilities={self.protected_capabilities!r}: use "
                            "capability names from behaviour.csv, such as 'name'")
        for name in ("max_text_ms", "max_model_mb"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                problems.append(f"{name}={value!r}: use a positive number (the canary's budget)")
        for name in ("min_behaviour_pass_rate", "slice_margin", "max_metric_regression",
                     "interval_margin"):
            _check_fraction(problems, name, getattr(self, name))
        if not isinstance(self.regression_confidence, int | float) \
                or not 0.5 <= self.regression_confidence < 1:
            problems.append(f"regression_confidence={self.regression_confidence!r}: use a "
                            "confidence in [0.5, 1), such as 0.95")
        if not isinstance(self.max_feedback_share, int | float) \
                or not 0 <= self.max_feedback_share < 1:
            problems.append(f"max_feedback_share={self.max_feedback_share!r}: use a share in "
                            "[0, 1) of the training split (0 keeps feedback out)")
        unknown_sources = sorted(set(self.value_sources) - {f.name for f in fields(self)})
        if unknown_sources:
            problems.append(f"value_sources names unknown field(s) {unknown_sources}")
        if not 0 < self.test_size < 0.5:
            problems.append(f"test_size={self.test_size}: use a fraction between 0 and 0.5")
        if not 2 <= self.cv_folds <= 20:
            problems.append(f"cv_folds={self.cv_folds}: use between 2 and 20 folds")
        if self.engine not in ENGINES:
            problems.append(f"engine={self.engine!r}: choose one of {', '.join(ENGINES)}")
        if not isinstance(self.max_memory_rows, int) or self.max_memory_rows < 1:
            problems.append(
                f"max_memory_rows={self.max_memory_rows!r}: use a whole number of rows of at "
                "least 1 (auto takes the out-of-core path above it)"
            )
        if self.name_blinding not in NAME_BLINDING:
            problems.append(f"name_blinding={self.name_blinding!r}: choose one of "
                            f"{', '.join(NAME_BLINDING)}")
        if self.placeholders not in PLACEHOLDER_MODES:
            problems.append(f"placeholders={self.placeholders!r}: choose one of "
                            f"{', '.join(PLACEHOLDER_MODES)}")
        for name in ("text_normalisation", "gender_augmentation"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name}={getattr(self, name)!r}: use True or False")
        if not isinstance(self.max_name_flips, int) or self.max_name_flips < 0:
            problems.append(f"max_name_flips={self.max_name_flips!r}: use a whole number of at "
                            "least 0")
        _check_fraction(problems, "max_name_spread", self.max_name_spread)
        _check_fraction(problems, "max_gender_spread", self.max_gender_spread)
        unknown_groups = [g for g in self.feature_groups if g not in FEATURE_GROUPS]
        if (isinstance(self.feature_groups, str) or unknown_groups
                or len(set(self.feature_groups)) != len(self.feature_groups)):
            problems.append(
                f"feature_groups={self.feature_groups!r}: name each of "
                f"{', '.join(FEATURE_GROUPS)} at most once"
            )
        if problems:
            raise ProblemSpecError("invalid problem spec:\n  - " + "\n  - ".join(problems))
        return self

    def with_overrides(self, **overrides: Any) -> ProblemSpec:
        """A copy with the given fields replaced; ``None`` values keep the default."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ProblemSpecError(
                f"unknown problem-spec field(s) {unknown}; valid fields: {sorted(known)}"
            )
        changes = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **changes).validate()

    def min_texts_per_label(self) -> int:
        """The fewest distinct texts of each label that stages 3 to 5 can work with.

        Stage 3's stratified split must leave at least one text of the label in
        the test split and ``cv_folds`` in the training split (stratified folds
        need one per fold); the linear SVM calibrates inside each fold with
        ``CALIBRATION_FOLDS`` folds of its own, so a fold's training part needs
        that many. The split rounds a label's test share either way, so the
        worse rounding is assumed.
        """
        n = 2
        while True:
            test = math.ceil(n * self.test_size)
            train = n - test
            fold_train = train * (self.cv_folds - 1) // self.cv_folds
            if (math.floor(n * self.test_size) >= 1 and train >= self.cv_folds
                    and fold_train >= CALIBRATION_FOLDS):
                return n
            n += 1

    def source_of(self, name: str) -> str:
        """Where the value of field ``name`` came from: the task default, a data set, or -p."""
        return self.value_sources.get(name, TASK_DEFAULT)

    def to_dict(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["labels"] = list(self.labels)
        payload["notes"] = list(self.notes)
        payload["protected_capabilities"] = list(self.protected_capabilities)
        payload["feature_groups"] = list(self.feature_groups)
        payload["value_sources"] = dict(sorted(self.value_sources.items()))
        return payload

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> ProblemSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(payload) - known)
        if unknown:
            raise ProblemSpecError(f"unknown problem-spec field(s) {unknown}")
        data = dict(payload)
        data["labels"] = tuple(data["labels"])
        data["notes"] = tuple(data.get("notes", ()))
        for name in ("protected_capabilities", "feature_groups"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(**data).validate()


def _check_fraction(problems: list[str], name: str, value: float) -> None:
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(f"{name}={value!r}: must be a number between 0 and 1")


def save(spec: ProblemSpec, cat: Catalog) -> None:
    """Write the spec (stage 1's one output) after validating it."""
    cat.write("problem_spec", spec.validate().to_dict())


def load(cat: Catalog) -> ProblemSpec:
    """The spec written by stage 1; every later stage starts here."""
    return ProblemSpec.from_dict(cat.read("problem_spec"))


def changed_values(spec: ProblemSpec, default: ProblemSpec) -> dict[str, dict[str, Any]]:
    """Every field whose value differs from ``default`` (the task's): value, default, source.

    This is what the manifest and the model card show as the run's changes, so
    that a lowered target travels with the model.
    """
    mine, theirs = spec.to_dict(), default.to_dict()
    return {
        name: {"value": mine[name], "default": theirs[name], "source": spec.source_of(name)}
        for name in mine
        if name not in ("notes", "value_sources") and mine[name] != theirs[name]
    }


def as_table(spec: ProblemSpec) -> pd.DataFrame:
    """The spec as a table for people to read: each field, its value and where it came from."""
    import pandas as pd  # only notebooks show tables; the runner reads specs too

    rows = [(k, ", ".join(v) if isinstance(v, list) else v, spec.source_of(k))
            for k, v in spec.to_dict().items() if k not in ("notes", "value_sources")]
    return pd.DataFrame(rows, columns=["field", "value", "source"]).set_index("field")
