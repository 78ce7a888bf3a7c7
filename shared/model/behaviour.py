"""Behavioural tests of a model (Ribeiro et al. 2020, "Beyond Accuracy: CheckList").

Stage 5 scores the model on hand-written cases from
``data/builtin/<task>/behaviour.csv``, one row per case, of three kinds:

- ``MFT`` (minimum functionality): ``text`` must get the label ``expected``
  (plain positives and negatives, simple negation; for spam, obfuscated spam
  words and ham that talks about money);
- ``INV`` (invariance): ``text`` and ``variant`` differ by something that must
  not matter (a typo, a name, punctuation, casing) and must get the same label;
  ``expected`` is the label of both, so they also count as a slice;
- ``DIR`` (directional): ``variant`` adds something to ``text`` that must move
  P(positive) one way only: ``direction`` is ``not_up`` (e.g. adding "terrible")
  or ``not_down``; ``expected`` stays empty, as the variant's label may change.

``capability`` names what a case tests ("negation", "typo"...). The file is
validated before anything is scored; every problem is reported with its file,
row (1-based, as in stage 2) and field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.core.problem import ProblemSpec
from shared.model.scoring import positive_scores, predict_labels

KINDS = ("MFT", "INV", "DIR")
COLUMNS = ("kind", "capability", "text", "variant", "expected", "direction")
DIRECTIONS = ("not_up", "not_down")
#: how far P(positive) may move the wrong way in a DIR case before it fails. Any added
#: words re-normalise a TF-IDF vector and nudge every score a little (CheckList's
#: directional tests allow a tolerance for the same reason); 0.02 lets that pass and
#: still fails an addition that really pushes the wrong way
DIR_TOLERANCE = 0.02


class BehaviourFileError(ValueError):
    """A behaviour case file breaks the schema; the message lists every problem."""


def _problems(frame: pd.DataFrame, spec: ProblemSpec) -> list[str]:
    """Every schema problem of ``frame`` as 'row N, field F: what is wrong'."""
    problems = []
    seen: dict[tuple[str, str, str], int] = {}
    for row, case in enumerate(frame.itertuples(index=False), start=1):
        kind = case.kind
        where = f"row {row}"
        if kind not in KINDS:
            problems.append(f"{where}, field 'kind': {kind!r} is not one of {', '.join(KINDS)}")
            continue
        if not case.capability.strip():
            problems.append(f"{where}, field 'capability': empty; say what the case tests")
        if not case.text.strip():
            problems.append(f"{where}, field 'text': empty")
        needs_variant = kind in ("INV", "DIR")
        if needs_variant and not case.variant.strip():
            problems.append(f"{where}, field 'variant': a {kind} case needs the changed text")
        if needs_variant and case.variant.strip() == case.text.strip():
            problems.append(f"{where}, field 'variant': the same as 'text'; change something")
        if not needs_variant and case.variant:
            problems.append(f"{where}, field 'variant': must be empty for an MFT case")
        if kind in ("MFT", "INV") and case.expected not in spec.labels:
            problems.append(f"{where}, field 'expected': {case.expected!r} is not a label of "
                            f"task {spec.task} ({', '.join(spec.labels)})")
        if kind == "DIR" and case.expected:
            problems.append(f"{where}, field 'expected': must be empty for a DIR case (the "
                            "variant may change the label on purpose)")
        if kind == "DIR" and case.direction not in DIRECTIONS:
            problems.append(f"{where}, field 'direction': {case.direction!r} is not one of "
                            f"{', '.join(DIRECTIONS)}")
        if kind != "DIR" and case.direction:
            problems.append(f"{where}, field 'direction': must be empty for a {kind} case")
        key = (kind, case.text.strip().casefold(), case.variant.strip().casefold())
        if key in seen:
            problems.append(f"{where}: the same case as row {seen[key]}")
        seen.setdefault(key, row)
    return problems


def load_cases(path: str | os.PathLike[str], spec: ProblemSpec) -> pd.DataFrame:
    """The cases of ``path``, validated against the schema and ``spec``'s labels.

    Raises BehaviourFileError naming the file and, for each problem, the row and field.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise BehaviourFileError(f"{path.name}: cannot be read as a UTF-8 CSV: {error}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    unknown = [c for c in frame.columns if c not in COLUMNS]
    if missing or unknown:
        raise BehaviourFileError(
            f"{path.name}: the header must be {','.join(COLUMNS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else ""))
    if frame.empty:
        raise BehaviourFileError(f"{path.name}: holds no cases")
    problems = _problems(frame, spec)
    if problems:
        shown = "\n  - ".join(problems[:20])
        more = f"\n  (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise BehaviourFileError(f"{path.name}: {len(problems)} problem(s):\n  - {shown}{more}")
    frame = frame[list(COLUMNS)].copy()
    frame.insert(0, "row", range(1, len(frame) + 1))
    return frame


@dataclass(frozen=True)
class BehaviourResult:
    """Every case with the model's scores, labels and verdict (column ``passed``)."""

    cases: pd.DataFrame

    def pass_rates(self) -> pd.DataFrame:
        """Cases, passed and pass rate per kind (the kinds present, in KINDS order)."""
        table = self.cases.groupby("kind")["passed"].agg(cases="size", passed="sum")
        table = table.reindex([k for k in KINDS if k in table.index])
        return table.assign(pass_rate=table["passed"] / table["cases"])

    def by_capability(self) -> pd.DataFrame:
        """Cases, passed and pass rate per kind and capability."""
        table = self.cases.groupby(["kind", "capability"], sort=False)["passed"].agg(
            cases="size", passed="sum")
        return table.assign(pass_rate=table["passed"] / table["cases"])

    def failures(self) -> pd.DataFrame:
        """The failed cases: what was expected and what the model did."""
        failed = self.cases[~self.cases["passed"]]
        return failed[["row", "kind", "capability", "text", "variant", "expected", "direction",
                       "predicted", "variant_predicted", "score", "variant_score"]].reset_index(
            drop=True)

    def labelled(self) -> pd.DataFrame:
        """The texts with a known label, for slice metrics: MFT texts, INV texts and variants.

        Columns ``kind``, ``text``, ``label``, ``score``.
        """
        mft = self.cases[self.cases["kind"] == "MFT"]
        inv = self.cases[self.cases["kind"] == "INV"]
        parts = [
            mft[["kind", "text", "expected", "score"]],
            inv[["kind", "text", "expected", "score"]],
            inv[["kind", "variant", "expected", "variant_score"]].set_axis(
                ["kind", "text", "expected", "score"], axis=1),
        ]
        return pd.concat(parts, ignore_index=True).rename(columns={"expected": "label"})

    def summary(self, max_failures: int = 20) -> dict[str, Any]:
        """What ``metrics.json`` keeps: pass rates per kind and the first failed cases."""
        rates = self.pass_rates()
        failures = self.failures().head(max_failures)
        return {
            "pass_rates": {kind: {"cases": int(r.cases), "passed": int(r.passed),
                                  "pass_rate": float(r.pass_rate)}
                           for kind, r in rates.iterrows()},
            "failures": failures.astype(object).where(failures.notna(), None).to_dict("records"),
        }


def run(model: Any, cases: pd.DataFrame, threshold: float, spec: ProblemSpec) -> BehaviourResult:
    """Score every case with ``model`` at ``threshold`` and decide whether it passed."""
    has_variant = cases["variant"] != ""
    texts = list(cases["text"]) + list(cases.loc[has_variant, "variant"])
    scores = positive_scores(model, texts, spec.positive_label)
    base = scores[:len(cases)]
    variant = np.full(len(cases), np.nan)
    variant[has_variant.to_numpy()] = scores[len(cases):]
    labels = predict_labels(base, threshold, spec.positive_label, spec.negative_label)
    variant_labels = np.where(has_variant, predict_labels(
        np.nan_to_num(variant), threshold, spec.positive_label, spec.negative_label), "")
    kind = cases["kind"].to_numpy()
    direction = cases["direction"].to_numpy()
    passed = np.select(
        [kind == "MFT", kind == "INV", direction == "not_up", direction == "not_down"],
        [labels == cases["expected"].to_numpy(), labels == variant_labels,
         variant <= base + DIR_TOLERANCE, variant >= base - DIR_TOLERANCE],
        default=False,
    )
    return BehaviourResult(cases.assign(
        score=base, predicted=labels, variant_score=variant, variant_predicted=variant_labels,
        passed=passed.astype(bool)))
