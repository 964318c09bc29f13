"""An event title an editor would accept.

1. The articles' own headlines (site suffixes removed), the one closest to the event's summary.
2. Without headlines (plain text inputs): a headline-like line near the top of a text.
3. Else a headline written from the most central summary sentence: its subject, main verb in the
   present tense and object or first place phrase, with dates, appositions and clauses dropped
   (spaCy's parse of one to three sentences).
Never "Untitled" and never a lead cut at a character count.
"""

from __future__ import annotations

import re

import numpy as np

from storyline.enrich.nlp import load_parser
from storyline.records import Article
from storyline.synthesize.sentences import is_headline_like, words
from storyline.synthesize.support import EventIndex, content_stems

MAX_HEADLINES = 8  # headlines embedded to pick the title (large events: a lexical prefilter first)

_SITE_SUFFIX = re.compile(r"\s+[|\-–—:]\s+[^|\-–—:]{2,40}$")
_WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
             "today", "yesterday", "tonight", "tomorrow", "week", "weekend", "month", "year"}
_SUBORDINATE = re.compile(
    r"(In|On|At|While|After|Before|As|When|With|Despite|Although|Though|Because|If|During|Since|For|"
    r"Amid|Following|Under|By|From|To)\b"
)
_SAY = {"say", "tell", "state", "add", "announce", "report", "write", "note", "warn", "claim"}
_IRREGULAR_3SG = {"be": "is", "have": "has", "do": "does", "go": "goes", "say": "says"}


def clean_headline(title: str) -> str:
    t = " ".join(title.split())
    m = _SITE_SUFFIX.search(t)
    if m and len(words(t[: m.start()])) >= 4:
        t = t[: m.start()]
    return t.strip(" .")


def acceptable(title: str) -> bool:
    n = len(words(title))
    return 3 <= n <= 18 and not title.endswith(("...", "…")) and not title.isupper()


def _prune(tok, drop=("appos", "relcl", "acl", "advcl", "punct", "cc", "prep", "parataxis", "npadvmod")):
    """Tokens of tok's subtree, leaving out the subtrees of children with a dep in ``drop``; an
    infinitive completing a noun ("the first president to recognise ...") and a preposition inside
    a proper name ("Centers for Disease Control") are kept."""
    keep = [tok]
    for ch in tok.children:
        if ch.dep_ == "acl" and any(c.dep_ == "aux" and c.lower_ == "to" for c in ch.children):
            keep.extend(_prune(ch, tuple(d for d in drop if d != "prep")))
        elif ch.dep_ == "prep" and tok.pos_ == "PROPN" and any(
            c.dep_ == "pobj" and c.pos_ == "PROPN" for c in ch.children
        ):
            keep.extend(ch.subtree)
    keep_ids = {t.i for t in keep}
    nominal = tok.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj", "conj", "compound", "poss")
    for ch in tok.children:
        if ch.dep_ in ("cc", "conj") and nominal and tok.pos_ in ("NOUN", "PROPN"):
            keep.extend(_prune(ch, drop))
            continue
        if ch.dep_ == "punct" and ch.text in ("-", "–") and ch.i > tok.i - 2:
            keep.append(ch)
            continue
        if ch.i in keep_ids or ch.dep_ in drop:
            continue
        if ch.dep_ == "conj":
            continue
        keep.extend(_prune(ch, drop))
    return keep


def _is_temporal(prep) -> bool:
    objs = [c for c in prep.children if c.dep_ == "pobj"]
    return any(o.ent_type_ in ("DATE", "TIME") or o.lower_ in _WEEKDAYS for o in objs)


def _present(verb, subject) -> str:
    if verb.tag_ != "VBD":
        return verb.text
    lemma = verb.lemma_.lower() or verb.text
    plural = subject is not None and (subject.tag_ in ("NNS", "NNPS") or any(c.dep_ == "conj" for c in subject.children))
    if plural or (subject is not None and subject.lower_ in ("they", "we", "i", "you")):
        return "are" if lemma == "be" else lemma
    if lemma in _IRREGULAR_3SG:
        return _IRREGULAR_3SG[lemma]
    if re.search(r"(s|sh|ch|x|z|o)$", lemma):
        return lemma + "es"
    if re.search(r"[^aeiou]y$", lemma):
        return lemma[:-1] + "ies"
    return lemma + "s"


def headline_from_sentence(sentence: str, max_words: int = 13) -> str | None:
    nlp = load_parser()
    if nlp is None:
        return None
    doc = nlp(sentence)
    sent = next(iter(doc.sents))
    root = sent.root
    if root.pos_ not in ("VERB", "AUX") or root.lemma_.lower() in _SAY:
        return None
    subj = next((c for c in root.children if c.dep_ in ("nsubj", "nsubjpass")), None)
    if subj is None or subj.pos_ == "PRON":
        return None
    deps = {c.dep_ for c in root.children}
    if "ccomp" in deps and not deps & {"dobj", "xcomp", "attr"}:
        return None  # "X reiterates that ...": the content is in the clause, not a headline
    toks = _prune(subj)
    verb_toks = [c for c in root.children if c.dep_ in ("aux", "auxpass", "neg", "prt") and c.i > subj.i]
    toks.extend(verb_toks)
    rest = []
    for ch in sorted(root.children, key=lambda t: t.i):
        if ch.i < root.i:
            continue
        if ch.dep_ in ("dobj", "attr", "acomp", "oprd"):
            with_pp = _prune(ch, ("appos", "relcl", "acl", "advcl", "punct", "cc", "parataxis", "npadvmod"))
            rest.extend(with_pp if len(with_pp) <= 8 else _prune(ch))
        elif ch.dep_ == "xcomp":
            rest.extend(_prune(ch, drop=("appos", "relcl", "acl", "advcl", "punct", "cc", "parataxis", "npadvmod")))
        elif ch.dep_ in ("prep", "agent") and not _is_temporal(ch) and len(rest) < 6:
            pp = _prune(ch, drop=("appos", "relcl", "acl", "advcl", "punct", "cc", "parataxis", "npadvmod"))
            rest.extend(t for t in pp if not (t.dep_ == "prep" and _is_temporal(t)))
    if not any(t.pos_ in ("NOUN", "PROPN") for t in rest) or (rest and rest[0].dep_ == "prep" and
                                                              any(t.tag_.startswith("W") for t in rest[:3])):
        return None
    rest_ids = set()
    for t in rest:  # drop temporal prepositional phrases nested in kept ones
        if t.dep_ == "prep" and _is_temporal(t):
            rest_ids |= {x.i for x in t.subtree}
    rest = [t for t in rest if t.i not in rest_ids]
    has_aux = bool(verb_toks)
    verb_text = root.text if has_aux else _present(root, subj)
    ordered = sorted(set(toks), key=lambda t: t.i)
    subj_text = " ".join(t.text for t in ordered if t not in verb_toks)
    aux_text = " ".join(t.text for t in sorted(verb_toks, key=lambda t: t.i) if t.dep_ != "prt")
    prt = " ".join(t.text for t in verb_toks if t.dep_ == "prt")
    rest_text = " ".join(t.text for t in sorted(set(rest), key=lambda t: t.i))
    parts = [subj_text, aux_text, verb_text, prt, rest_text]
    text = " ".join(p for p in parts if p)
    text = re.sub(r"\s+([,.;:’'”)])", r"\1", text).replace("“ ", "“").replace(" ’s", "’s").replace(" 's", "'s")
    text = re.sub(r"\s+-\s+", "-", text)
    text = re.sub(r"([$£€])\s+", r"\1", text).replace("( ", "(").replace(" )", ")")
    text = re.sub(r"\s*\([^)]*\)", "", text)  # parentheticals: (CDC), (D-Calif.)
    w = text.split()
    if len(w) > max_words:  # too long: keep subject and verb and cut the tail at a phrase boundary
        head = len(subj_text.split()) + len(aux_text.split()) + 1 + len(prt.split())
        if head > max_words - 2:
            return None
        text = " ".join(w[:max_words])
        text = re.sub(r"\s+(?:the|a|an|of|to|in|on|at|for|and|with|by|from|its|their|his|her)$", "", text, flags=re.I)
    text = re.sub(r"(\s+\S+[’']s)+$", "", text).strip(" ,;:")
    if len(text.split()) < 4:
        return None
    return text[:1].upper() + text[1:]


def event_title(articles: list[Article], idx: EventIndex, summary: list[dict], encode) -> str:
    """Pick or write the event's title (see module doc)."""
    heads = []
    for a in articles:
        if a.title and a.title.strip():
            t = clean_headline(a.title)
            if acceptable(t):
                heads.append(t)
    if not heads:  # headline-like lines near the top of plain texts
        for a in articles:
            lines = [ln.strip() for ln in (a.text or "").splitlines() if ln.strip()]
            for ln in lines[:4]:
                t = clean_headline(ln)
                if is_headline_like(ln) and len(words(t)) >= 5 and acceptable(t):
                    heads.append(t)
                    break
    if heads:
        heads = list(dict.fromkeys(heads))
        if len(heads) == 1:
            return heads[0]
        if len(heads) > MAX_HEADLINES:  # large events: embed only the headlines closest in words
            ref_stems = content_stems(" ".join(s["text"] for s in summary))
            share = [len(content_stems(h) & ref_stems) / (len(content_stems(h)) or 1) for h in heads]
            keep = sorted(sorted(range(len(heads)), key=lambda i: (-share[i], i))[:MAX_HEADLINES])
            heads = [heads[i] for i in keep]
        ref = _summary_vector(idx, summary)
        vecs = _encode(idx, encode, heads)
        score = vecs @ ref - 0.004 * np.array([abs(len(words(h)) - 10) for h in heads])
        return heads[int(np.argmax(score))]
    # write candidates from the summary's sentences and keep the one closest to the summary
    cands: list[str] = []
    for item in summary[:5]:
        h = headline_from_sentence(item["text"])
        if h and acceptable(h) and h not in cands:
            cands.append(h)
    if cands:
        if len(cands) == 1:
            return cands[0]
        ref = _summary_vector(idx, summary)
        vecs = _encode(idx, encode, cands)
        fit = np.array([1.0 if 6 <= len(words(c)) <= 12 else 0.0 for c in cands])
        return cands[int(np.argmax(vecs @ ref + 0.05 * fit))]
    # last resort: a longer written headline, a whole short sentence, or a sentence's main clause
    for item in summary:
        h = headline_from_sentence(item["text"], max_words=16)
        if h and acceptable(h):
            return h
    for item in summary:
        if acceptable(item["text"].rstrip(".")):
            return item["text"].rstrip(".")
    for item in summary:
        clause = re.split(r",|;| — | – ", item["text"])[0].strip().rstrip(".")
        if (acceptable(clause) and len(words(clause)) >= 4 and not _SUBORDINATE.match(clause)
                and clause[:1].isupper() and " said" not in clause):
            return clause
    if summary:
        return " ".join(summary[0]["text"].split()[:12]).rstrip(",;:")
    return next((s.text for s in idx.sentences), "")


def _encode(idx: EventIndex, encode, texts: list[str]) -> np.ndarray:
    """Through the event index's memo when it has one: a headline already embedded is not again."""
    if getattr(idx, "encode", None) is not None:
        return idx.encode_texts(texts)
    return np.asarray(encode(texts), dtype=np.float32)


def _summary_vector(idx: EventIndex, summary: list[dict]) -> np.ndarray:
    texts = {s.text: i for i, s in enumerate(idx.sentences)}
    rows = [texts[s["text"]] for s in summary if s["text"] in texts]
    v = idx.vectors[rows].mean(axis=0) if rows else idx.vectors.mean(axis=0)
    return v / (np.linalg.norm(v) + 1e-9)
