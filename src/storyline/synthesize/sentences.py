"""Sentence splitting and light sentence hygiene shared by the synthesis modules.

A regex splitter (no model): news prose with abbreviations (U.S., Gen., Feb., Mr.), quotes and
initials. Fast enough for thousands of sentences per call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "lt", "col", "capt", "sgt", "rep", "sen", "gov", "st",
    "jr", "sr", "inc", "ltd", "co", "corp", "vs", "no", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "u.n", "e.u", "d.c", "a.m", "p.m",
    "fig", "approx", "est", "dept", "univ", "adm", "gov", "pres", "rev", "mt", "ft", "e.g", "i.e",
    "etc", "al", "n.y", "l.a",
}

# candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace, then an
# opening quote/bracket or a capital/digit
_BOUNDARY = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-\.]*")

_JUNK = re.compile(
    r"(sign up|subscribe|newsletter|breaking news alerts|all rights reserved|contributed to this"
    r"|contributed (reporting|to (this|the) )|click here|read more|follow us|\bphoto\b.*\b(ap|getty|reuters)\b|"
    r"\(ap photo|cookie|advertisement|copyright|©)",
    re.I,
)


@dataclass(slots=True)
class Sentence:
    text: str
    article_id: str
    index: int  # position among the article's sentences
    position: float  # index / number of sentences (0 = lead)
    paragraph_start: bool = False


def _is_abbrev(before: str) -> bool:
    tok = before.rsplit(None, 1)[-1] if before.strip() else ""
    tok = tok.lstrip("\"'“‘(").rstrip(".").lower()
    if not tok:
        return False
    if tok in _ABBREV:
        return True
    if len(tok) == 1 and tok.isalpha():  # an initial: "J. D. Vance"
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", tok))  # U.S, D.C


def split_sentences(text: str) -> list[str]:
    """Split a text into sentences; paragraph breaks always end a sentence."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\s*[\"“*A-Z0-9])", text):
        para = " ".join(para.split())
        if not para:
            continue
        start = 0
        for m in _BOUNDARY.finditer(para):
            end = m.end(2)
            if m.group(1) == "." and not m.group(2) and _is_abbrev(para[start : m.start(1)]):
                # "U.S. President" keeps going, but "in the U.S. The" ends: an abbreviation that is
                # followed by a capitalised common word starting a clause is ambiguous; keep it whole.
                continue
            piece = para[start:end].strip()
            if piece:
                out.append(piece)
            start = m.end(3)
        tail = para[start:].strip()
        if tail:
            out.append(tail)
    return out


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def is_truncated(sentence: str) -> bool:
    s = sentence.rstrip()
    return s.endswith("...") or s.endswith("…") or not re.search(r"[.!?\"”’)]$", s)


def is_headline_like(line: str) -> bool:
    """A short line with most words capitalised and no final period: a title or a crosshead."""
    w = words(line)
    if not (3 <= len(w) <= 20) or line.rstrip().endswith((".", ",", ";", ":")):
        return False
    content = [x for x in w if len(x) > 3]
    if not content:
        return False
    caps = sum(1 for x in content if x[0].isupper())
    return caps / len(content) >= 0.7


def is_good_sentence(sentence: str, *, min_words: int = 6, max_words: int = 70) -> bool:
    """Fit to stand in a summary: complete, prose, not boilerplate."""
    n = len(words(sentence))
    if n < min_words or n > max_words:
        return False
    if is_truncated(sentence) or _JUNK.search(sentence):
        return False
    if sentence.lstrip().startswith(("*", "•", "-", "|")):
        return False
    first = sentence.lstrip("\"'“‘( ")[:1]
    if first and first.islower():
        return False
    if sentence.count("“") != sentence.count("”") or sentence.count('"') % 2 == 1:
        return False  # a quotation spanning sentences: reads badly alone
    return True


def article_sentences(article_id: str, text: str) -> list[Sentence]:
    parts = split_sentences(text)
    n = max(len(parts), 1)
    return [Sentence(t, article_id, i, i / n) for i, t in enumerate(parts)]


_DANGLING = re.compile(r"^(?:[\"“‘']?)(He|She|They|His|Her|Their)\b")
_PRONOUN_CUE = re.compile(r"[,”\"]\s*(he|she|they) (said|says|told|added|wrote|insisted|warned)\b")


def is_standalone(sentence: str) -> bool:
    """Readable without the sentence before it: no leading pronoun, no quote said by 'she'."""
    return not (_DANGLING.search(sentence) or _PRONOUN_CUE.search(sentence))
