"""The predictor: one object answers for stage 7, the batch command and the HTTP service.

It loads the deployed model only after checking the manifest, applies the
decision threshold chosen in stage 5, and returns a label and a confidence for
every text, or the reason a text cannot be scored (the same reasons stage 2
quarantines for: ``shared.core.text_rules.unscoreable_reason``). A score that is
not a finite number in [0, 1] is never turned into an answer: that text gets
the error (:func:`invalid_score_reason`) and is still logged, with the error,
so that monitoring's ``invalid_scores`` rule sees it. Predictions can be
appended to the prediction log (``shared.serving.prediction_log``) in one transaction.

:meth:`Predictor.score` is the fast path (numpy arrays, no pandas), used by the
service; :meth:`Predictor.predict` returns the same answers as a DataFrame.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context

from shared.core.manifest import Manifest, load_deployed
from shared.core.problem import ProblemSpec
from shared.core.text_rules import MAX_TEXT_CHARS, unscoreable_reason
from shared.model.models import Vocabulary
from shared.model.scoring import confidence, positive_scores, predict_labels
from shared.serving import input_checks, prediction_log

#: scikit-learn's settings while a loaded model scores: its input checks (finiteness of every
#: intermediate matrix, the type checks of each call's parameters) ran on every call, about
#: a quarter of a one-text ``predict_proba`` in a profile; the model's steps build those
#: matrices themselves from text, and the score is checked on the way out (:meth:`score`)
SCORING_CONFIG = {"assume_finite": True, "skip_parameter_validation": True}

#: the start of the error of a text whose score was invalid (the model failed, not the input)
INVALID_SCORE = "the model returned an invalid score"


def invalid_score_reason(score: float) -> str:
    """The error logged and returned for a text whose score is not a finite number in [0, 1]."""
    return f"{INVALID_SCORE} ({score!r}): not a finite number in [0, 1]"


class InvalidScoreError(ValueError):
    """The model returned scores that are not finite probabilities in [0, 1] for a request.

    Nothing of the request is answered; its texts are in the prediction log with
    the error, under ``batch_id`` when it is known.
    """

    def __init__(self, bad: int, total: int, batch_id: str = "") -> None:
        logged = f"logged with the error in batch {batch_id}" if batch_id else "not logged"
        super().__init__(
            f"the model returned {bad} of {total} scores that are not finite numbers in [0, 1]; "
            f"nothing was answered ({logged})"
        )
        self.bad = bad
        self.total = total
        self.batch_id = batch_id


@dataclass(frozen=True)
class Scored:
    """The answers for a list of texts as arrays, one entry per input, in order.

    ``error`` is empty where the text was scored; elsewhere it holds the reason
    and the other fields are empty or NaN.
    """

    texts: list[object]
    label: np.ndarray
    confidence: np.ndarray
    score: np.ndarray
    low_confidence: np.ndarray
    unknown_word_share: np.ndarray
    error: list[str]
    latency_ms: float

    def __len__(self) -> int:
        return len(self.texts)

    def scored(self) -> np.ndarray:
        """Positions of the texts that were scored."""
        return np.flatnonzero(np.asarray([not e for e in self.error], dtype=bool))

    def invalid(self) -> np.ndarray:
        """Positions of the texts whose score was invalid (the model failed on them)."""
        return np.flatnonzero(np.asarray([e.startswith(INVALID_SCORE) for e in self.error],
                                         dtype=bool))

    def to_log(self) -> np.ndarray:
        """Positions of the texts that go to the prediction log: the scored and the invalid.

        A text refused before scoring (empty, too long) is the caller's mistake
        and is not logged; a text the model failed on is logged with its error.
        """
        return np.flatnonzero(np.asarray([not e or e.startswith(INVALID_SCORE)
                                          for e in self.error], dtype=bool))

    def logged(self, positions: Sequence[int]) -> list[prediction_log.LoggedPrediction]:
        """The log rows of the texts at ``positions`` (scored, or with an invalid score)."""
        return [
            prediction_log.LoggedPrediction(
                str(self.texts[i]), str(self.label[i]), float(self.confidence[i]),
                float(self.score[i]), self.latency_ms, float(self.unknown_word_share[i]),
                self.error[i],
            )
            for i in positions
        ]

    def frame(self) -> pd.DataFrame:
        """One row per input: text, label, confidence, score, low_confidence, ..., error."""
        return pd.DataFrame({
            "text": [t if isinstance(t, str) else repr(t) for t in self.texts],
            "label": self.label,
            "confidence": self.confidence,
            "score": self.score,
            "low_confidence": self.low_confidence,
            "unknown_word_share": self.unknown_word_share,
            "error": self.error,
            "latency_ms": self.latency_ms,
        })


@dataclass
class Predictor:
    """The deployed model with its spec, threshold and version."""

    model: Any
    spec: ProblemSpec
    threshold: float
    model_version: str
    manifest: Manifest
    max_text_chars: int = MAX_TEXT_CHARS
    #: the release folder the model was loaded from (the ``deployed`` link resolved)
    folder: Path | None = None
    vocabulary: Vocabulary | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary.of(self.model)  # None: no unknown-word share
        # scikit-learn's data-frame question, a third of a one-text prediction, answered at
        # once for the arrays the model's steps pass (always False for them)
        input_checks.install()

    @classmethod
    def from_deployed(
        cls, deployed_dir: str | os.PathLike[str], max_text_chars: int = MAX_TEXT_CHARS
    ) -> Predictor:
        """Load the deployed model, refusing files that do not match the manifest.

        ``deployed_dir`` is resolved first (``deployed`` is a link that a release
        or a rollback switches), so every file comes from one release even if
        the link is switched while they are read. Raises ManifestMismatchError
        (a file changed or is missing) or UntrustedModelError (the model holds a
        type nobody vouched for).
        """
        folder = Path(os.path.realpath(deployed_dir))
        model, manifest = load_deployed(folder)
        # one text scored now: the text path reads its word and name lists on first use
        # (0.9 s for the built-in sentiment model), which would otherwise fall on the first
        # request the service answers (4 ms for the next one)
        model.predict_proba(["warm-up"])
        return cls(
            model=model,
            spec=ProblemSpec.from_dict(manifest.problem),
            threshold=float(manifest.metrics.threshold),
            model_version=manifest.model_version,
            manifest=manifest,
            max_text_chars=max_text_chars,
            folder=folder,
        )

    def check_text(self, text: object) -> str | None:
        """Why ``text`` cannot be scored (``shared.core.text_rules.unscoreable_reason``), or None."""
        return unscoreable_reason(text, self.max_text_chars)

    def unknown_word_shares(self, texts: list[str]) -> np.ndarray:
        """Share of each text's words the model never saw (NaN if the model has no vocabulary)."""
        if self.vocabulary is None or not texts:
            return np.full(len(texts), np.nan)
        return self.vocabulary.unknown_shares(texts)

    def score(self, texts: Sequence[object], checked: bool = False) -> Scored:
        """The answer for every input, in order, as arrays: one model call for all valid texts.

        ``checked=True`` says every text already passed :meth:`check_text` (the
        service checks each request before batching), so the check is not repeated.
        A text whose score is NaN, infinite or outside [0, 1] gets
        :func:`invalid_score_reason` as its error, no label and no confidence;
        its score is kept as the model gave it, for the log.
        """
        texts = list(texts)
        errors = [""] * len(texts) if checked else [self.check_text(t) or "" for t in texts]
        valid = [i for i, e in enumerate(errors) if not e]
        scores = np.full(len(texts), np.nan)
        unknown = np.full(len(texts), np.nan)
        start = time.perf_counter()
        if valid:
            valid_texts = texts if len(valid) == len(texts) else [texts[i] for i in valid]
            with config_context(**SCORING_CONFIG):
                scores[valid] = positive_scores(self.model, valid_texts,
                                                self.spec.positive_label)
        latency_ms = (time.perf_counter() - start) * 1000 / max(len(valid), 1)
        if valid:
            good = (scores[valid] >= 0) & (scores[valid] <= 1)  # False for NaN too
            if not good.all():
                for i in np.asarray(valid)[~good]:
                    errors[i] = invalid_score_reason(float(scores[i]))
            unknown[valid] = self.unknown_word_shares([str(t) for t in valid_texts])
        ok = np.asarray([not e for e in errors], dtype=bool)
        # NaN where not scored: a bad score must not become a confidence
        confidences = np.where(ok, confidence(scores, self.threshold), np.nan)
        labels = predict_labels(scores, self.threshold, self.spec.positive_label,
                                self.spec.negative_label)
        return Scored(
            texts=texts,
            label=np.where(ok, labels, "") if not ok.all() else labels,
            confidence=confidences,
            score=scores,
            low_confidence=ok & (confidences < self.spec.confidence_threshold),
            unknown_word_share=unknown,
            error=errors,
            latency_ms=latency_ms,
        )

    def predict(self, texts: list[object]) -> pd.DataFrame:
        """One row per input, in order: label, confidence, score, or an error."""
        return self.score(texts).frame()

    def predict_and_log(
        self, texts: list[object], log_path: str | os.PathLike[str], source: str,
        store_text: bool = True,
    ) -> tuple[pd.DataFrame, str]:
        """Predict and append every scored text to the prediction log, in one transaction.

        A text with an invalid score is logged too, with its error (and keeps
        its prediction id in the frame). With ``store_text=False`` the log keeps
        each text's SHA-256 and length only.
        """
        result = self.score(texts)
        scored = result.to_log()
        batch_id, ids = prediction_log.append(
            log_path, result.logged(scored), model_version=self.model_version, source=source,
            store_text=store_text,
        )
        frame = result.frame()
        prediction_ids = np.full(len(frame), "", dtype=object)
        prediction_ids[scored] = ids
        frame["prediction_id"] = prediction_ids
        return frame, batch_id
