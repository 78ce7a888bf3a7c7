"""The sentence-embedding feature group: what a pretrained encoder knows of English, as a few
hundred dense columns beside the n-grams.

A bag of n-grams learns each word from the training texts alone: on 2,400 review sentences
it has seen "superb" a handful of times and "unwatchable" perhaps never. A frozen encoder
pretrained on a billion sentence pairs (all-MiniLM-L6-v2, :mod:`shared.model.minilm`) maps
texts of like meaning to nearby vectors, so a linear model on its vectors generalises from
few labels: transfer learning without fine-tuning, and nothing to fit. Measured by 10-fold
accuracy of logistic regression (C=3) with word and character n-grams and the lexicon
(``benchmarks/quality.py`` reruns it on MR; the proxy set is not shipped):

- 3,000 UCI review sentences (Kotzias et al. 2015): 0.881 without, 0.913 with the group;
- the 960 built-in reviews: 0.748 without, 0.777 with it.

(These were measured with the encoder in float32; its 8-bit graph moves such figures by a few
tenths of a point: ``shared.model.minilm_graph``.)

It costs about 0.07 ms a token on two cores (about 1 ms a review sentence, with the 8-bit
weights of :mod:`shared.model.minilm_graph`), far more than the n-grams, so stage 4 searches it
only on training sets of at most ``MAX_TRAINING_TEXTS`` texts, and only for the families it
suits (``shared.model.models.candidates``).

The encoder reads the text after the text path: names blinded, so a name cannot move its
vector. Its vectors are remembered per process by text (:func:`vectors`): the search scores
each training text in every fold.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import platform
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from shared.core import storage
from shared.model import minilm
from shared.model.text import text_step_tags

#: stage 4 searches the group on training sets up to this size: beyond it, the n-grams have
#: seen most words often enough, and the encoder would cost minutes (rt-polarity's 8,500
#: training sentences: about 80 s a process)
MAX_TRAINING_TEXTS = 5_000
#: the scales stage 4 tries the group at (``SentenceEmbedding``'s ``weight``)
WEIGHTS = (0.5, 1.0)
#: texts up to this long are remembered, at most CACHED_TEXTS of them (1.5 kB each)
CACHED_CHARS = 1_000
CACHED_TEXTS = 1 << 15


_REMEMBERED: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
_LOCK = threading.Lock()
#: encoded at once, this many new texts or more use every core; fewer use one (a service's
#: workers share the cores). The bits are the same either way
MANY_TEXTS = 64


def vectors(texts: Iterable[str], version: int | None = None) -> np.ndarray:
    """The encoder's vectors of ``texts`` (one row each), by its computation ``version``.
    Texts seen before in this process come from memory, then from the disk store if one is set
    (:func:`remember_on_disk`; the current computation only); the others are encoded together
    (:meth:`minilm.MiniLM.encode` gives a text the same bits alone or in a batch, so
    remembering changes no answer)."""
    texts = [str(text) for text in texts]
    version = minilm.VERSION if version is None else version
    if _FORGETTING or _FORGETTING_HERE.get() or not texts:
        return minilm.encoder().encode_as(version, texts)
    distinct = list(dict.fromkeys(texts))
    with _LOCK:
        found = {t: _REMEMBERED[version, t] for t in distinct if (version, t) in _REMEMBERED}
    store = _STORE if version == minilm.VERSION else None
    if store is not None and len(found) < len(distinct):
        found.update(store.get([t for t in distinct if t not in found]))
    new = [t for t in distinct if t not in found]
    if new:
        threads = (os.cpu_count() or 1) if len(new) >= MANY_TEXTS else 1
        encoded = dict(zip(new, minilm.encoder().encode_as(version, new, threads), strict=True))
        if store is not None:
            store.put(encoded)
        found.update(encoded)
    with _LOCK:  # the texts of this call become the most recently used
        for text in distinct:
            if len(text) <= CACHED_CHARS:
                _REMEMBERED[version, text] = found[text]
                _REMEMBERED.move_to_end((version, text))
        while len(_REMEMBERED) > CACHED_TEXTS:
            _REMEMBERED.popitem(last=False)
    return np.vstack([found[t] for t in texts])


class VectorStore:
    """Sentence vectors on disk, by the SHA-256 of their text, in one SQLite file per encoder
    and numeric setup (:func:`default_store_path`), shared by the stages of a run and by later
    runs: stage 4 encodes the training texts, stages 5 to 7 and the next run find them. Several
    processes may write at once (WAL, a 60 s busy timeout). It only grows: delete the file to
    empty it (``make clean-vectors``)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        with contextlib.closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (sha TEXT PRIMARY KEY, vector BLOB)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    @staticmethod
    def key(text: str) -> str:
        """The row's key: the text's SHA-256."""
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, texts: list[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those ``texts`` that have one."""
        keys = {self.key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        with contextlib.closing(self._connect()) as db:
            shas = list(keys)
            for start in range(0, len(shas), 500):  # SQLite's limit on parameters
                chunk = shas[start:start + 500]
                marks = ",".join("?" * len(chunk))
                for sha, blob in db.execute(
                        f"SELECT sha, vector FROM vectors WHERE sha IN ({marks})", chunk):
                    if len(blob) == 4 * minilm.WIDTH:  # a damaged row is encoded again
                        found[keys[sha]] = np.frombuffer(blob, dtype="<f4")
        return found

    def put(self, encoded: dict[str, np.ndarray]) -> None:
        """Store vectors (a text stored already keeps its row: the bits are the same)."""
        rows = [(self.key(t), np.asarray(v, dtype="<f4").tobytes()) for t, v in encoded.items()]
        with contextlib.closing(self._connect()) as db, db:
            db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?)", rows)


_STORE: VectorStore | None = None
_FORGETTING = False  # the whole process (a service: forget_always)
_FORGETTING_HERE: contextvars.ContextVar[bool] = contextvars.ContextVar("forgetting", default=False)


def forget_always() -> None:
    """From now on in this process, every text is encoded anew (the service: ``create_app``)."""
    global _FORGETTING
    _FORGETTING = True


@contextlib.contextmanager
def forgetting() -> Iterator[None]:
    """Within it, every text is encoded anew: neither memory nor the store is read or
    written (``shared.deploy.model_cost`` times a model's cost for a new text)."""
    token = _FORGETTING_HERE.set(True)
    try:
        yield
    finally:
        _FORGETTING_HERE.reset(token)


def default_store_path() -> Path | None:
    """``SENTENCE_VECTOR_STORE`` (a file, or ``off``), else the user's cache folder
    (``XDG_CACHE_HOME`` or ``~/.cache``)/ml-workflow/sentence-vectors-<encoder>-<setup>.sqlite
    (``minilm.encoder_id``, :func:`numeric_setup`: vectors computed otherwise are never mixed
    in)."""
    chosen = os.environ.get("SENTENCE_VECTOR_STORE", "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    return (storage.user_cache_folder()
            / f"sentence-vectors-{minilm.encoder_id()}-{numeric_setup()}.sqlite")


def numeric_setup() -> str:
    """A short hash of what a vector's last bits depend on besides the encoder: ONNX Runtime's
    version, and the CPU's architecture and vector instructions, by which its kernels are
    chosen. Vectors from another setup are not mixed in."""
    # its installed version, without importing it into every notebook kernel that sets up
    return hashlib.sha256(repr((metadata.version("onnxruntime"), platform.machine(),
                                _vector_instructions())).encode()).hexdigest()[:10]


def _vector_instructions() -> tuple[str, ...]:
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0].split()
    except (OSError, IndexError):
        return ()
    return tuple(sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "sse4"))))


def remember_on_disk(path: Path | None = None) -> None:
    """Keep sentence vectors in a :class:`VectorStore` at ``path`` (default:
    :func:`default_store_path`), for this process. The notebooks turn it on (``setup``); a
    service does not, since every request would then wait on the disk."""
    global _STORE
    path = default_store_path() if path is None else path
    _STORE = None if path is None else VectorStore(path)


def searched_groups(groups: Iterable[str], train_rows: int | None = None) -> tuple[str, ...]:
    """The feature ``groups`` stage 4 searches on ``train_rows`` training texts: all of them,
    but this group above :data:`MAX_TRAINING_TEXTS` texts."""
    too_many = train_rows is not None and train_rows > MAX_TRAINING_TEXTS
    return tuple(g for g in groups if not (too_many and g == "embedding"))


class SentenceEmbedding(TransformerMixin, BaseEstimator):
    """The sentence vector of each text (384 columns, unit length), times ``weight``.

    ``weight`` sets the group's scale beside the TF-IDF blocks, whose rows are unit length
    over thousands of columns: at 0.5 the 10-fold accuracy of logistic regression was 0.913
    on the UCI sentences and 0.777 on the built-in reviews, at 1.0 0.917 and 0.760, so stage
    4 tries both (:data:`WEIGHTS`; at 2.0 the UCI sentences' cross-validated accuracy fell).
    """

    #: its features are remembered per process: the search computes its blocks in its own
    #: process (``shared.model.fold_features.FoldFeatures.prepare``)
    remembers_texts = True

    def __init__(self, weight: float = 0.5) -> None:
        self.weight = weight

    def fit(self, X, y=None) -> SentenceEmbedding:  # noqa: N803
        """Nothing to learn: the encoder is frozen. Records which encoder (weights and
        computation: ``minilm.encoder_id``) the model around it is trained on."""
        self.encoder_ = minilm.encoder_id()
        return self

    def transform(self, X) -> sp.csr_matrix:  # noqa: N803
        """One row of 384 values per text, by the computation the model was trained on (a
        model written before the 8-bit encoder keeps the float32 one, and its answers);
        refused if that encoder is not here, since the model's weights were fitted to its
        vectors."""
        trained = getattr(self, "encoder_", None)
        known = {minilm.encoder_id(v): v for v in (minilm.VERSION, minilm.FLOAT_VERSION)}
        if trained is not None and trained not in known:
            raise ValueError(
                f"this model's sentence-embedding group was trained on encoder {trained}, and "
                f"this installation has {minilm.encoder_id()}: install the project's pinned "
                "versions (`make install`) or retrain and redeploy (stages 4 to 6)")
        version = known.get(trained, minilm.VERSION)
        return sp.csr_matrix(self.weight * vectors(X, version).astype(np.float64))

    def __sklearn_tags__(self):  # noqa: D105
        # nothing to fit: a pipeline holding the group is fitted once its other steps are
        return text_step_tags(super().__sklearn_tags__())

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The columns' names (the union prefixes them: ``embedding__dim0``)."""
        return np.array([f"dim{i}" for i in range(minilm.WIDTH)], dtype=object)
