"""The NER's context encoder as an int8 onnxruntime graph (enrich.ner_int8) against thinc's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from storyline.enrich import nlp
from storyline.enrich.greedy_ner import GreedyNER
from storyline.enrich.ner_int8 import Int8Encoder, encoder_graph

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
pytestmark = pytest.mark.skipif(not EXAMPLES.exists(), reason="no seeds")


def _texts() -> list[str]:
    return [piece for p in sorted(EXAMPLES.glob("*.txt")) for _off, piece in nlp.chunks(p.read_text(encoding="utf-8"))]


def _encoder_and_inputs():
    """thinc's context encoder and its inputs for the seeds' pieces (one array per Doc)."""
    ner = nlp.load_nlp().get_pipe("ner")
    tok2vec = ner.model.get_ref("tok2vec")
    body = tok2vec.layers[0]
    embed, encode = body.layers
    docs = list(nlp.load_nlp().tokenizer.pipe(_texts() + ["Macron", "Trump Trump  Trump\n\nTrump"]))
    return encode, embed.predict(docs)


def test_float_graph_is_thincs_encoder():
    """The same graph with float32 products gives thinc's vectors: the layout is read right."""
    encode, vectors = _encoder_and_inputs()
    graph = Int8Encoder.build(encode, int8=False)
    assert graph is not None
    for want, got in zip(encode.predict(vectors), graph.predict(vectors)):
        assert want.shape == got.shape
        assert np.abs(want - got).max() < 1e-4


def test_int8_vectors_are_close_and_do_not_depend_on_the_batch():
    encode, vectors = _encoder_and_inputs()
    int8 = Int8Encoder.build(encode)
    assert int8 is not None
    batch = int8.predict(vectors)
    for want, got in zip(encode.predict(vectors), batch):
        assert np.abs(want - got).max() < 0.2  # vectors of norm ~10; measured max 0.07
    for i in (0, len(vectors) - 1):  # each Doc alone: bit for bit what it got in the batch
        assert np.array_equal(int8.predict([vectors[i]])[0], batch[i])


def test_slicing_a_batch_changes_no_output_bit(monkeypatch):
    """The encoder runs a batch in slices of about SLICE_TOKENS tokens: one slice, one Doc per
    slice and slices in between give the same vectors bit for bit."""
    from storyline.enrich import ner_int8

    encode, vectors = _encoder_and_inputs()
    int8 = Int8Encoder.build(encode)
    outputs = []
    for limit in (10**9, 700, 1):
        monkeypatch.setattr(ner_int8, "SLICE_TOKENS", limit)
        outputs.append(int8.predict(vectors))
    assert sum(len(v) for v in vectors) > 2 * 700 and len(outputs[0]) == len(vectors)
    for other in outputs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(outputs[0], other))


def test_int8_entities_agree_with_spacys():
    ner = nlp.load_nlp().get_pipe("ner")
    tokenizer = nlp.load_nlp().tokenizer
    texts = _texts()
    exact = GreedyNER(ner)(list(tokenizer.pipe(texts)))
    fast = GreedyNER(ner, int8=True)(list(tokenizer.pipe(texts)))
    same = sum(len(set(a) & set(b)) for a, b in zip(exact, fast))
    total = sum(map(len, exact))
    assert total > 100
    assert same / total >= 0.98 and same / max(1, sum(map(len, fast))) >= 0.98
    alone = GreedyNER(ner, int8=True)(list(tokenizer.pipe(texts[:1])))
    assert alone[0] == fast[0]  # an article's entities do not depend on its batch-mates


def test_the_pipeline_runs_int8_and_other_layouts_keep_thincs_layers():
    from thinc.api import Relu, chain, with_array

    _tokenizer, ner = nlp.load_ner()
    assert nlp.INT8_CONTEXT and ner._tok2vec._context is not None
    other = with_array(chain(Relu(4, 4), Relu(4, 4)))
    assert encoder_graph(other) is None and Int8Encoder.build(other) is None


def test_graph_is_cached_and_a_damaged_file_is_replaced(tmp_path):
    encode, vectors = _encoder_and_inputs()
    first = Int8Encoder.build(encode, cache_dir=tmp_path)
    (path,) = (tmp_path / "onnx").glob("ner-int8-*.onnx")
    assert not list((tmp_path / "onnx").glob(".ner-*"))  # no temporary file left
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # cut short, as by a full disk
    again = Int8Encoder.build(encode, cache_dir=tmp_path)
    assert again is not None and path.read_bytes() == data
    assert np.array_equal(again.predict(vectors[:2])[1], first.predict(vectors[:2])[1])
