"""Perturbation sensitivity (Prabhakaran et al. 2019): does the answer change with a person's
name, or with gender, alone?

Stage 5 fills each template of ``data/builtin/<task>/sensitivity.csv`` with many first names
(``kind`` "name", a ``{name}`` slot) and scores every text with the model about to be deployed:

- a **flip** is a template whose label is not the same for every name;
- its **spread** is the largest minus the smallest P(positive) across the names.

The names are held out of the names the text path blinds (``shared.core.names.check_names``), so
the check measures whether blinding generalises to names its list does not hold. A template
of ``kind`` "gender" is scored as written and with every masculine word made feminine
(``shared.core.names.feminine``: the pairs the training was augmented with and ten held out of
it). The gate (``shared.model.evaluation.gate``) requires, of each protected check, at most
``max_name_flips`` flips and a mean spread of at most ``max_name_spread`` (gender:
``max_gender_spread``).

Scope and limits: English templates, Latin-script first names, binary gendered word pairs. A
pass says that swapping these names or words in these sentences does not move the model; it
says nothing about surnames, dialects, other languages, or bias learnt through other words.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.core.names import check_names, feminine
from shared.core.problem import ProblemSpec
from shared.model.scoring import positive_scores

KINDS = ("name", "gender")
#: names drawn (seeded) from the held-out list for each name template
NAMES_PER_TEMPLATE = 60


class SensitivityFileError(ValueError):
    """The templates file breaks its schema; the message names the file, row and field."""


def load_templates(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The templates of ``path`` (columns ``kind``, ``template``), validated."""
    path = Path(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if list(frame.columns) != ["kind", "template"]:
        raise SensitivityFileError(f"{path.name}: the header must be kind,template, not "
                                   f"{','.join(frame.columns)}")
    problems = []
    for row, case in enumerate(frame.itertuples(index=False), start=1):
        if case.kind not in KINDS:
            problems.append(f"row {row}, field 'kind': {case.kind!r} is not one of "
                            f"{', '.join(KINDS)}")
        elif case.kind == "name" and case.template.count("{name}") != 1:
            problems.append(f"row {row}, field 'template': a name template needs exactly one "
                            "{name} slot")
        elif case.kind == "gender" and feminine(case.template) == case.template:
            problems.append(f"row {row}, field 'template': holds no masculine word to swap "
                            "(shared.core.names.GENDER_PAIRS)")
    if problems:
        raise SensitivityFileError(f"{path.name}: " + "; ".join(problems))
    return frame


def sample_names(seed: int, count: int = NAMES_PER_TEMPLATE) -> list[str]:
    """``count`` held-out names, drawn with ``seed`` (the same names for every template)."""
    names = check_names()
    rng = np.random.default_rng(seed)
    return [names[i] for i in sorted(rng.choice(len(names), size=min(count, len(names)),
                                                replace=False))]


@dataclass(frozen=True)
class SensitivityResult:
    """One check's templates, each with its flip, spread and the texts at both extremes."""

    kind: str
    table: pd.DataFrame

    @property
    def flips(self) -> int:
        return int(self.table["flip"].sum())

    @property
    def mean_spread(self) -> float:
        return float(self.table["spread"].mean())

    @property
    def max_spread(self) -> float:
        return float(self.table["spread"].max())

    def worst(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` templates of largest spread."""
        return self.table.sort_values(["spread", "template"], ascending=[False, True]).head(n)

    def passed(self, spec: ProblemSpec) -> bool:
        return self.flips <= spec.max_name_flips and self.mean_spread <= self.spread_limit(spec)

    def spread_limit(self, spec: ProblemSpec) -> float:
        """The largest mean spread the spec allows this check (names: ``max_name_spread``;
        gender: ``max_gender_spread``)."""
        return spec.max_gender_spread if self.kind == "gender" else spec.max_name_spread

    def summary(self) -> dict[str, Any]:
        """What ``metrics.json`` keeps."""
        worst = self.worst()
        return {"templates": len(self.table), "flips": self.flips,
                "mean_spread": round(self.mean_spread, 4),
                "max_spread": round(self.max_spread, 4),
                "worst": worst.round(4).to_dict("records")}


def run(model: Any, templates: pd.DataFrame, threshold: float, spec: ProblemSpec,
        kind: str, names: list[str] | None = None) -> SensitivityResult:
    """Score every template of ``kind`` with its variants and summarise flips and spreads."""
    chosen = templates[templates["kind"] == kind]["template"].tolist()
    if kind == "name":
        names = names or sample_names(spec.seed)
        variants = [[t.replace("{name}", name) for name in names] for t in chosen]
    else:
        variants = [[t, feminine(t)] for t in chosen]
    if not variants:
        return SensitivityResult(kind, pd.DataFrame(
            columns=["template", "flip", "spread", "lowest", "highest", "low_text",
                     "high_text"]))
    flat = [text for group in variants for text in group]
    scores = positive_scores(model, flat, spec.positive_label).reshape(len(variants), -1)
    positive = scores >= threshold
    rows = []
    for template, group, row, labels in zip(chosen, variants, scores, positive, strict=True):
        rows.append({"template": template, "flip": bool(labels.any() and not labels.all()),
                     "spread": float(row.max() - row.min()), "lowest": float(row.min()),
                     "highest": float(row.max()), "low_text": group[int(row.argmin())],
                     "high_text": group[int(row.argmax())]})
    return SensitivityResult(kind, pd.DataFrame(rows))


def run_all(model: Any, templates: pd.DataFrame, threshold: float, spec: ProblemSpec
            ) -> dict[str, SensitivityResult]:
    """The name check and, where the file has gender templates, the gender check."""
    return {kind: run(model, templates, threshold, spec, kind) for kind in KINDS
            if (templates["kind"] == kind).any()}


def overview(results: dict[str, SensitivityResult], spec: ProblemSpec) -> pd.DataFrame:
    """One row per check: templates, flips, mean and max spread, and the verdict."""
    return pd.DataFrame([{"check": kind, "templates": len(r.table), "flips": r.flips,
                          "mean_spread": r.mean_spread, "max_spread": r.max_spread,
                          "passed": r.passed(spec)} for kind, r in results.items()]
                        ).set_index("check")
