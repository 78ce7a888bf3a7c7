"""One text through the model, step by step: what it became, what weighed, what was decided.

When a prediction looks wrong, the question is where: in the cleaning, in
words the model never saw, in the terms it weighs, in the calibration or in
the threshold. :func:`explain` answers it for one text with the model's own
steps, never a second implementation:

1. the cleaned text (the pipeline's own cleaner);
2. its words, and which the model knows (``models.Vocabulary``: unknown words
   are ignored by the word features);
3. the terms that weighed (each feature's value times the classifier's weight,
   averaged over the folds of a calibrated wrapper, the same weights as
   ``models.term_weights``), summed with the intercept into the linear score;
4. P(positive) from the whole model (``scoring.positive_scores``: calibration
   included), the threshold, the label and its confidence (``shared.model.scoring``).

For a linear model without calibration, the contributions plus the intercept
are exactly its ``decision_function``; with calibration, the probability comes
from that score through the calibrator. A random forest has no per-term
direction: its explanation stops at the words and the probability.

    python -m shared.explain --task sentiment "The battery died after a week"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.core import command_line
from shared.core.catalog import PROJECT_DIR, Catalog
from shared.model.models import Vocabulary, fitted_pipelines, linear_intercept, linear_weights
from shared.model.scoring import confidence, positive_scores, predict_labels


@dataclass(frozen=True)
class Explanation:
    """One text's way through the model (see the module docstring)."""

    text: str
    cleaned: str
    #: one row per word the word features see: ``word``, ``known``
    words: pd.DataFrame
    #: the terms that weighed, strongest first: ``term``, ``block``, ``value``, ``weight``,
    #: ``contribution`` (toward the positive label); None for a model without weights
    terms: pd.DataFrame | None
    intercept: float | None
    score: float
    threshold: float
    label: str
    confidence: float
    positive_label: str
    #: why ``terms`` is None
    no_terms: str = ""

    @property
    def linear_score(self) -> float | None:
        """The contributions plus the intercept: the score before calibration."""
        if self.terms is None or self.intercept is None:
            return None
        return float(self.terms["contribution"].sum() + self.intercept)

    def strongest(self, n: int = 8) -> pd.DataFrame | None:
        """The ``n`` terms that pushed hardest, either way."""
        return None if self.terms is None else self.terms.head(n)  # sorted that way

    def steps(self, n: int = 4) -> pd.DataFrame:
        """The story as a table: one row per step, what the model made of the text."""
        unknown = list(self.words.loc[~self.words["known"], "word"])
        rows = [
            ("text", self.text),
            ("cleaned", self.cleaned),
            ("words", f"{len(self.words)} words, {len(unknown)} unknown to the model"
                      + (f" (ignored): {', '.join(unknown)}" if unknown else "")),
        ]
        if self.terms is not None:
            by_block = self.terms.groupby("block", sort=False)["contribution"].sum()
            toward = self.terms.sort_values("contribution", kind="mergesort")
            rows += [
                (f"terms toward {self.positive_label}", _listed(toward[::-1], n, positive=True)),
                (f"terms against {self.positive_label}", _listed(toward, n, positive=False)),
                ("linear score", " + ".join(f"{block} {value:+.3f}"
                                            for block, value in by_block.items())
                 + f" + intercept {self.intercept:+.3f} = {self.linear_score:+.3f}"),
            ]
        else:
            rows.append(("terms", self.no_terms))
        side = ">=" if self.score >= self.threshold else "<"
        rows += [
            (f"P({self.positive_label})", f"{self.score:.3f}"),
            ("decision", f"{self.score:.3f} {side} threshold {self.threshold:.3f}: "
                         f"{self.label}, confidence {self.confidence:.3f}"),
        ]
        return pd.DataFrame(rows, columns=["step", "what the model made of it"])


def _listed(terms: pd.DataFrame, n: int, positive: bool) -> str:
    """"'great' +0.41, chars 'gre' +0.05" for the first ``n`` terms on one side (a
    character n-gram is marked, since it can spell the same as a word)."""
    side = terms[terms["contribution"] > 0] if positive else terms[terms["contribution"] < 0]
    if side.empty:
        return "none"
    return ", ".join(("chars " if row.block == "char" else "") + f"{row.term!r} "
                     f"{row.contribution:+.3f}" for row in side.head(n).itertuples())


def explain(model: Any, text: str, positive_label: str, threshold: float,
            vocabulary: Vocabulary | None = None) -> Explanation:
    """Follow ``text`` through ``model`` (a fitted pipeline of ``shared.model.models``);
    ``vocabulary`` is the model's, when the caller holds it already (a Predictor does)."""
    vocabulary = vocabulary or Vocabulary.of(model)
    if vocabulary is not None:
        cleaned = str(vocabulary.prepare([text])[0])
        words = vocabulary.tokens([text])[0]
        known = [word in vocabulary.words for word in words]
    else:
        cleaned, words, known = text, [], []
    terms, intercept, no_terms = _contributions(model, text, positive_label)
    score = float(positive_scores(model, [text], positive_label)[0])
    negative_label = next(c for c in model.classes_ if c != positive_label)
    return Explanation(
        text=text, cleaned=cleaned,
        words=pd.DataFrame({"word": pd.Series(words, dtype=object),
                            "known": pd.Series(known, dtype=bool)}),
        terms=terms, intercept=intercept, score=score, threshold=threshold,
        label=str(predict_labels(np.array([score]), threshold, positive_label,
                                 negative_label)[0]),
        confidence=float(confidence(np.array([score]), threshold)[0]),
        positive_label=positive_label, no_terms=no_terms,
    )


def _contributions(model: Any, text: str,
                   positive_label: str) -> tuple[pd.DataFrame | None, float | None, str]:
    """Each present feature's value times its weight toward ``positive_label``, averaged
    over the model's fitted pipelines, and the intercept; or None, None and the reason."""
    tables, intercepts = [], []
    for pipeline in fitted_pipelines(model):
        classifier = pipeline.steps[-1][1]
        weights = linear_weights(classifier)
        features = pipeline.named_steps["features"]
        if weights is None:
            return None, None, "this model family has no per-term weights"
        try:
            names = features.get_feature_names_out()
        except (AttributeError, ValueError):  # a hashing vectorizer keeps no names
            return None, None, "the features are hashed: their columns have no names"
        sign = 1.0 if list(pipeline.classes_).index(positive_label) == 1 else -1.0
        row = pipeline[:-1].transform([text]).tocsr()  # cleaner, features, NB scaling
        columns, values = row.indices, row.data
        fold = pd.DataFrame({"feature": names[columns], "value": values,
                             "weight": sign * weights[columns]})
        tables.append(fold.assign(contribution=fold["value"] * fold["weight"]))
        intercepts.append(sign * linear_intercept(classifier))
    # the mean over the folds, a term missing from a fold counting as 0 there: the
    # contributions then add up to the mean of the folds' linear scores
    table = pd.concat(tables).groupby("feature", sort=False).sum().div(len(tables))
    parts = table.index.str.split("__", n=1)
    table = table.assign(block=parts.str[0], term=parts.str[1]).reset_index(drop=True)
    table = table[["term", "block", "value", "weight", "contribution"]]
    table = table.sort_values("contribution", key=np.abs, ascending=False, kind="mergesort")
    return table.reset_index(drop=True), float(np.mean(intercepts)), ""


def main(argv: list[str] | None = None) -> int:
    """Explain texts with the deployed model (checked against its manifest)."""
    from shared.serving.predictor import Predictor

    parser = command_line.parser("explain", __doc__.split("\n\n")[0], [
        'python -m shared explain "A warm, funny film."',
        'python -m shared explain --task spam "FR3E iPh0ne! Claim now"',
    ])
    parser.add_argument("texts", nargs="+", help="the texts to follow through the model")
    parser.add_argument("--task", default="sentiment")
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help="the folder that holds models/ (default: the project)")
    parser.add_argument("--terms", type=int, default=6, help="terms listed on each side")
    args = parser.parse_args(argv)
    predictor = Predictor.from_deployed(Catalog.for_task(args.task, args.root).deployed_dir)
    with pd.option_context("display.max_colwidth", 200, "display.width", 200):
        for text in args.texts:
            reason = predictor.check_text(text)
            if reason:
                print(f"not scored: {reason}", file=sys.stderr)
                return 2
            found = explain(predictor.model, text, predictor.spec.positive_label,
                            predictor.threshold, predictor.vocabulary)
            print(found.steps(args.terms).to_string(index=False), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
