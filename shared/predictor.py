"""The predictor: one object answers for stage 7, the batch command and the HTTP service.

It loads the deployed model only after checking the manifest, applies the
decision threshold chosen in stage 5, and returns a label and a confidence for
every text, or the reason a text cannot be scored (the same reasons stage 2
quarantines for: ``shared.text.unscoreable_reason``). Predictions can be
appended to the prediction log (``shared.prediction_log``) in one transaction.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shared import prediction_log
from shared.manifest import Manifest, load_deployed
from shared.models import Vocabulary
from shared.problem import ProblemSpec
from shared.scoring import confidence, positive_scores, predict_labels
from shared.text import MAX_TEXT_CHARS, unscoreable_reason


@dataclass
class Predictor:
    """The deployed model with its spec, threshold and version."""

    model: Any
    spec: ProblemSpec
    threshold: float
    model_version: str
    manifest: Manifest
    max_text_chars: int = MAX_TEXT_CHARS
    vocabulary: Vocabulary | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary.of(self.model)  # None: no unknown-word share

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
            spec=ProblemSpec.from_dict(manifest.problem),
            threshold=float(manifest.metrics.threshold),
            model_version=manifest.model_version,
            manifest=manifest,
            max_text_chars=max_text_chars,
        )

    def check_text(self, text: object) -> str | None:
        """Why ``text`` cannot be scored (``shared.text.unscoreable_reason``), or None."""
        return unscoreable_reason(text, self.max_text_chars)

    def unknown_word_shares(self, texts: list[str]) -> np.ndarray:
        """Share of each text's words the model never saw (NaN if the model has no vocabulary)."""
        if self.vocabulary is None or not texts:
            return np.full(len(texts), np.nan)
        return self.vocabulary.unknown_shares(texts)

    def predict(self, texts: list[object]) -> pd.DataFrame:
        """One row per input, in order: label, confidence, score, or an error."""
        errors = [self.check_text(t) for t in texts]
        valid = [i for i, e in enumerate(errors) if e is None]
        ok = np.asarray([e is None for e in errors], dtype=bool)
        start = time.perf_counter()
        scores = np.full(len(texts), np.nan)
        if valid:
            scores[valid] = positive_scores(
                self.model, [texts[i] for i in valid], self.spec.positive_label
            )
        latency_ms = (time.perf_counter() - start) * 1000 / max(len(valid), 1)
        unknown = np.full(len(texts), np.nan)
        unknown[valid] = self.unknown_word_shares([str(texts[i]) for i in valid])
        confidences = confidence(scores, self.threshold)  # NaN where not scored
        return pd.DataFrame(
            {
                "text": [t if isinstance(t, str) else repr(t) for t in texts],
                "label": np.where(ok, predict_labels(scores, self.threshold,
                                                     self.spec.positive_label,
                                                     self.spec.negative_label), ""),
                "confidence": confidences,
                "score": scores,
                "low_confidence": ok & (confidences < self.spec.confidence_threshold),
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
        batch_id, ids = prediction_log.append(
            log_path,
            (prediction_log.LoggedPrediction(*(column[i] for column in columns)) for i in scored),
            model_version=self.model_version,
            source=source,
            store_text=store_text,
        )
        prediction_ids = np.full(len(result), "", dtype=object)
        prediction_ids[scored] = ids
        result["prediction_id"] = prediction_ids
        return result, batch_id
