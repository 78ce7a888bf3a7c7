"""The predictor: one object answers for stage 7, the batch command and the HTTP service.

It loads the deployed model only after checking the manifest, applies the
decision threshold chosen in stage 5, and returns a label and a confidence for
every text, or an error for a text it cannot score. Predictions are appended to
the prediction log (``shared.predlog``).

The batch command scores a file, one row out for every row in::

    python -m shared.predict --task sentiment input.csv            # writes input.predictions.csv
    python -m shared.predict --task spam inbox.csv -o scored.csv --text-column body
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared import catalog, evaluation, models, predlog
from shared.catalog import PROJECT_DIR, Catalog
from shared.datasets import MAX_TEXT_CHARS
from shared.persistence import ManifestMismatchError, UntrustedModelError, load_deployed
from shared.problem import ProblemSpec


def check_text(text: object, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why ``text`` cannot be scored, or None when it can."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return "text is missing"
    if not isinstance(text, str):
        return f"text must be a string, got {type(text).__name__}"
    if not text.strip():
        return "text is empty or blank"
    if len(text) > max_chars:
        return f"text is longer than {max_chars:,} characters"
    return None


@dataclass
class Predictor:
    """The deployed model with its spec, threshold and version."""

    model: Any
    spec: ProblemSpec
    threshold: float
    model_version: str
    manifest: dict[str, Any]
    max_text_chars: int = MAX_TEXT_CHARS
    _words: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self._words = models.word_vocabulary(self.model)
        except ValueError:  # a model without a word vectorizer: no unknown-word share
            self._words = None

    @classmethod
    def from_deployed(
        cls, deployed_dir: str | os.PathLike[str], max_text_chars: int = MAX_TEXT_CHARS
    ) -> Predictor:
        """Load the deployed model, refusing files that do not match the manifest.

        Raises ManifestMismatchError (a file changed or is missing) or
        UntrustedModelError (the model holds a type nobody vouched for).
        """
        model, manifest = load_deployed(deployed_dir)
        return cls(
            model=model,
            spec=ProblemSpec.from_dict(manifest["problem"]),
            threshold=float(manifest["metrics"]["threshold"]),
            model_version=manifest["model_version"],
            manifest=manifest,
            max_text_chars=max_text_chars,
        )

    def check_text(self, text: object) -> str | None:
        """Why ``text`` cannot be scored, or None when it can."""
        return check_text(text, self.max_text_chars)

    def unknown_word_shares(self, texts: list[str]) -> np.ndarray:
        """Share of each text's words the model never saw (NaN if the model has no vocabulary)."""
        if self._words is None or not texts:
            return np.full(len(texts), np.nan)
        words, vocabulary = self._words
        return np.asarray([
            float(np.mean([w not in vocabulary for w in ws])) if ws else 1.0
            for ws in words(texts)
        ], dtype=float)

    def predict(self, texts: list[object]) -> pd.DataFrame:
        """One row per input, in order: label, confidence, score, or an error."""
        errors = [self.check_text(t) for t in texts]
        valid = [i for i, e in enumerate(errors) if e is None]
        ok = np.asarray([e is None for e in errors], dtype=bool)
        start = time.perf_counter()
        scores = np.full(len(texts), np.nan)
        if valid:
            scores[valid] = evaluation.positive_scores(
                self.model, [texts[i] for i in valid], self.spec
            )
        latency_ms = (time.perf_counter() - start) * 1000 / max(len(valid), 1)
        unknown = np.full(len(texts), np.nan)
        unknown[valid] = self.unknown_word_shares([str(texts[i]) for i in valid])
        confidence = evaluation.confidence(scores, self.threshold)  # NaN where not scored
        return pd.DataFrame(
            {
                "text": [t if isinstance(t, str) else repr(t) for t in texts],
                "label": np.where(ok, evaluation.predict_labels(scores, self.threshold, self.spec),
                                  ""),
                "confidence": confidence,
                "score": scores,
                "low_confidence": ok & (confidence < self.spec.confidence_threshold),
                "unknown_word_share": unknown,
                "error": [e or "" for e in errors],
                "latency_ms": latency_ms,
            }
        )

    def predict_and_log(
        self, texts: list[object], log_path: str | os.PathLike[str], source: str,
        store_text: bool = True,
    ) -> tuple[pd.DataFrame, str]:
        """Predict and append every scored text to the prediction log, in one transaction.

        With ``store_text=False`` the log keeps each text's SHA-256 and length only.
        """
        result = self.predict(texts)
        scored = np.flatnonzero(result["error"].to_numpy() == "")
        columns = [result[c].to_numpy() for c in (
            "text", "label", "confidence", "score", "latency_ms", "unknown_word_share")]
        batch_id, ids = predlog.append(
            log_path,
            (predlog.LoggedPrediction(*(column[i] for column in columns)) for i in scored),
            model_version=self.model_version,
            source=source,
            store_text=store_text,
        )
        prediction_ids = np.full(len(result), "", dtype=object)
        prediction_ids[scored] = ids
        result["prediction_id"] = prediction_ids
        return result, batch_id


def load_batch(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A batch of new texts shipped with the project (columns text, label, source)."""
    return catalog.read_csv(catalog.require(Path(path), "the project's data/builtin folder"))


# -- the batch command ------------------------------------------------------------------
#: rows scored (and logged as one batch) at a time, so a large file needs little memory
CHUNK_ROWS = 1000
OUTPUT_COLUMNS = ("label", "confidence", "low_confidence", "prediction_id", "error")


class BatchInputError(ValueError):
    """The input file cannot be read as a table with the text column."""


def predict_file(
    predictor: Predictor, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str],
    text_column: str = "text", log_path: str | os.PathLike[str] | None = None,
    store_text: bool = True,
) -> dict[str, Any]:
    """Score every row of a CSV file into ``output_path`` (written atomically).

    The output holds the input's columns, then label, confidence,
    low_confidence, prediction_id and error: one row out for every row in; a
    row that cannot be scored keeps its place with the reason in ``error``.
    Scored rows go to the prediction log (when ``log_path`` is given), one
    batch per chunk of CHUNK_ROWS rows. Returns the counts and batch ids.
    """
    input_path = Path(input_path)
    if not input_path.is_file():
        raise BatchInputError(f"{input_path} does not exist or is not a file")
    source = f"batch:{input_path.name}"
    counts = {"rows_in": 0, "rows_scored": 0, "rows_failed": 0, "batches": []}
    try:
        # blank lines are rows too (an empty text), so they are not skipped
        reader = pd.read_csv(input_path, dtype=str, keep_default_na=False, encoding="utf-8",
                             chunksize=CHUNK_ROWS, skip_blank_lines=False)
        with catalog.atomic_path(output_path) as tmp:
            first = True
            for chunk in reader:
                if text_column not in chunk.columns:
                    raise BatchInputError(
                        f"{input_path.name} has no column {text_column!r}; its columns are "
                        f"{', '.join(map(repr, chunk.columns))}. Name the text column with "
                        "--text-column."
                    )
                texts = [None if pd.isna(t) else t for t in chunk[text_column]]
                if log_path is not None:
                    result, batch_id = predictor.predict_and_log(texts, log_path, source, store_text)
                    counts["batches"].append(batch_id)
                else:
                    result = predictor.predict(texts)
                    result["prediction_id"] = ""
                scored = chunk.reset_index(drop=True).copy()
                for column in OUTPUT_COLUMNS:
                    scored[column if column not in chunk.columns else f"predicted_{column}"] = (
                        result[column].to_numpy()
                    )
                scored.to_csv(tmp, mode="w" if first else "a", header=first, index=False,
                              encoding="utf-8", lineterminator="\n")
                first = False
                counts["rows_in"] += len(chunk)
                counts["rows_failed"] += int((result["error"] != "").sum())
            if first:
                raise BatchInputError(f"{input_path.name} holds no rows")
    except UnicodeDecodeError as error:
        raise BatchInputError(
            f"{input_path.name} is not UTF-8 text ({error.reason} at byte {error.start}); "
            "save it as UTF-8 CSV"
        ) from None
    except pd.errors.ParserError as error:
        raise BatchInputError(f"{input_path.name} cannot be read as CSV: {error}") from None
    except pd.errors.EmptyDataError:
        raise BatchInputError(f"{input_path.name} is empty") from None
    counts["rows_scored"] = counts["rows_in"] - counts["rows_failed"]
    return counts


def main(argv: list[str] | None = None) -> int:
    """The batch command; exit 0 when the file was scored, 2 when it could not be."""
    from shared.tasks import TASKS

    parser = argparse.ArgumentParser(
        prog="python -m shared.predict",
        description="Score a CSV file with the deployed model: one row out for every row in.",
    )
    parser.add_argument("input", type=Path, help="CSV file (UTF-8) with a text column")
    parser.add_argument("--task", default="sentiment", choices=sorted(TASKS))
    parser.add_argument("-o", "--output", type=Path,
                        help="output CSV (default: INPUT with suffix .predictions.csv)")
    parser.add_argument("--text-column", default="text", help="the column holding the texts")
    parser.add_argument("--root", type=Path, default=PROJECT_DIR,
                        help="folder that holds models/<task>/deployed (default: the project)")
    parser.add_argument("--no-log", action="store_true",
                        help="do not append the predictions to the prediction log")
    parser.add_argument("--hash-texts", action="store_true",
                        help="privacy: log each text's SHA-256 and length, not the text")
    args = parser.parse_args(argv)
    cat = Catalog.for_task(args.task, args.root)
    output = args.output or args.input.with_name(args.input.stem + ".predictions.csv")
    try:
        predictor = Predictor.from_deployed(cat.deployed_dir)
        counts = predict_file(
            predictor, args.input, output, args.text_column,
            None if args.no_log else cat.prediction_log, store_text=not args.hash_texts,
        )
    except (ManifestMismatchError, UntrustedModelError, catalog.MissingArtifactError,
            BatchInputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{counts['rows_in']} rows in, {counts['rows_scored']} scored, "
          f"{counts['rows_failed']} not scored (see the error column); wrote {output}")
    if not args.no_log:
        print(f"logged {counts['rows_scored']} predictions to {cat.prediction_log} "
              f"(model {predictor.model_version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
