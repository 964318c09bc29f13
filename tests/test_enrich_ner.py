"""NER over windows around possible names (enrich.nlp.run_ner): the same names as reading every
sentence, less text read, offsets into the original text, malformed text bounded."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import pytest

from storyline.enrich import nlp
from storyline.enrich.entities import TYPE_OF_LABEL

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _names(spans):
    return Counter((t, lab) for _s, _e, lab, t in spans if lab in TYPE_OF_LABEL)


def test_windows_around_capitalised_words_only():
    text = ("the talks went on for hours and nobody said much about them at all until late in the day "
            "when Keir Starmer arrived in Paris on Monday and the talks went on for hours again")
    wins = nlp.windows(text, 3)
    assert len(wins) == 1
    a, b = wins[0]
    assert text[a:b] == "the day when Keir Starmer arrived in Paris on Monday and"  # "Monday" opens none
    assert not nlp.windows("The talks went on. But nobody said much. It was late.", 3)  # function words


@pytest.mark.skipif(not EXAMPLES.exists(), reason="no seeds")
def test_windowed_ner_finds_the_names_of_full_ner():
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    full = nlp.run_ner(texts, window=None)
    win = nlp.run_ner(texts, window=nlp.WINDOW_WORDS)
    tp = fp = fn = 0
    for t, a, b in zip(texts, full, win):
        for s, e, _lab, surface in b:
            assert t[s:e] == surface  # offsets into the original text
        ka, kb = _names(a), _names(b)
        tp += sum((ka & kb).values())
        fp += sum((kb - ka).values())
        fn += sum((ka - kb).values())
    assert tp / (tp + fp) >= 0.97 and tp / (tp + fn) >= 0.97


def test_windowed_ner_reads_less_text():
    text = ("Officials said the plan would take years to carry out and cost more than expected, and "
            "that the work would start soon after the budget was approved by the council. " * 5
            + "Mayor Anne Hidalgo said Paris would pay for it.")
    seen: list[str] = []
    original = nlp._ner_pieces

    def spy(pieces, n, batch_size, **kw):
        seen.extend(p for _i, p, _w in pieces)
        return original(pieces, n, batch_size, **kw)

    nlp._ner_pieces = spy
    try:
        spans = nlp.run_ner([text])[0]
    finally:
        nlp._ner_pieces = original
    assert sum(len(p) for p in seen) < len(text) / 2
    assert ("Anne Hidalgo", "PERSON") in {(t, lab) for _s, _e, lab, t in spans}


@pytest.mark.parametrize("text", [
    "Name " * 8_000,  # every word a candidate: one window longer than a Doc piece
    "word " * 40_000 + "Keir Starmer said so",  # no sentence punctuation
    "“" * 5_000 + "Macron" + "”" * 5_000,
])
def test_windowed_ner_malformed_text_bounded(text):
    t0 = time.perf_counter()
    out = nlp.run_ner([text])
    assert time.perf_counter() - t0 < 30.0
    for s, e, _lab, surface in out[0]:
        assert text[s:e] == surface


@pytest.mark.skipif(not EXAMPLES.exists(), reason="no seeds")
def test_openblas_ops_give_the_entities_of_thincs_default_ops():
    import spacy
    from thinc.api import NumpyOps, get_current_ops

    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    ours = nlp.load_nlp()
    assert type(ours.get_pipe("ner").model.ops).__name__ == "OpenBlasOps"
    assert type(get_current_ops()) is NumpyOps  # the caller's ops are restored after loading
    plain = spacy.load(nlp.MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    assert type(plain.get_pipe("ner").model.ops) is NumpyOps

    def ents(model):
        return [[(e.start_char, e.end_char, e.label_) for e in d.ents] for d in model.pipe(texts)]

    assert ents(ours) == ents(plain)
    assert sum(map(len, ents(ours))) > 50


def test_sentence_end_pattern_finds_what_testing_every_position_found():
    """SENTENCE_END reads its abbreviation look-behinds only at a mark: the same sentence ends as
    the pattern that tested them before every character (kept here as the reference), for
    nlp's runs and for timexes' one-newline variant."""
    import re

    from storyline.enrich.timexes import _BOUND

    reference = (
        r"(?<![A-Z])(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|vs))(?<!\bMrs)(?<!\b(?:Gen|Sen|Rep|Gov|Jan|Feb|Mar|Apr|Jun|Jul|"
        r"Aug|Sep|Oct|Nov|Dec))(?<!Sept)[.!?][\"”’)]*\s+(?=[A-Z“\"‘])"
    )
    texts = [
        "Mr. Smith met Dr. Jones. Mrs. Brown left! Gen. Patton? Sept. 5 came. In Feb. 2020 the U.S. Army "
        "went.\n\n\nJ.D. Vance spoke.  “Yes.” He said.) Then (it) ended. vs. Them. St. Louis. Jr. Sr. OK.",
        "A.\nB!\n\nC?  \"D.\" ‘E’. “F”.\t\tG. Apr. May. Sep. x. Y", "", "...", "\n", "no end here",
    ]
    texts += [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    for pattern, newline in ((nlp.SENTENCE_END, r"|\n+"), (_BOUND, r"|\n")):
        old = re.compile(reference + newline)
        for text in texts:
            assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in old.finditer(text)], text


def test_batches_bound_docs_and_characters_and_keep_order():
    pieces = [(i, "x" * size, []) for i, size in enumerate([10, 50, 45, 5, 100, 1, 1])]
    batches = list(nlp._batches(pieces, batch_size=3, batch_chars=60))
    assert [p for b in batches for p in b] == pieces
    assert [[p[0] for p in b] for b in batches] == [[0, 1], [2, 3], [4], [5, 6]]  # a piece past the bound alone
    assert [len(b) for b in nlp._batches(pieces, batch_size=3, batch_chars=10**6)] == [3, 3, 1]


@pytest.mark.skipif(not EXAMPLES.exists(), reason="no seeds")
def test_entities_do_not_depend_on_how_pieces_are_batched():
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    pieces = nlp._pack([(i, nlp.windows(t)) for i, t in enumerate(texts)], texts)
    one = nlp._ner_pieces(pieces, len(texts), batch_size=10_000, batch_chars=10**9)
    many = nlp._ner_pieces(pieces, len(texts), batch_size=3, batch_chars=2_500)
    assert one == many and sum(map(len, one)) > 50


def _reference_windows(text, a, b, k):
    """Windows as first written: a match per word, then the same merge (the code it replaced)."""
    words = [(m.start(), m.end(), m.group()) for m in re.compile(r"\S+").finditer(text, a, b)]
    kl, kr = (k, k) if isinstance(k, int) else k
    out, last = [], -1
    for i, (_s, _e, w) in enumerate(words):
        if not nlp._is_candidate(w):
            continue
        lo, hi = max(0, i - kl), min(len(words) - 1, i + kr)
        if out and lo <= last + 1:
            out[-1] = (out[-1][0], words[hi][1])
        else:
            out.append((words[lo][0], words[hi][1]))
        last = hi
    return out


@pytest.mark.parametrize("k", [3, 0, (1, 4)])
def test_word_windows_are_the_reference_ones(k):
    texts = ["", "   ", "Paris", "  Paris  ", "the talks in Paris\n\n went on; Macron  and Starmer met.\t",
             "no names here at all", "Mr Keir Starmer said. The EU (NATO) met “Trump” on Monday in May"]
    if EXAMPLES.exists():
        texts += [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    for t in texts:
        for a, b in [(0, len(t)), (len(t) // 3, len(t)), (0, len(t) // 2)]:
            assert nlp._word_windows(t, a, b, k) == _reference_windows(t, a, b, k), (t[:40], a, b)
