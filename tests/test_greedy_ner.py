"""The vectorised greedy NER decoder (enrich.greedy_ner) against spaCy's own: same entities."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyline.enrich import nlp
from storyline.enrich.greedy_ner import GreedyNER

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _spacy_ents(docs):
    ner = nlp.load_nlp().get_pipe("ner")
    return [[(e.start, e.end, e.label_) for e in d.ents] for d in ner.pipe(docs)]


def _fresh(texts):
    return list(nlp.load_nlp().tokenizer.pipe(texts))


@pytest.mark.skipif(not EXAMPLES.exists(), reason="no seeds")
def test_same_entities_as_spacy_on_the_seeds():
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    pieces = [piece for t in texts for _off, piece in nlp.chunks(t)]
    ours = GreedyNER(nlp.load_nlp().get_pipe("ner"))(_fresh(pieces))
    theirs = _spacy_ents(_fresh(pieces))
    assert ours == theirs
    assert sum(map(len, ours)) > 100


def test_edge_docs_in_one_batch():
    texts = [
        "", "Macron", "Paris", "  ", "Emmanuel Macron met Keir Starmer\n\n in Paris.",
        "Olaf\n Scholz", "The European Union and NATO met on Monday, 17 February 2025 in Paris, France.",
        "Trump " * 30,
    ]
    ours = GreedyNER(nlp.load_nlp().get_pipe("ner"))(_fresh(texts))
    assert ours == _spacy_ents(_fresh(texts))
    assert ours[0] == []


def test_entities_do_not_cross_a_preset_sentence_start():
    texts = ["Yesterday Emmanuel Macron spoke with Keir Starmer in Paris about Ukraine and Russia."] * 2
    docs, reference = _fresh(texts), _fresh(texts)
    for d in (docs[1], reference[1]):
        for i in range(len(d)):
            d[i].is_sent_start = i in (0, 2, 6)  # "Emmanuel | Macron", "Keir | Starmer" split
    ours = GreedyNER(nlp.load_nlp().get_pipe("ner"))(docs)
    assert ours == _spacy_ents(reference)
    assert ours[0] != ours[1]
    assert all(not (s < 2 < e or s < 6 < e) for s, e, _lab in ours[1])


def test_docs_with_preset_entities_go_through_spacys_decoder():
    from spacy.tokens import Span

    texts = ["Emmanuel Macron met Keir Starmer in Paris.", "Emmanuel Macron met Keir Starmer in Paris."]
    docs = _fresh(texts)
    docs[1].set_ents([Span(docs[1], 3, 5, label="ORG")], default="missing")  # "Keir Starmer" as ORG
    ours = GreedyNER(nlp.load_nlp().get_pipe("ner"))(docs)
    assert (3, 5, "ORG") in ours[1] and (3, 5, "ORG") not in ours[0]


@pytest.mark.skipif(not EXAMPLES.exists(), reason="no seeds")
def test_token_vectors_made_once_per_distinct_token_are_the_models():
    """The embedding part runs once per distinct token of the batch: the token vectors are the
    model's own, bit for bit, in every Doc (repeats, a one-token Doc, whitespace)."""
    import numpy as np

    from storyline.enrich.greedy_ner import _DistinctTokenEmbed

    texts = [p.read_text(encoding="utf-8")[:2000] for p in sorted(EXAMPLES.glob("*.txt"))]
    texts += ["Trump", "Trump Trump  Trump\n\nTrump", "n't don't can't U.S. U.S"]
    tok2vec = nlp.load_nlp().get_pipe("ner").model.get_ref("tok2vec")
    distinct = _DistinctTokenEmbed(tok2vec)
    assert distinct._parts is not None  # en_core_web_sm's layout: the fast path runs
    docs = _fresh(texts)
    assert np.array_equal(distinct(docs), tok2vec.predict(docs))


def test_token_vectors_fall_back_to_the_model_for_another_layout():
    from thinc.api import Relu, chain

    from storyline.enrich.greedy_ner import _DistinctTokenEmbed

    other = chain(Relu(4, 4), Relu(4, 4))
    assert _DistinctTokenEmbed(other)._parts is None
