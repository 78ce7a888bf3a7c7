"""Stage 4 out of core: search on a sample in memory, then ``partial_fit`` over every part.

The candidates can all learn a batch at a time: hashed word (+ character)
n-grams (``HashingVectorizer``: no vocabulary to fit, so any batch is
transformed alike) with ``SGDClassifier`` (log loss or modified Huber); and NB-SVM
as in memory (``shared.model.models``): word (+ character) TF-IDF and the spec's
other feature groups (the sentiment lexicon), scaled by naive-Bayes log-count
ratios, whose vocabulary, IDF and ratios are fitted on the search sample (a bounded
vocabulary), then ``SGDClassifier`` (log loss: a logistic regression) learns from
every part. They are scikit-learn pipelines as in memory: ``clean`` -> ``normalise``
-> ``vocabulary`` (``shared.model.known_words.KnownWords``) -> ``features`` (->
``nb``) -> ``clf``.

1. The hyperparameters are searched as in memory (``shared.model.training.run_search``:
   the grid, then past its edges) on a stratified sample of the training split
   (``SAMPLE_ROWS`` texts by default, chosen by seeded hash, no two of them
   near-duplicates: :func:`sample`).
2. The chosen configuration is trained on all training parts with
   ``partial_fit``, for ``epochs`` passes, the parts in a seeded order and
   the rows of each part shuffled. A seeded-hash share of the training rows
   (at most ``HOLDOUT_ROWS``) is held out of that training: their scores are
   stage 5's validation data (calibration and threshold), as out-of-fold
   scores are in memory. Word counts are taken during the first pass
   (``shared.model.known_words.WordCounter``). The steps between the text path and the
   classifier that learn from texts (a TF-IDF vocabulary, NB ratios) are fitted on the
   search sample first (:func:`fit_front`).
3. The learning curve: the sample's cross-validated score, then the held-out
   score after 2x, 4x, ... the sample's texts of the first pass, up to the full
   training split, and after the last pass.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from shared.core.catalog import Catalog
from shared.core.name_rules import WordCollector
from shared.core.names import gender_augmented
from shared.core.problem import ProblemSpec
from shared.core.text_rules import clean_text
from shared.data import near_duplicates, partitions
from shared.model import search, training
from shared.model.decision import operating_score
from shared.model.features import OPTIONAL_GROUPS, LogCountRatio, text_features
from shared.model.known_words import MAX_WORDS, KnownWords, WordCounter
from shared.model.models import Candidate, feature_group_grid
from shared.model.scoring import positive_scores
from shared.model.text import TextCleaner, TextNormalizer

#: texts the hyperparameter search runs on (a stratified sample of the training split)
SAMPLE_ROWS = 10_000
#: the search sample is drawn from this many times ``SAMPLE_ROWS`` texts, so that it still
#: holds up to ``SAMPLE_ROWS`` once the near-duplicates are dropped from the pool
SAMPLE_POOL = 3
#: at most this many passes of partial_fit over the training parts (the search's SGD
#: ``max_iter``), and as many as it takes to see ``EPOCH_ROWS`` rows; naive Bayes needs one
#: (its counts are exact after one pass; more would only weaken its smoothing)
EPOCHS = 15
EPOCH_ROWS = 150_000
#: most training rows held out of the final fit, for stage 5's calibration and threshold
HOLDOUT_ROWS = 20_000
HOLDOUT_SHARE = 0.1
#: rows per partial_fit call (and per feature batch sent to a worker)
BATCH_ROWS = 5_000
#: hashed features per block (word, character): 2^20 keeps collisions rare
N_FEATURES = 2 ** 20
GRID = "sample"


def hashing_words(ngram_range: tuple[int, int] = (1, 2)) -> HashingVectorizer:
    """Word n-grams hashed, lower-cased, accents stripped, binary, l2-normalised.

    ``alternate_sign=False`` keeps features non-negative, which naive Bayes needs.
    """
    return HashingVectorizer(n_features=N_FEATURES, ngram_range=ngram_range, lowercase=True,
                             strip_accents="unicode", alternate_sign=False, binary=True)


def hashing_chars(ngram_range: tuple[int, int] = (2, 5)) -> HashingVectorizer:
    """Character n-grams inside word boundaries, hashed (as ``shared.model.features.char_tfidf``)."""
    return HashingVectorizer(n_features=N_FEATURES, analyzer="char_wb", ngram_range=ngram_range,
                             lowercase=True, alternate_sign=False)


def hashing_pipeline(classifier: Any, char: bool = False,
                     normaliser: TextNormalizer | None = None) -> Pipeline:
    """Cleaner, the text path (``normaliser``), known words, hashed word (+ character)
    n-grams, then ``classifier``."""
    return Pipeline([
        ("clean", TextCleaner()),
        ("normalise", normaliser if normaliser is not None else "passthrough"),
        ("vocabulary", KnownWords()),
        ("features", FeatureUnion([("word", hashing_words()),
                                   ("char", hashing_chars() if char else "drop")])),
        ("clf", classifier),
    ])


def nbsvm_pipeline(classifier: Any, normaliser: TextNormalizer | None = None) -> Pipeline:
    """Cleaner, the text path, known words, word TF-IDF (the optional groups off: the grid
    switches them), NB log-count-ratio scaling, then ``classifier``: the in-memory NB-SVM
    (``shared.model.models.text_pipeline``) with a classifier that learns a batch at a time."""
    return Pipeline([
        ("clean", TextCleaner()),
        ("normalise", normaliser if normaliser is not None else "passthrough"),
        ("vocabulary", KnownWords()),
        ("features", text_features()),
        ("nb", LogCountRatio()),
        ("clf", classifier),
    ])


def candidates(seed: int, normaliser: TextNormalizer | None = None,
               groups: Sequence[str] = ("char",)) -> list[Candidate]:
    """The incremental candidates, simplest first, each with its ``sample`` grid, each
    starting with ``normaliser`` after the cleaner (``shared.model.models.text_normaliser``);
    the NB-SVM grid switches each feature group of ``groups`` (the spec's) off and on.

    Naive Bayes is not among them: NB-SVM holds its log-count ratios as the scale of its
    features and learns their weights discriminatively (Wang & Manning 2012). On 60,000
    texts made of rt-polarity sentences, the two tied in the search (0.867 and 0.862 on the
    near-duplicate-free sample, within a fold's spread), but on another domain, the 960
    built-in reviews of products, films and restaurants, naive Bayes trained by stage 4
    scored 0.588 accuracy and NB-SVM 0.627."""
    unknown = sorted(set(groups) - set(OPTIONAL_GROUPS))
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}: choose among "
                         f"{', '.join(OPTIONAL_GROUPS)}")
    chars = {"features__char": ["drop", hashing_chars()]}
    groups = [g for g in groups if g != "embedding"]  # ms a text: not for out-of-core sizes

    def sgd(loss: str) -> SGDClassifier:
        return SGDClassifier(loss=loss, penalty="l2", alpha=1e-5, max_iter=15, tol=1e-4,
                             random_state=seed)

    return [
        Candidate("hashing SGD (log loss)",
                  "hashed word (+char) n-grams, SGD logistic regression", 2,
                  hashing_pipeline(sgd("log_loss"), normaliser=normaliser),
                  {GRID: {"clf__alpha": [1e-5, 3e-5, 1e-4], **chars}}),
        Candidate("hashing SGD (modified Huber)",
                  "hashed word (+char) n-grams, SGD with modified Huber loss", 3,
                  hashing_pipeline(sgd("modified_huber"), normaliser=normaliser),
                  {GRID: {"clf__alpha": [3e-5, 1e-4, 3e-4], **chars}}),
        Candidate("NB-SVM (SGD)",
                  "word (+char) TF-IDF (+lexicon) fitted on the sample, scaled by NB "
                  "log-count ratios, SGD logistic regression", 4,
                  nbsvm_pipeline(sgd("log_loss"), normaliser=normaliser),
                  {GRID: {"clf__alpha": [1e-5, 3e-5, 1e-4],
                          **feature_group_grid(groups, nb_scaled=True)}}),
    ]


def sample(cat: Catalog, spec: ProblemSpec, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The search sample: ``rows`` texts of the training parts with their label shares,
    chosen by seeded hash (``shared.data.partitions.stratified_sample``), no two of them
    near-duplicates (``shared.data.near_duplicates``: sharing a passage of eight words); all
    the distinct ones when there are fewer.

    Near-duplicates in different folds would reward memorising. The texts are drawn from
    ``SAMPLE_POOL`` times ``rows`` in hash order (of near-duplicates the first is kept);
    ``attrs`` holds the pool's size and the near-duplicates dropped from it.
    """
    folder = cat.require("train_parts")
    pool = partitions.stratified_sample(folder, rows * SAMPLE_POOL, spec.seed,
                                        columns=["text", "label"])
    labels = partitions.read_column(folder, "label")
    if rows < len(labels):  # in the order stratified_sample takes texts, for the quotas
        order = np.argsort(partitions.text_hashes(pool["text"].to_numpy(dtype=object),
                                                  "sample", spec.seed), kind="stable")
        pool = pool.iloc[order]
    keep = near_duplicates.distinct(pool["text"])
    chosen = pool[keep]
    if rows < len(labels):
        quotas = partitions.label_quotas(labels, rows)
        rank = chosen.groupby("label", sort=False).cumcount().to_numpy()
        chosen = chosen[rank < chosen["label"].map(quotas).to_numpy()]
    chosen = chosen.reset_index(drop=True)
    chosen.attrs = {"pool": len(pool), "near_duplicates": int((~keep).sum())}
    return chosen


def run_search(
    cands: list[Candidate], sample_frame: pd.DataFrame, spec: ProblemSpec,
    method: str = "grid", n_jobs: int = -1,
) -> search.SearchResult:
    """Stage 4's in-memory search (``shared.model.training.run_search``) on the sample: the
    grid, then ``shared.model.grid_extension.refine`` (past the edges, and the ablation)."""
    return training.run_search(cands, sample_frame, spec, GRID,
                               "halving" if method == "halving" else "grid", n_jobs=n_jobs)


@dataclass
class StreamResult:
    """The model trained on every part, its held-out scores and its learning curve."""

    model: Pipeline
    holdout: pd.DataFrame
    curve: pd.DataFrame
    rows_trained: int
    epochs: int
    seconds: float
    convergence_warnings: list[str] = field(default_factory=list)
    words_pruned: bool = False


def _training_texts(part: pd.DataFrame, spec: ProblemSpec) -> tuple[list[str], np.ndarray]:
    """A part's texts cleaned, and labels, with gender-swapped copies as in memory."""
    texts, labels = list(part["text"]), part["label"].to_numpy(dtype=object)
    if spec.gender_augmentation:  # as in memory: swapped copies join training
        texts, labels, _ = gender_augmented(texts, labels)
    return [clean_text(t) for t in texts], labels


def fit_front(pipeline: Pipeline, normalise: Any, texts: list[str], labels: Any,
              spec: ProblemSpec) -> Pipeline:
    """The steps between the known words and the classifier (``features``, and ``nb`` where
    there is one) as one pipeline, fitted on ``texts`` (the search sample, after the cleaner
    and the fitted text path; gender-swapped copies join them as in training): a TF-IDF
    vocabulary and its IDF, NB log-count ratios. Hashed features learn nothing: the hashing
    blocks are only marked fitted."""
    names = [name for name in ("features", "nb") if name in pipeline.named_steps]
    front = Pipeline([(name, pipeline.named_steps[name]) for name in names])
    if not _learns(pipeline.named_steps["features"]):
        front.steps[0][1].fit(["fit"])  # stateless: marks the hashing blocks fitted
        return front
    labels = np.asarray(labels, dtype=object)
    if spec.gender_augmentation:
        texts, labels, _ = gender_augmented(list(texts), labels)
    front.fit(normalise.transform([clean_text(t) for t in texts]), labels)
    return front


def _learns(features: Any) -> bool:
    """Whether a features step learns from texts (a vocabulary), not only hashes."""
    return any(not isinstance(step, HashingVectorizer) and step != "drop"
               and step.__sklearn_tags__().requires_fit for _, step in features.transformer_list)


def _holdout_mask(texts: np.ndarray, seed: int, share: float) -> np.ndarray:
    return partitions.unit_interval(partitions.text_hashes(texts, "holdout", seed)) < share


def holdout_share(train_rows: int, max_rows: int = HOLDOUT_ROWS) -> float:
    """The share of training rows held out: 10%, fewer on a large split (at most ``max_rows``)."""
    return min(HOLDOUT_SHARE, max_rows / max(train_rows, 1))


def train_stream(
    pipeline: Pipeline, cat: Catalog, spec: ProblemSpec, epochs: int = EPOCHS,
    sample_point: dict[str, float] | None = None, holdout_rows: int = HOLDOUT_ROWS,
    batch_rows: int | None = None, max_words: int = MAX_WORDS, n_jobs: int = -1,
    sample_texts: Any = None, sample_labels: Any = None,
) -> StreamResult:
    """Train ``pipeline`` (an unfitted candidate of :func:`candidates`) on every training part.

    ``sample_point`` (the search's score of this configuration on the sample,
    with its size) is the learning curve's first point. ``batch_rows`` rows go to each
    ``partial_fit`` (default ``BATCH_ROWS``). The transforms run on
    ``n_jobs`` worker processes while this process runs ``partial_fit``. The text path
    (``normalise``), and the steps after it that learn from texts (:func:`fit_front`), are
    fitted on ``sample_texts`` and ``sample_labels`` (the search sample; without them, on
    the training rows of the first part).
    """
    start = time.perf_counter()
    batch_rows = batch_rows or BATCH_ROWS
    folder = cat.require("train_parts")
    files = partitions.part_files(folder)
    total = partitions.count_rows(folder)
    share = holdout_share(total, holdout_rows)
    clean, classifier = pipeline.named_steps["clean"], pipeline.named_steps["clf"]
    normalise = pipeline.named_steps["normalise"]
    held, held_out = [], []  # each part's held-out rows, and its mask for every pass
    words = WordCollector(getattr(normalise, "names", "off"))
    for file in files:
        part = partitions.read_part(file, ["text", "label"])
        out = _holdout_mask(part["text"].to_numpy(dtype=object), spec.seed, share)
        held_out.append(out)
        held.append(part[out])
        kept = part[~out]
        if normalise != "passthrough":  # the text path learns from every training text
            words.update(_training_texts(kept, spec)[0])
        if sample_texts is None:
            sample_texts, sample_labels = kept["text"], kept["label"]
    holdout = pd.concat(held, ignore_index=True)
    if normalise == "passthrough":
        normalise = FunctionTransformer()  # hands the texts on unchanged
    else:  # what it learns (words seen in lower case), from every training text, as in memory
        normalise.fit_words(words.words())
    features = fit_front(pipeline, normalise, list(sample_texts), sample_labels, spec)
    hold_x = features.transform(normalise.transform(clean.transform(list(holdout["text"]))))
    hold_y = holdout["label"].to_numpy(dtype=object)
    classes = np.array(sorted(spec.labels), dtype=object)
    counter = WordCounter(max_words)
    train_rows = total - len(holdout)
    sample_size = int(sample_point["train_size"]) if sample_point else BATCH_ROWS
    checkpoints = [sample_size * 2 ** k for k in range(1, 64) if sample_size * 2 ** k < train_rows]
    curve = [sample_point] if sample_point else []
    probe: tuple[Any, np.ndarray] | None = None  # training texts the curve's training score uses
    rng = np.random.default_rng(spec.seed)
    seen, caught = 0, []

    def point(size: int) -> dict[str, float]:
        assert probe is not None
        scores = {name: operating_score(y, _positive(classifier, x, spec), spec)
                  for name, (x, y) in {"train": probe, "valid": (hold_x, hold_y)}.items()}
        return {"train_size": size, "train_mean": scores["train"], "train_std": 0.0,
                "valid_mean": scores["valid"], "valid_std": 0.0}

    with Parallel(n_jobs=n_jobs, return_as="generator") as parallel:
        for epoch in range(epochs):
            for index in rng.permutation(len(files)):
                part = partitions.read_part(files[index], ["text", "label"])[~held_out[index]]
                part = part.iloc[rng.permutation(len(part))]
                texts, labels = _training_texts(part, spec)
                texts = list(normalise.transform(texts))
                if epoch == 0:
                    counter.update(texts)
                batches = range(0, len(texts), batch_rows)
                matrices = parallel(delayed(features.transform)(texts[i:i + batch_rows])
                                    for i in batches)
                for i, matrix in zip(batches, matrices, strict=True):
                    y = labels[i:i + batch_rows]
                    with warnings.catch_warnings(record=True) as warned:
                        warnings.simplefilter("always", ConvergenceWarning)
                        classifier.partial_fit(matrix, y, classes=classes)
                    caught += [str(w.message) for w in warned
                               if issubclass(w.category, ConvergenceWarning)]
                    if probe is None:
                        probe = (matrix, y)
                    before, seen = seen, seen + len(y)
                    if epoch == 0:
                        curve += [point(size) for size in checkpoints if before < size <= seen]
    curve.append(point(train_rows) | {"train_size": train_rows})
    vocabulary = pipeline.named_steps["vocabulary"].set_words(counter.words())
    vocabulary.fit(None)
    holdout = holdout.assign(score=positive_scores(pipeline, list(holdout["text"]),
                                                   spec.positive_label))
    return StreamResult(pipeline, holdout, pd.DataFrame(curve), train_rows, epochs,
                        time.perf_counter() - start, sorted(set(caught)), counter.pruned)


def _positive(classifier: Any, matrix: Any, spec: ProblemSpec) -> np.ndarray:
    column = list(classifier.classes_).index(spec.positive_label)
    return classifier.predict_proba(matrix)[:, column]


def sample_point(chosen: pd.Series, sample_rows: int, folds: int) -> dict[str, float]:
    """The learning curve's first point: the chosen configuration cross-validated on the sample."""
    size = int(sample_rows * (folds - 1) / folds)  # the training part of each fold
    return search.curve_point(size, chosen) | {"train_size": size}


def epochs_for(pipeline: Pipeline, train_rows: int, epochs: int = EPOCHS) -> int:
    """Passes over the training parts: one for naive Bayes; for SGD enough to see
    ``EPOCH_ROWS`` rows, at least one and at most ``epochs``."""
    if isinstance(pipeline.named_steps["clf"], ComplementNB):
        return 1
    return max(1, min(epochs, math.ceil(EPOCH_ROWS / max(train_rows, 1))))


def majority_counts(cat: Catalog) -> pd.Series:
    """Training rows per label, counted over every part (the baseline's one statistic)."""
    return pd.Series(partitions.read_column(cat.require("train_parts"), "label")).value_counts()


def majority_baseline(cat: Catalog) -> Pipeline:
    """The majority-class baseline, fitted on every training label (its texts do not matter)."""
    from shared.model.models import majority_baseline as baseline

    labels = partitions.read_column(cat.require("train_parts"), "label")
    return baseline().fit(np.full(len(labels), "", dtype=object), labels)


def save(cat: Catalog, stream: StreamResult, baseline: Pipeline, result: search.SearchResult,
         report: Any) -> None:
    """Write stage 4's artifacts; ``oof_predictions`` holds the held-out rows' texts, labels
    and scores (stage 5's validation data)."""
    from shared.model.training import results_table

    cat.write("trained_model", stream.model)
    cat.write("baseline_model", baseline)
    cat.write("cv_results", results_table(result.table))
    cat.write("oof_predictions", stream.holdout[["text", "label", "score"]])
    report.save(cat)
