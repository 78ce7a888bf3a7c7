"""The in-process predictor: one object answers for stage 7, the batch command and the service.

It loads the deployed model only after checking the manifest, applies the
decision threshold chosen in stage 5, and returns a label and a confidence for
every text, or an error for a text it cannot score.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared import catalog, evaluation, predlog
from shared.datasets import MAX_TEXT_CHARS
from shared.persistence import load_deployed
from shared.problem import ProblemSpec


@dataclass
class Predictor:
    """The deployed model with its spec, threshold and version."""

    model: Any
    spec: ProblemSpec
    threshold: float
    model_version: str
    manifest: dict[str, Any]

    @classmethod
    def from_deployed(cls, deployed_dir: str | os.PathLike[str]) -> Predictor:
        """Load the deployed model, refusing files that do not match the manifest."""
        model, manifest = load_deployed(deployed_dir)
        return cls(
            model=model,
            spec=ProblemSpec.from_dict(manifest["problem"]),
            threshold=float(manifest["metrics"]["threshold"]),
            model_version=manifest["model_version"],
            manifest=manifest,
        )

    @staticmethod
    def check_text(text: object) -> str | None:
        """Why ``text`` cannot be scored, or None when it can."""
        if not isinstance(text, str):
            return f"text must be a string, got {type(text).__name__}"
        if not text.strip():
            return "text is empty or blank"
        if len(text) > MAX_TEXT_CHARS:
            return f"text is longer than {MAX_TEXT_CHARS:,} characters"
        return None

    def predict(self, texts: list[object]) -> pd.DataFrame:
        """One row per input, in order: label, confidence, score, or an error."""
        errors = [self.check_text(t) for t in texts]
        valid = [i for i, e in enumerate(errors) if e is None]
        start = time.perf_counter()
        scores = np.full(len(texts), np.nan)
        if valid:
            scores[valid] = evaluation.positive_scores(
                self.model, [texts[i] for i in valid], self.spec
            )
        latency_ms = (time.perf_counter() - start) * 1000 / max(len(valid), 1)
        labels = evaluation.predict_labels(scores, self.threshold, self.spec)
        confidence = evaluation.confidence(scores, self.threshold)
        result = pd.DataFrame(
            {
                "text": [t if isinstance(t, str) else repr(t) for t in texts],
                "label": labels,
                "confidence": confidence,
                "score": scores,
                "low_confidence": confidence < self.spec.confidence_threshold,
                "error": [e or "" for e in errors],
                "latency_ms": latency_ms,
            }
        )
        failed = result["error"] != ""
        result.loc[failed, ["label"]] = ""
        result.loc[failed, ["confidence", "score"]] = np.nan
        result.loc[failed, "low_confidence"] = False
        return result

    def predict_and_log(
        self, texts: list[object], log_path: str | os.PathLike[str], source: str
    ) -> tuple[pd.DataFrame, str]:
        """Predict and append every scored text to the prediction log."""
        result = self.predict(texts)
        scored = result[result["error"] == ""]
        batch_id, ids = predlog.append(
            log_path,
            (
                predlog.LoggedPrediction(r.text, r.label, r.confidence, r.score, r.latency_ms)
                for r in scored.itertuples()
            ),
            model_version=self.model_version,
            source=source,
        )
        result["prediction_id"] = ""
        result.loc[scored.index, "prediction_id"] = ids
        return result, batch_id


def load_batch(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A batch of new texts shipped with the project (columns text, label, source)."""
    return catalog.read_csv(catalog.require(Path(path), "the project's data/builtin folder"))
