"""The NER's context encoder run as int8 arithmetic on onnxruntime.

en_core_web_sm's NER reads token vectors from its own tok2vec, whose context part is a CNN: four
residual blocks of (each token beside its two neighbours, 288 inputs) -> maxout (96 x 3 pieces)
-> layer norm. Those four 288 x 288 matrix products are ~half of all enrichment time on news
(``bench/enrich_speed.py``), and float32 OpenBLAS is already near this CPU's peak for them.
Here the same weights run as an ONNX graph built from them (no export step, no other model
file) whose products are 8-bit integer ones (``MatMulInteger``, VNNI on CPUs that have it):

- weights: int8 in 7 bits (``WEIGHT_MAX``), one scale per output column (symmetric);
- inputs: uint8, one scale per token row (zero point 128), from the largest magnitude among the
  token and its two neighbours. A row's scale depends on that row alone, never on the rest of
  the batch, so a token's vector (and an article's entities) is the same whichever articles it
  is batched with, unlike ``quantize_dynamic``'s one scale per batch;
- the maxout, layer norm and residual sums stay float32.

Against float32: entity spans agree at 0.998-0.999 (precision and recall) on the dev sets and the
synthetic corpus, for about half the NER time (README, "Entities, quotes and timelines").
``Int8Encoder.build`` returns None for a tok2vec laid out otherwise; the caller then keeps the
model's own float32 layers.

The graph is cached as ``$STORYLINE_CACHE/onnx/ner-int8-<key>.onnx`` (see ``onnx_minilm.cache_root``),
the key hashing the weights and ``GRAPH_VERSION``: building it needs the ``onnx`` package, whose
import alone takes 0.7 s, paid by every enrichment process otherwise.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from storyline.enrich.onnx_minilm import cache_root

OPSET = 18
PAD_ROWS = 1  # the window: one token each side
GRAPH_VERSION = 3  # bump when the graph changes: old cache files are then ignored
# Weights in 7 bits (as onnxruntime's reduce_range): on x86 CPUs without VNNI, the u8 x s8 kernel
# adds pairs of products into 16 bits (vpmaddubsw), which 255 * 127 * 2 would overflow.
WEIGHT_MAX = 63.0


def _blocks(encode) -> list[tuple[object, object]] | None:
    """(maxout, layernorm) of each residual block of ``with_array(residual(expand_window >>
    maxout >> layernorm >> dropout) >> ...)``, or None for another layout."""
    if encode.name.split("(")[0] != "with_array" or len(encode.layers) != 1:
        return None
    found: list[tuple[str, object]] = []

    def walk(layer) -> None:
        if layer.name in ("expand_window", "maxout", "layernorm", "dropout"):
            found.append((layer.name, layer))
            return
        for sub in layer.layers:
            walk(sub)

    walk(encode.layers[0])
    names = [n for n, _ in found]
    if not names or names != ["expand_window", "maxout", "layernorm", "dropout"] * (len(names) // 4):
        return None
    blocks = []
    for i in range(0, len(found), 4):
        window, maxout, norm = found[i][1], found[i + 1][1], found[i + 2][1]
        n_out, n_in = maxout.get_dim("nO"), maxout.get_dim("nI")
        if window.attrs.get("window_size") != PAD_ROWS or n_in != 3 * n_out:
            return None
        blocks.append((maxout, norm))
    return blocks


def encoder_graph(encode, int8: bool = True):
    """The context encoder as an ``onnx.ModelProto`` (input ``X``, output ``Y``: (rows, width)
    float32, the Docs flattened as thinc's ``with_array`` does), or None for another layout.
    ``int8=False`` builds the same graph with float32 products (tests check it against thinc)."""
    blocks = _blocks(encode)
    if blocks is None:
        return None
    from onnx import TensorProto, helper, numpy_helper

    nodes: list = []
    consts: list = []

    def const(name: str, value) -> str:
        consts.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    pads, start0, end2, start2 = const("pads", i64(1, 0, 1, 0)), const("s0", i64(0)), const("e2", i64(-2)), const("s2", i64(2))
    end, axis0, axis1 = const("end", i64(2**62)), const("axis0", i64(0)), const("axis1", i64(1))
    flat = const("flat", i64(-1))
    tiny, q127, zp = const("tiny", np.float32(1e-12)), const("q127", np.float32(127.0)), const("zp", np.uint8(128))

    def shifted(x: str, tag: str) -> tuple[str, str]:
        """Rows t-1 and t+1 of ``x`` for every row t (zeros past the ends)."""
        padded = node("Pad", [x, pads], f"{tag}.pad")
        return node("Slice", [padded, start0, end2, axis0], f"{tag}.prev"), node("Slice", [padded, start2, end, axis0], f"{tag}.next")

    x = "X"
    for k, (maxout, norm) in enumerate(blocks):
        n_out, pieces, n_in = maxout.get_dim("nO"), maxout.get_dim("nP"), maxout.get_dim("nI")
        # columns piece-major (piece x out), so that the maxout is an elementwise Max of slices
        perm = np.arange(n_out * pieces).reshape(n_out, pieces).T.ravel()
        weights = maxout.get_param("W").reshape(n_out * pieces, n_in).T[:, perm]  # (in, piece x out)
        bias = const(f"b{k}", maxout.get_param("b").reshape(-1)[perm])
        prev, nxt = shifted(x, f"x{k}")
        window = node("Concat", [prev, x, nxt], f"win{k}", axis=1)  # [t-1 | t | t+1], as seq2col
        if int8:
            col_scale = np.maximum(np.abs(weights).max(axis=0), 1e-12) / WEIGHT_MAX
            w_q = const(f"Wq{k}", np.round(weights / col_scale).astype(np.int8))
            # a window row's scale: the largest |value| of its three tokens
            row_max = node("ReduceMax", [node("Abs", [x], f"abs{k}"), axis1], f"rmax{k}", keepdims=1)
            rp, rn = shifted(row_max, f"rmax{k}")
            scale = node("Div", [node("Max", [rp, row_max, rn, tiny], f"wmax{k}"), q127], f"rscale{k}")
            scale_1d = node("Reshape", [scale, flat], f"rscale1d{k}")
            zps = node("Expand", [zp, node("Shape", [scale_1d], f"rows{k}")], f"zps{k}")
            q = node("QuantizeLinear", [window, scale_1d, zps], f"q{k}", axis=0)
            acc = node("Cast", [node("MatMulInteger", [q, w_q, zp], f"acc{k}")], f"accf{k}", to=TensorProto.FLOAT)
            product = node("Mul", [node("Mul", [acc, scale], f"deq{k}"), const(f"cs{k}", col_scale.astype(np.float32))], f"mm{k}")
        else:
            product = node("MatMul", [window, const(f"W{k}", np.ascontiguousarray(weights))], f"mm{k}")
        parts = [f"piece{k}_{p}" for p in range(pieces)]
        nodes.append(helper.make_node("Split", [node("Add", [product, bias], f"pre{k}")], parts, axis=1, num_outputs=pieces))
        best = node("Max", parts, f"maxout{k}")
        normed = node("LayerNormalization", [best, const(f"G{k}", norm.get_param("G")), const(f"B{k}", norm.get_param("b"))],
                      f"norm{k}", axis=-1, epsilon=1e-8)  # thinc's layernorm: var + 1e-8
        x = node("Add", [x, normed], f"res{k}")
    nodes.append(helper.make_node("Identity", [x], ["Y"]))
    width = blocks[0][0].get_dim("nO")
    graph = helper.make_graph(
        nodes, "ner_context_encoder",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, width])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, width])],
        consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    return model


def _cache_key(blocks, int8: bool) -> str:
    digest = hashlib.sha256(f"{GRAPH_VERSION}:{OPSET}:{int8}".encode())
    for maxout, norm in blocks:
        for layer, name in ((maxout, "W"), (maxout, "b"), (norm, "G"), (norm, "b")):
            param = np.ascontiguousarray(layer.get_param(name))
            digest.update(str(param.shape).encode() + param.tobytes())
    return digest.hexdigest()[:16]


def cached_graph(encode, int8: bool = True, cache_dir: Path | None = None, replace: bool = False) -> bytes | None:
    """The serialised ``encoder_graph``, read from the cache or built and written there (atomically:
    a concurrent process or a kill never leaves a half-written file; ``replace``: written even when
    a file is there); None for another layout."""
    blocks = _blocks(encode)
    if blocks is None:
        return None
    root = (Path(cache_dir) if cache_dir is not None else cache_root()) / "onnx"
    path = root / f"ner-{'int8' if int8 else 'fp32'}-{_cache_key(blocks, int8)}.onnx"
    if not replace:
        try:
            return path.read_bytes()
        except OSError:
            pass
    data = encoder_graph(encode, int8).SerializeToString()
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=root, prefix=".ner-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:  # a read-only cache: built again next time
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return data


# Tokens per session run: a batch's activations (~0.3 MB a thousand tokens per layer) then stay in
# the core's cache; one run over a 128-Doc batch (~36k tokens) took 1.4x as long. Every row's
# scale depends on its own token and neighbours only, so slicing changes no output bit.
SLICE_TOKENS = 2048


def _threads() -> int:
    """One in an enrichment worker (its pool sets ``OMP_NUM_THREADS=1``: one worker per core), else
    as many as BLAS would use: float32 NER in the main process ran on OpenBLAS's threads."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(os.cpu_count() or 1, 4))


class Int8Encoder:
    """``encode.predict`` for a list of (tokens, width) arrays, on onnxruntime."""

    def __init__(self, encode, model: bytes) -> None:
        import onnxruntime as ort

        self._ops = encode.ops
        self._pad = int(encode.attrs.get("pad", 0))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads()
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy waits between batches
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

    @classmethod
    def build(cls, encode, int8: bool = True, cache_dir: Path | None = None) -> Int8Encoder | None:
        """The encoder for thinc layer ``encode``, or None when its layout is not the expected one
        or the graph's output is not close to thinc's on a probe input (a damaged cache file is
        replaced by a fresh graph first)."""
        if _blocks(encode) is None:
            return None
        probe = [np.random.default_rng(0).standard_normal((n, encode.get_dim("nO"))).astype(np.float32) for n in (1, 7)]
        want = encode.predict(probe)
        for fresh in (False, True):
            try:
                out = cls(encode, cached_graph(encode, int8, cache_dir, replace=fresh))
                got = out.predict(probe)
            except Exception:  # noqa: BLE001 - onnxruntime's errors for an unreadable model vary
                continue
            if all(w.shape == g.shape and np.abs(w - g).max() <= 0.25 for w, g in zip(want, got)):
                return out
        return None

    def predict(self, vectors: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        start = 0
        while start < len(vectors):  # Docs in slices of about SLICE_TOKENS tokens (at least one Doc)
            end, tokens = start + 1, len(vectors[start])
            while end < len(vectors) and tokens + len(vectors[end]) <= SLICE_TOKENS:
                tokens += len(vectors[end])
                end += 1
            out.extend(self._run(vectors[start:end]))
            start = end
        return out

    def _run(self, vectors: list[np.ndarray]) -> list[np.ndarray]:
        lengths = np.array([len(v) for v in vectors], dtype=np.int32)
        flat = self._ops.flatten(vectors, pad=self._pad)  # as thinc's with_array: same edges
        (out,) = self._session.run(None, {"X": np.ascontiguousarray(flat, dtype=np.float32)})
        return self._ops.unflatten(out, lengths, pad=self._pad)
