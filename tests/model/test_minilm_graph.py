"""The encoder's ONNX graph: the same computation as the NumPy reference, 8-bit weights that
keep the vectors' meaning, and a pinned build that is cached and checked."""

import hashlib

import numpy as np
import onnxruntime
import pytest

from shared.model import minilm, minilm_graph

TEXTS = ["I loved this film.", "Not good at all, sadly.", "xxname was awful!",
         "The plot was thin but the acting was fine, and the music even better."]


@pytest.fixture(scope="module")
def encoder():
    return minilm.encoder()


def _run(model_bytes: bytes, encoder, texts: list[str]) -> np.ndarray:
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    rows = []
    for text in texts:
        ids = encoder.tokenize(text)
        rows.append(session.run(None, {"ids": np.array([ids]),
                                       "positions": np.arange(len(ids))[None]})[0][0])
    return np.vstack(rows)


def test_the_float_graph_computes_what_the_numpy_reference_does(encoder):
    graph = minilm_graph.float_graph(encoder).SerializeToString()
    pooled = _run(graph, encoder, TEXTS)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    assert np.allclose(pooled, encoder.float_vectors(TEXTS), atol=1e-5)


def test_eight_bit_weights_keep_each_vector_near_the_float_one(encoder):
    cosines = (encoder.encode(TEXTS) * encoder.float_vectors(TEXTS)).sum(axis=1)
    assert cosines.min() > 0.97, cosines


@pytest.fixture(scope="module")
def built(encoder):
    """One real build of the quantized graph (2-3 s), shared by the tests below."""
    return minilm_graph.quantized_bytes(encoder)


def test_the_build_is_the_pinned_one_and_is_cached(tmp_path, monkeypatch, encoder, built):
    assert hashlib.sha256(built).hexdigest() == minilm_graph.QUANTIZED_SHA256
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builds = []
    monkeypatch.setattr(minilm_graph, "quantized_bytes", lambda enc: builds.append(1) or built)
    path = minilm_graph.cached_path()
    assert minilm_graph.checked_graph(encoder) == built == path.read_bytes()
    assert minilm_graph.checked_graph(encoder) == built and len(builds) == 1  # cached
    path.write_bytes(b"changed")  # a damaged cache is built again, not used
    assert minilm_graph.checked_graph(encoder) == built == path.read_bytes()
    assert len(builds) == 2


def test_a_build_other_than_the_pinned_one_is_refused(tmp_path, monkeypatch, encoder, built):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(minilm_graph, "quantized_bytes", lambda enc: built)
    monkeypatch.setattr(minilm_graph, "QUANTIZED_SHA256", "0" * 64)
    with pytest.raises(minilm_graph.GraphBuildError, match="not the pinned 0{64}.*make install"):
        minilm_graph.checked_graph(encoder)
    assert not minilm_graph.cached_path().exists()
