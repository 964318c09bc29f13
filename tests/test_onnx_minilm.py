"""OnnxMiniLM: same vectors as sentence-transformers, order kept, export cached and reused.

The export (torch -> ONNX -> int8) takes ~10 s here, so these tests are not marked slow.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from storyline.config import EmbedConfig
from storyline.enrich.embed import DIM, Embedder, model_path
from storyline.enrich.onnx_minilm import OnnxMiniLM, cache_root, onnx_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "The central bank raised interest rates by half a percentage point on Tuesday.",
    "Floods swept through the coastal town after three days of rain, killing at least 12 people.",
    "Shares in the carmaker fell 8% after it cut its sales forecast for the year.",
    "Protesters gathered outside parliament to oppose the new pension reform.",
    "The striker scored twice as the home side came back to win 3-2.",
    "Officials said the wildfire had burned more than 40,000 acres and was 20% contained.",
    "A magnitude 6.1 earthquake struck off the coast early Sunday; no tsunami warning was issued.",
    "The president signed the infrastructure bill into law at a White House ceremony.",
    "Researchers reported that the new vaccine was 91 percent effective in a late-stage trial.",
    "Talks between the union and the airline broke down, and pilots will strike on Friday.",
    "Police arrested two men in connection with the jewellery store robbery.",
    "Oil prices climbed to their highest level in seven months amid supply worries.",
    "The Senate rejected the nominee by a vote of 51 to 49.",
    "Storm.",
    "Ceasefire holds",
    "Election results delayed",
    "The company, which employs about 3,000 people in the region, said it would close two "
    "factories next year and move production abroad, blaming rising energy costs, weak demand "
    "in Europe and new tariffs; unions called the decision a betrayal and promised to fight it "
    "in court and on the street, while the regional government said it would seek a buyer.",
    "Le gouvernement a annoncé de nouvelles mesures contre l'inflation.",
    "Q3 GDP: +0.4% q/q, beating consensus (0.2%); unemployment steady at 5.1%.",
    "In a statement late on Thursday, the ministry of health confirmed 214 new cases of the "
    "virus, bringing the total this month to more than 1,900, and urged residents to avoid "
    "crowded indoor places over the holiday weekend.",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("storyline-cache")


@pytest.fixture(scope="module")
def config():
    return EmbedConfig(backend="onnx", max_tokens=128, batch_size=4, threads=2)


@pytest.fixture(scope="module")
def onnx_model(cache_dir, config):
    model = OnnxMiniLM(model_path(), config, cache_dir=cache_dir)
    assert model.exported  # fresh cache: this instance made the file
    return model


@pytest.fixture(scope="module")
def torch_vectors(config):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_path()), device="cpu")
    st.max_seq_length = config.max_tokens
    return st.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)


def test_matches_sentence_transformers(onnx_model, torch_vectors):
    vectors = onnx_model.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.98, cosines
    # Each sentence's nearest torch vector is its own.
    assert (np.argmax(vectors @ torch_vectors.T, axis=1) == np.arange(len(SENTENCES))).all()


def test_fp32_export_matches_closely(cache_dir, config, torch_vectors):
    fp32 = OnnxMiniLM(model_path(), config, quantize=False, cache_dir=cache_dir)
    cosines = (fp32.encode(SENTENCES) * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines


def test_order_preserved_with_mixed_lengths(onnx_model):
    # Long and short texts interleaved; batch_size=4 means length sorting crosses batches.
    texts = [SENTENCES[i] for i in (16, 13, 19, 14, 0, 15, 17, 6, 18, 2)]
    batched = onnx_model.encode(texts)
    singles = np.vstack([onnx_model.encode([t]) for t in texts])
    # Dynamic int8 scales depend on the batch, so rows agree closely, not bit for bit.
    assert (batched * singles).sum(axis=1).min() >= 0.98
    assert (np.argmax(batched @ singles.T, axis=1) == np.arange(len(texts))).all()


def test_truncation_to_max_tokens(onnx_model):
    long_text = " ".join(SENTENCES)  # well past 128 tokens
    encoding = onnx_model.tokenizer.encode(long_text)
    assert len(encoding.ids) == onnx_model.max_tokens
    assert onnx_model.encode([long_text]).shape == (1, DIM)


def test_shorter_budget_per_call(onnx_model, cache_dir, config):
    """``encode(texts, max_tokens)`` reads what a model truncating there reads: the article vectors'
    lead budget (``lead_tokens``) without a second model."""
    long_text = " ".join(SENTENCES)
    other_tail = " ".join(SENTENCES[:5] + SENTENCES[:4:-1])  # same first 64 word pieces, then not
    assert onnx_model.tokenizer.encode(long_text).ids[:63] == onnx_model.tokenizer.encode(other_tail).ids[:63]
    short = OnnxMiniLM(model_path(), EmbedConfig(backend="onnx", max_tokens=64, batch_size=4, threads=2),
                       cache_dir=cache_dir)
    assert np.array_equal(onnx_model.encode([long_text], 64), short.encode([long_text]))
    assert np.array_equal(onnx_model.encode([long_text], 64), onnx_model.encode([other_tail], 64))
    assert not np.array_equal(onnx_model.encode([long_text]), onnx_model.encode([other_tail]))
    # never past the model's own budget; short texts are untouched
    assert np.array_equal(onnx_model.encode([long_text], 4096), onnx_model.encode([long_text]))
    assert np.array_equal(onnx_model.encode(SENTENCES[:1], 64), onnx_model.encode(SENTENCES[:1]))


def test_torch_backend_same_budget(torch_vectors):
    """The reference backend takes the same per-call budget and keeps its own setting."""
    embedder = Embedder(EmbedConfig(backend="torch", max_tokens=128))
    long_text = " ".join(SENTENCES)
    short = embedder.encode([long_text], 64)
    assert embedder._load().max_seq_length == 128
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model_path()), device="cpu")
    st.max_seq_length = 64
    expected = st.encode([long_text], normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(short, expected, atol=1e-5)
    assert float((embedder.encode([long_text]) * short).sum()) < 0.999  # 128 pieces read more


def test_empty_list(onnx_model):
    out = onnx_model.encode([])
    assert out.shape == (0, DIM) and out.dtype == np.float32


def test_cache_reused(onnx_model, cache_dir, config):
    path = onnx_path(model_path(), True, cache_dir)
    assert path == onnx_model.path and path.exists()
    mtime = path.stat().st_mtime_ns
    again = OnnxMiniLM(model_path(), config, cache_dir=cache_dir)
    assert not again.exported
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock", path.name]


def test_failed_export_leaves_nothing(tmp_path, monkeypatch):
    """A crash mid-export (here: in quantisation) leaves no model file and no temp files."""
    from storyline.enrich import onnx_minilm

    def half_written(model_dir, out):
        out.write_bytes(b"\x08\x07partial onnx")

    def crash(src, dst):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(onnx_minilm, "_export_fp32", half_written)
    monkeypatch.setattr(onnx_minilm, "_quantize", crash)
    dst = onnx_path(model_path(), True, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        onnx_minilm.export(model_path(), dst, quantize=True)
    assert not dst.exists()
    assert [p.name for p in dst.parent.iterdir()] == [".lock"]


def test_cached_load_needs_no_torch(onnx_model, cache_dir):
    code = (
        "import sys\n"
        "from storyline.config import EmbedConfig\n"
        "from storyline.enrich.embed import model_path\n"
        "from storyline.enrich.onnx_minilm import OnnxMiniLM\n"
        "m = OnnxMiniLM(model_path(), EmbedConfig(), cache_dir=sys.argv[1])\n"
        "assert not m.exported\n"
        "assert m.encode(['hello world']).shape == (1, 384)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'transformers' not in sys.modules, 'transformers imported'\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", code, str(cache_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_cache_root_env(monkeypatch, tmp_path):
    monkeypatch.setenv("STORYLINE_CACHE", str(tmp_path))
    assert cache_root() == tmp_path
    assert onnx_path(model_path()).parent.parent == tmp_path / "onnx"
    assert onnx_path(model_path(), True) != onnx_path(model_path(), False)


def test_embedder_uses_onnx(onnx_model, cache_dir, monkeypatch, torch_vectors):
    monkeypatch.setenv("STORYLINE_CACHE", str(cache_dir))
    embedder = Embedder(EmbedConfig(backend="onnx", max_tokens=128))
    vectors = embedder.encode(SENTENCES[:5])
    assert embedder.backend == "onnx"
    assert (vectors * torch_vectors[:5]).sum(axis=1).min() >= 0.98
