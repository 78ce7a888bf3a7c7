"""The sentence encoder as an ONNX graph with 8-bit weights, run by ONNX Runtime.

Why: run in NumPy's float32 BLAS, the encoder cost about 0.25 ms a token on this project's
2-core machine, most of the default run's time and all of a served prediction's. Its 36
weight products (query-key-value, attention output, and the two feed-forward products of
each of the 6 layers) hold nearly all its arithmetic. Here they are quantized to 8 bits, one
scale per output column, by ONNX Runtime's dynamic quantization (each text's activations get
their own 8-bit scale at run time); the attention products, the layer norms, the softmax and
GELU stay in float32. The weights use 7 of the 8 bits (``reduce_range``): on x86 CPUs without
VNNI instructions, the pairwise sums of 8-bit products would otherwise overflow 16 bits and
saturate, so such a CPU would get other, worse vectors. On the 960 built-in reviews encoding
became 2.8 times faster (2.7 s against 7.6 s on two cores). The vectors keep a cosine of 0.992
on average with the float32 ones (``tests/model/test_minilm_graph.py`` holds it above 0.97
per text). The default run's search kept the same configuration (cross-validated F1 0.772 with
the float32 encoder, 0.774 with this one); a run on 3,000 UCI review sentences (a user's file,
not shipped) went from 0.913 to 0.911.

No exported file is trusted: the graph is built here from the pinned weights (``minilm``),
quantized, and compared with :data:`QUANTIZED_SHA256` before use. The result is kept in the
user's cache folder, so a process pays the 2-3 s of building once per installation.

A text is always run alone, on one thread: its 8-bit activation scale, and so its bits, then
never depend on the texts beside it or on the number of cores (``MiniLM.encode`` runs several
texts side by side in threads, each call on one).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from shared.core import storage

if TYPE_CHECKING:
    import onnx
    import onnxruntime

#: the SHA-256 of the quantized graph built from the pinned weights with the pinned onnx and
#: onnxruntime (``requirements.lock``); another build is refused, not silently used
QUANTIZED_SHA256 = "e4d3ca34b41572cf5f935b6b073115ca65ec88729419556471b5ad6502f75861"


class GraphBuildError(RuntimeError):
    """The quantized graph built here is not the pinned one (other onnx or onnxruntime)."""


def float_graph(encoder) -> onnx.ModelProto:
    """The encoder's forward pass as a float32 ONNX graph: token ids and positions (1 x L) in,
    the mean of the last hidden states (1 x 384) out, not yet normalised."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    initializers, nodes = [], []

    def const(name: str, value) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], **attributes) -> str:
        out = f"{op}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def layer_norm(x: str, gain: np.ndarray, bias: np.ndarray, tag: str) -> str:
        return node("LayerNormalization", [x, const(f"{tag}.gain", gain),
                                           const(f"{tag}.bias", bias)], axis=-1, epsilon=1e-12)

    def dense(x: str, weight: np.ndarray, bias: np.ndarray, tag: str) -> str:
        return node("Add", [node("MatMul", [x, const(tag, weight)]), const(f"{tag}.bias", bias)])

    x = node("Add", [node("Gather", [const("word_table", encoder.words), "ids"]),
                     node("Gather", [const("position_table", encoder.positions), "positions"])])
    x = layer_norm(node("Add", [x, const("segment", encoder.segment)]), *encoder.norm, "embed")
    heads = const("heads", np.array([0, 0, 3, 12, 32], np.int64))
    width = const("width", np.array([0, 0, 384], np.int64))
    scale = const("scale", np.array(1 / 32 ** 0.5, np.float32))
    which = [const(f"part{i}", np.array(i, np.int64)) for i in range(3)]
    for i, w in enumerate(encoder.layers):
        qkv = dense(x, w["qkv"], w["qkv_bias"], f"layer{i}.qkv")
        parts = node("Transpose", [node("Reshape", [qkv, heads])], perm=[2, 0, 3, 1, 4])
        q, k, v = (node("Gather", [parts, part], axis=0) for part in which)
        scores = node("Mul", [node("MatMul", [q, node("Transpose", [k], perm=[0, 1, 3, 2])]),
                              scale])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), width])
        x = layer_norm(node("Add", [x, dense(context, w["out"], w["out_bias"], f"layer{i}.out")]),
                       *w["norm1"], f"layer{i}.norm1")
        up = node("Gelu", [dense(x, w["up"], w["up_bias"], f"layer{i}.up")], approximate="tanh")
        x = layer_norm(node("Add", [x, dense(up, w["down"], w["down_bias"], f"layer{i}.down")]),
                       *w["norm2"], f"layer{i}.norm2")
    nodes.append(helper.make_node("ReduceMean", [x, const("tokens", np.array([1], np.int64))],
                                  ["pooled"], name="pooled", keepdims=0))
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(name, TensorProto.INT64, [1, "L"])
         for name in ("ids", "positions")],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 384])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)],
                              producer_name="shared.model.minilm_graph")
    onnx.checker.check_model(model)
    return model


def quantized_bytes(encoder) -> bytes:
    """The graph with its weight products quantized to 8 bits per output column (the
    attention's own products, which have no weights, stay float32)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = float_graph(encoder)
    attention = [n.name for n in model.graph.node if n.op_type == "MatMul"
                 and not n.input[1].startswith("layer")]
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "quantized.onnx"
        logging.disable(logging.WARNING)  # its advice to pre-process would reach the notebooks
        try:
            quantize_dynamic(model, target, weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True,
                             nodes_to_exclude=attention)
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()


def cached_path() -> Path:
    """Where the quantized graph is kept, named by its pinned SHA-256."""
    return storage.user_cache_folder() / _cached_name()


def _cached_name() -> str:
    return f"minilm-int8-{QUANTIZED_SHA256[:12]}.onnx"


def checked_graph(encoder) -> bytes:
    """The quantized graph, from the cache when its bytes are the pinned ones, else built (and
    cached: ``storage.user_cached``); a build that differs from the pin is refused."""

    def pinned(data: bytes) -> bytes | None:
        return data if hashlib.sha256(data).hexdigest() == QUANTIZED_SHA256 else None

    def build() -> tuple[bytes, bytes]:
        data = quantized_bytes(encoder)
        digest = hashlib.sha256(data).hexdigest()
        if digest != QUANTIZED_SHA256:
            raise GraphBuildError(
                f"the quantized encoder built here has SHA-256 {digest}, not the pinned "
                f"{QUANTIZED_SHA256}: onnx or onnxruntime is not the version in "
                "requirements.lock; run `make install`")
        return data, data

    return storage.user_cached(_cached_name(), pinned, build)


@functools.cache
def session(encoder) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session of the quantized graph, one thread a call."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(checked_graph(encoder), options,
                                        providers=["CPUExecutionProvider"])
