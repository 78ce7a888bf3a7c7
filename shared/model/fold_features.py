"""The fitted feature blocks of a cross-validated search: each vectorizer setting fitted once
per fold, on the fold's texts as the pipeline's own steps prepare them (cleaned, then the
text path of ``shared.core.normalise`` fitted on the fold's training part, and with the spec's
gender augmentation in the training parts). ``shared.model.search`` scores every configuration on
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion, Pipeline

from shared.core.names import gender_augmented
from shared.core.problem import ProblemSpec
from shared.core.text_rules import clean_text


class FoldFeatures:
    """The fitted feature matrices of each vectorizer setting, per fold, computed once.

    ``texts`` are cleaned once here (the ``clean`` step is stateless). The ``normalise``
    step (``shared.model.text.TextNormalizer``) learns from the texts it is fitted on, so per fold
    it is fitted on the fold's training texts and applied to both parts, once for every
    pipeline that shares its settings. Then for a pipeline and a fold, :meth:`parts`
    returns what its ``features`` step would produce on the fold's training and
    validation texts.
    """

    def __init__(self, texts: Sequence[str], folds: list[tuple[np.ndarray, np.ndarray]],
                 labels: Sequence[str] | None = None) -> None:
        self.texts = np.array([clean_text(str(t)) for t in texts], dtype=object)
        self.folds = folds
        self.labels = None if labels is None else np.asarray(labels)
        #: the texts scored out of fold (augmented copies follow them and are never scored)
        self.count = len(self.texts)
        self._texts: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
        self._blocks: dict[tuple[str, int], tuple[sp.csr_matrix, sp.csr_matrix]] = {}

    @classmethod
    def for_spec(cls, texts: Sequence[str], labels: Sequence[str],
                 splits: list[tuple[np.ndarray, np.ndarray]], spec: ProblemSpec) -> FoldFeatures:
        """The blocks of ``texts`` on ``splits``; with the spec's ``gender_augmentation``, each
        fold's training part also holds a gender-swapped copy of its texts that have a
        gendered word (``shared.core.names.gender_augmented``), validation parts the originals."""
        count = len(texts)
        if spec.gender_augmentation:
            texts, labels, splits = gender_augmented(list(texts), np.asarray(labels), splits)
        made = cls(texts, splits, labels)
        made.count = count
        return made

    @staticmethod
    def normaliser(pipeline: Pipeline) -> Any:
        """The pipeline's ``normalise`` step, or None when it has none (or a passthrough)."""
        step = dict(pipeline.steps).get("normalise")
        return None if step in (None, "passthrough") else step

    @classmethod
    def _normaliser_key(cls, pipeline: Pipeline) -> str:
        step = cls.normaliser(pipeline)
        return "" if step is None else repr(sorted(step.get_params().items()))

    @classmethod
    def blocks(cls, pipeline: Pipeline) -> list[tuple[str, Any]]:
        """(key, vectorizer) of each block the pipeline's ``features`` step stacks."""
        features = pipeline.named_steps["features"]
        parts = (features.transformer_list if isinstance(features, FeatureUnion)
                 else [("", features)])
        texts = cls._normaliser_key(pipeline)
        return [(f"{texts}|{name}:{sorted(t.get_params(deep=False).items())!r}", t)
                for name, t in parts if t not in ("drop", None)]

    def fold_texts(self, pipeline: Pipeline, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """The fold's (training, validation) texts as the pipeline's features receive them."""
        key = (self._normaliser_key(pipeline), fold)
        if key not in self._texts:
            train, valid = self.texts[self.folds[fold][0]], self.texts[self.folds[fold][1]]
            step = self.normaliser(pipeline)
            if step is not None:
                fitted = clone(step).fit(train)
                train, valid = fitted.transform(train), fitted.transform(valid)
            self._texts[key] = (train, valid)
        return self._texts[key]

    def prepare(self, pipelines: list[Pipeline], n_jobs: int) -> None:
        """Fit every block the pipelines need on every fold (in parallel), once.

        A group that remembers each text's features in its process (``remembers_texts``:
        the sentence encoder) is computed here, in this process, so that every fold after the
        first finds most of its texts remembered; in workers, each would encode them again.
        """
        todo = {(key, fold): (pipeline, vectorizer)
                for pipeline in pipelines for key, vectorizer in self.blocks(pipeline)
                for fold in range(len(self.folds)) if (key, fold) not in self._blocks}
        here = {k: v for k, v in todo.items() if getattr(v[1], "remembers_texts", False)}
        elsewhere = {k: v for k, v in todo.items() if k not in here}
        for key, (pipeline, vectorizer) in here.items():
            self._blocks[key] = _fit_block(clone(vectorizer), *self.fold_texts(pipeline, key[1]))
        fitted = Parallel(n_jobs=n_jobs)(
            delayed(_fit_block)(clone(vectorizer), *self.fold_texts(pipeline, fold))
            for (key, fold), (pipeline, vectorizer) in elsewhere.items()
        )
        self._blocks.update(zip(elsewhere, fitted, strict=True))

    def parts(self, pipeline: Pipeline, fold: int) -> list[tuple[sp.csr_matrix, sp.csr_matrix]]:
        """The (training, validation) matrices of each block of the pipeline's features."""
        return [self._blocks[(key, fold)] for key, _ in self.blocks(pipeline)]


def stack(parts: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """The blocks side by side, as ``FeatureUnion`` stacks them: ``sparse.hstack(...).tocsr()``.

    A lone block is copied when joblib handed it over read-only (large arrays reach a
    worker as read-only memory maps), because scikit-learn may sort a sparse
    matrix's indices in place.
    """
    if len(parts) == 1:
        return tuple(m if m.data.flags.writeable else m.copy() for m in parts[0])
    return sp.hstack([p[0] for p in parts]).tocsr(), sp.hstack([p[1] for p in parts]).tocsr()


def _fit_block(vectorizer: Any, train: np.ndarray, valid: np.ndarray) -> tuple[Any, Any]:
    return vectorizer.fit_transform(train), vectorizer.transform(valid)
