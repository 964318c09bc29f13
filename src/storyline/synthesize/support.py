"""Does an article support a sentence? A cheap semantic check over pre-computed embeddings.

An article supports a sentence when one of its sentences (or two neighbours read together) says the
same thing: high embedding cosine, the sentence's content words mostly present, every number of the
sentence present in the article and no name of the sentence missing from it. All inputs are computed
once per event (see ``EventIndex``), so a check is a few numpy operations.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import dataclass, field

import numpy as np

from storyline.synthesize.sentences import _JUNK, Sentence, article_sentences, words

STOP = frozenset(
    """a an the and or but if of to in on at by for with from as into onto over under about after
    before than then that this these those there here is are was were be been being has have had do
    does did will would shall should can could may might must not no nor so too very just also only
    it its it's he she they them their his her him we us our you your i me my mine who whom whose
    which what when where why how all any both each few more most other some such own same again
    further once while during up down out off s t said says say told tell according mr mrs ms dr
    one ones new last next week year years day days monday tuesday wednesday thursday friday
    saturday sunday yesterday today tomorrow""".split()
)
_DAYS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"})
_NUMWORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "hundred": 100, "dozen": 12,
}
_NUM = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
_SUFFIXES = ("ingly", "edly", "ments", "ment", "ness", "ings", "ing", "ies", "ied", "ed", "es", "s", "ly")

SPELLING = {  # British/American and name spellings that should not count as differences
    "defence": "defense", "favour": "favor", "favourable": "favorable", "neighbour": "neighbor",
    "programme": "program", "centre": "center", "labour": "labor", "organisation": "organization",
    "zelenskyy": "zelensky", "zelenskiy": "zelensky", "u.s.": "us", "u.s": "us", "u.k.": "uk",
    "u.k": "uk", "e.u.": "eu", "u.n.": "un", "pete": "peter",
}


@lru_cache(maxsize=65536)
def norm_token(tok: str) -> str:
    t = tok.lower().strip(".'’-")
    t = re.sub(r"['’]s$", "", t)
    return SPELLING.get(t, t)


@lru_cache(maxsize=65536)
def stem(tok: str) -> str:
    t = norm_token(tok)
    for suf in _SUFFIXES:
        if t.endswith(suf) and len(t) - len(suf) >= 3:
            return t[: -len(suf)]
    return t


@lru_cache(maxsize=131072)
def _content_stem(w: str) -> str:
    """The stem of a content word, "" for a stop word or a single character."""
    return "" if len(w) <= 1 or norm_token(w) in STOP else stem(w)


def content_stems(text: str) -> set[str]:
    out = {_content_stem(w) for w in words(text)}
    out.discard("")
    return out


def numbers(text: str) -> set[str]:
    """Numbers a sentence states (digits and small number words), normalised to digits."""
    out = {m.group(1).replace(",", "") for m in _NUM.finditer(text)}
    for w in words(text):
        v = _NUMWORDS.get(w.lower())
        if v is not None:
            out.add(str(v))
    return {x[:-2] if x.endswith(".0") else x for x in out}


_NAME = re.compile(r"\b([A-Z][a-zA-Z’'\-]+(?:\s+(?:[A-Z][a-zA-Z’'\-]+|de|von|der|van|al|bin))*)")


def name_tokens(text: str) -> set[str]:
    """Capitalised tokens not at the start of the sentence: names, places, organisations."""
    toks = [p for w in words(text) for p in re.split(r"[-–]", w) if p]
    out = set()
    for i, w in enumerate(toks):
        if i == 0 or not w[:1].isupper():
            continue
        t = norm_token(w)
        if (t in STOP and t not in _DAYS) or len(t) < 3:
            continue
        out.add(t)
    return out


# How many sentences of an event are embedded (issue 4: a cold 50-article event in under a second
# on 2 cores). Events up to this size embed every sentence (the AllSides and ECB+ dev events, the
# seeds: 128 sentences); larger ones embed each article's lead window, chosen round-robin over the
# articles (every article's 1st useful sentence, then every 2nd, ...) until the budget is spent:
# news is an inverted pyramid. The rest of each article is kept for lexical rules and for a lazy,
# lexically prefiltered support check (see ``prepare_lazy_support``).
MAX_EMBEDDED_SENTENCES = 160
MAX_EMBEDDED_TITLES = 16  # headlines embedded for the headline-similarity score of large events
MAX_LAZY_SENTENCES = 48  # sentences outside the window embedded on demand to check a citation


def _norm_key(text: str) -> str:
    """Identical and near-identical sentences (case, punctuation, spacing) share one embedding."""
    return " ".join(re.sub(r"[^\w$%]+", " ", text.lower()).split())


def _useful(text: str) -> bool:
    """Worth embedding in a large event: could be a summary sentence or a fact (5+ words)."""
    return len(words(text)) >= 5 and not _JUNK.search(text)


@dataclass
class EventIndex:
    """Every sentence of an event's articles with its embedding and lexical features.

    ``sentences``/``vectors`` are the embedded sentences (all of them for events up to
    ``MAX_EMBEDDED_SENTENCES``), each article's rows contiguous and in reading order.
    ``all_sentences`` starts with ``sentences`` (same row numbers) and goes on with the sentences
    left out of the embedding, for the lexical rules (names, titles, quotations) and lazy support."""

    article_ids: list[str]
    sentences: list[Sentence]
    vectors: np.ndarray  # (n_sentences, d), L2-normalised
    by_article: dict[str, np.ndarray] = field(default_factory=dict)  # article id -> sentence rows
    stems: list[set[str]] = field(default_factory=list)
    nums: list[set[str]] = field(default_factory=list)
    names: list[set[str]] = field(default_factory=list)
    article_text_stems: dict[str, set[str]] = field(default_factory=dict)
    article_nums: dict[str, set[str]] = field(default_factory=dict)
    article_names: dict[str, set[str]] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)  # the articles' headlines, when given
    title_vectors: np.ndarray | None = None
    all_sentences: list[Sentence] = field(default_factory=list)
    all_stems: list[set[str]] = field(default_factory=list)
    article_all_rows: dict[str, list[int]] = field(default_factory=dict)  # rows of all_sentences, reading order
    article_words: dict[str, int] = field(default_factory=dict)
    article_stem_pos: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # stem -> positions
    windowed: bool = False  # True when some sentences were left out of the embedding
    encode: object = None
    memo: dict[str, np.ndarray] = field(default_factory=dict)  # normalised text -> vector
    lazy: dict[str, list[tuple[int, np.ndarray]]] = field(default_factory=dict)  # aid -> (all-row, vector)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` through the event's memo: each distinct normalised text once."""
        keys = [_norm_key(t) for t in texts]
        todo: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k not in self.memo and k not in todo:
                todo[k] = t
        if todo:
            vecs = np.asarray(self.encode(list(todo.values())), dtype=np.float32)
            self.memo.update(zip(todo, vecs))
        if not texts:
            return np.zeros((0, self.vectors.shape[1] if self.vectors.ndim == 2 else 384), np.float32)
        return np.stack([self.memo[k] for k in keys])

    @classmethod
    def build(
        cls, texts: dict[str, str], encode, titles: list[str] | None = None, *,
        max_sentences: int | None = None, max_titles: int | None = None,
    ) -> "EventIndex":
        """One batched ``encode`` call for the embedded sentences (and headlines) of the event.
        ``max_sentences`` (default ``MAX_EMBEDDED_SENTENCES``; 0: no limit) bounds the sentences
        embedded; a larger event embeds each article's lead window (``_lead_window``)."""
        max_sentences = MAX_EMBEDDED_SENTENCES if max_sentences is None else max_sentences
        max_titles = MAX_EMBEDDED_TITLES if max_titles is None else max_titles
        per_article = {aid: article_sentences(aid, text) for aid, text in texts.items()}
        total = sum(len(v) for v in per_article.values())
        windowed = max_sentences > 0 and total > max_sentences
        if windowed:
            keep = _lead_window(per_article, max_sentences)
        else:
            keep = {(aid, s.index) for aid, ss in per_article.items() for s in ss}
        sents = [s for aid in texts for s in per_article[aid] if (aid, s.index) in keep]
        rest = [s for aid in texts for s in per_article[aid] if (aid, s.index) not in keep]
        titles = [t for t in dict.fromkeys(titles or []) if t and t.strip()]
        if windowed and len(titles) > max_titles:
            titles = _central_titles(titles, max_titles)
        idx = cls(list(texts), sents, np.zeros((0, 384), np.float32))
        idx.encode, idx.windowed = encode, windowed
        batch = [s.text for s in sents] + titles
        vecs = idx.encode_texts(batch) if batch else np.zeros((0, 384), np.float32)
        idx.vectors = vecs[: len(sents)]
        idx.titles = titles
        idx.title_vectors = vecs[len(sents) :] if titles else None
        rows: dict[str, list[int]] = {a: [] for a in texts}
        for i, s in enumerate(sents):
            rows[s.article_id].append(i)
        idx.by_article = {a: np.array(r, dtype=int) for a, r in rows.items()}
        idx.all_sentences = sents + rest
        idx.all_stems = [content_stems(s.text) for s in idx.all_sentences]
        idx.stems = idx.all_stems[: len(sents)]
        idx.nums = [numbers(s.text) for s in sents]
        idx.names = [name_tokens(s.text) for s in sents]
        order: dict[str, list[int]] = {a: [] for a in texts}
        for i, s in enumerate(idx.all_sentences):
            order[s.article_id].append(i)
        for a, text in texts.items():
            r = sorted(order[a], key=lambda i: idx.all_sentences[i].index)
            idx.article_all_rows[a] = r
            idx.article_text_stems[a] = set().union(*(idx.all_stems[i] for i in r)) if r else set()
            idx.article_nums[a] = numbers(text)
            ws = words(text)
            idx.article_words[a] = len(ws)
            idx.article_names[a] = {
                norm_token(p) for w in ws for p in (re.split(r"[-–]", w) if ("-" in w or "–" in w) else (w,))
                if p[:1].isupper()
            }
            pos: dict[str, list[int]] = {}
            for k, i in enumerate(r):
                for w in idx.all_stems[i]:
                    pos.setdefault(w, []).append(k)
            idx.article_stem_pos[a] = pos
        return idx

    # -------------------------------------------------------------- beyond the lead window
    def best_window(self, article_id: str, stems: set[str], outside_only: bool = False) -> tuple[float, list[int]]:
        """(share of ``stems`` in the best window of 3 consecutive sentences of the article, the rows
        of that window in all_sentences). ``outside_only``: windows holding a non-embedded sentence."""
        r = self.article_all_rows.get(article_id, [])
        if not stems or not r:
            return 0.0, []
        pos = self.article_stem_pos[article_id]
        hits: dict[int, set[str]] = {}
        for w in stems:
            for k in pos.get(w, ()):
                hits.setdefault(k, set()).add(w)
        n_emb = len(self.sentences)
        best, best_rows = 0.0, []
        for start in sorted({max(0, k - d) for k in hits for d in (0, 1, 2)}):
            win = r[start : start + 3]
            if outside_only and all(i < n_emb for i in win):
                continue
            got = set().union(*(hits.get(k, set()) for k in range(start, start + len(win))))
            share = len(got) / len(stems)
            if share > best:
                best, best_rows = share, win
        return best, best_rows

    def add_lazy(self, rows: list[int]) -> None:
        """Embed sentences of all_sentences outside the window (one call) for support checks."""
        n_emb = len(self.sentences)
        rows = [i for i in dict.fromkeys(rows) if i >= n_emb
                and all(i != j for j, _ in self.lazy.get(self.all_sentences[i].article_id, []))]
        if not rows:
            return
        vecs = self.encode_texts([self.all_sentences[i].text for i in rows])
        for i, v in zip(rows, vecs):
            self.lazy.setdefault(self.all_sentences[i].article_id, []).append((i, v))


def _lead_window(per_article: dict[str, list[Sentence]], budget: int) -> set[tuple[str, int]]:
    """Round-robin over the articles: each one's next useful sentence until ``budget`` distinct
    texts are chosen; a sentence identical to a chosen one (wire copy) comes free."""
    cursor = {aid: 0 for aid in per_article}
    keep: set[tuple[str, int]] = set()
    seen: set[str] = set()
    while len(seen) < budget and cursor:
        for aid in list(cursor):
            ss, k = per_article[aid], cursor[aid]
            while k < len(ss) and not _useful(ss[k].text):  # usefulness checked only this deep
                k += 1
            if k >= len(ss):
                del cursor[aid]
                continue
            cursor[aid] = k + 1
            key = _norm_key(ss[k].text)
            if key not in seen and len(seen) >= budget:
                continue
            seen.add(key)
            keep.add((aid, ss[k].index))
    return keep


def _central_titles(titles: list[str], k: int) -> list[str]:
    """The k headlines sharing most content words with the others (a lexical centroid)."""
    stems = [content_stems(t) for t in titles]
    df: dict[str, int] = {}
    for st in stems:
        for w in st:
            df[w] = df.get(w, 0) + 1
    score = [sum(df[w] - 1 for w in st) / (len(st) or 1) for st in stems]
    order = sorted(range(len(titles)), key=lambda i: (-score[i], i))[:k]
    return [titles[i] for i in sorted(order)]


@dataclass(slots=True)
class SupportConfig:
    # chosen on allsides-dev (bench/summaries.py) and the seeds, never on test data
    cos_strong: float = 0.85  # a close paraphrase: supported if numbers and names agree
    cos_mid: float = 0.65  # needs lexical_mid of the content words in the aligned passage
    cos_min: float = 0.58  # needs lexical_min; below this no sentence says the same thing
    lexical_mid: float = 0.50
    lexical_min: float = 0.65
    passage_sentences: int = 3  # the aligned passage: this many most similar sentences
    passage_cos: float = 0.45  # ... each at least this close


def support_score(
    idx: EventIndex, vec: np.ndarray, stems: set[str], nums: set[str], names: set[str], article_id: str,
    cfg: SupportConfig | None = None,
) -> tuple[bool, float]:
    """(supported, best cosine) of a sentence against one article of the event."""
    cfg = cfg or SupportConfig()
    rows = idx.by_article.get(article_id)
    lazy = idx.lazy.get(article_id)
    if (rows is None or len(rows) == 0) and not lazy:
        return False, 0.0
    sims = idx.vectors[rows] @ vec
    stem_rows = [idx.stems[i] for i in rows]
    if lazy:  # sentences beyond the lead window, embedded on demand
        sims = np.concatenate([sims, np.array([float(v @ vec) for _, v in lazy], dtype=np.float32)])
        stem_rows += [idx.all_stems[i] for i, _ in lazy]
    order = np.argsort(-sims)
    best = float(sims[order[0]])
    if best < cfg.cos_min:
        return False, best
    if nums and not nums <= idx.article_nums[article_id]:
        return False, best
    if names - idx.article_names[article_id]:
        return False, best  # a name, place or weekday the article never mentions
    if best >= cfg.cos_strong:
        return True, best
    passage: set[str] = set()
    for k in order[: cfg.passage_sentences]:
        if sims[k] >= cfg.passage_cos:
            passage |= stem_rows[k]
    lex = len(stems & passage) / max(len(stems), 1)
    if best >= cfg.cos_mid:
        return lex >= cfg.lexical_mid, best
    return lex >= cfg.lexical_min, best


def article_max_sims(idx: EventIndex, vec: np.ndarray) -> dict[str, float]:
    """Best cosine of ``vec`` to each article's sentences (one matrix-vector product)."""
    sims = idx.vectors @ vec
    return {a: float(sims[r].max()) if len(r) else 0.0 for a, r in idx.by_article.items()}


def article_max_matrix(idx: EventIndex, rows) -> np.ndarray:
    """(len(rows), n_articles): best cosine of each row's sentence to each article's sentences.
    One matrix product; the index keeps each article's sentences contiguous."""
    rows = np.asarray(rows, dtype=int)
    out = np.zeros((len(rows), len(idx.article_ids)), dtype=np.float32)
    if len(rows) == 0 or len(idx.sentences) == 0:
        return out
    sims = idx.vectors[rows] @ idx.vectors.T
    nonempty = [k for k, a in enumerate(idx.article_ids) if len(idx.by_article[a])]
    starts = [int(idx.by_article[idx.article_ids[k]][0]) for k in nonempty]
    out[:, nonempty] = np.maximum.reduceat(sims, starts, axis=1)
    return out


def prepare_lazy_support(idx: EventIndex, rows, cfg: SupportConfig | None = None) -> None:
    """Large events embed only each article's lead window. Before citing ``rows`` (the summary's
    sentences), embed the few sentences beyond the window that could support one of them: an
    article whose text holds the sentence's numbers and names, and half of its content words
    within 3 consecutive sentences (the lexical side of the support rule), when its lead window
    does not support it already. At most ``MAX_LAZY_SENTENCES`` per event, best overlap first."""
    if not idx.windowed:
        return
    cfg = cfg or SupportConfig()
    n_emb = len(idx.sentences)
    cands: list[tuple[float, int]] = []
    for r in rows:
        s, st, nums, names = idx.sentences[r], idx.stems[r], idx.nums[r], idx.names[r]
        if not st:
            continue
        for aid in idx.article_ids:
            if aid == s.article_id or (nums and not nums <= idx.article_nums[aid]) or names - idx.article_names[aid]:
                continue
            if len(st & idx.article_text_stems[aid]) < cfg.lexical_mid * len(st):
                continue
            share, win = idx.best_window(aid, st, outside_only=True)
            if share < cfg.lexical_mid:
                continue
            if support_score(idx, idx.vectors[r], st, nums, names, aid, cfg)[0]:
                continue  # the lead window supports it already
            outside = sorted((i for i in win if i >= n_emb), key=lambda i: -len(idx.all_stems[i] & st))
            cands.extend((share, i) for i in outside[:2])
    cands.sort(key=lambda c: -c[0])
    idx.add_lazy(list(dict.fromkeys(i for _, i in cands))[:MAX_LAZY_SENTENCES])


def supporting_articles(
    idx: EventIndex, sentence_row: int, cfg: SupportConfig | None = None
) -> list[str]:
    """Ids of all articles that support sentence ``sentence_row`` of the index (its own first)."""
    cfg = cfg or SupportConfig()
    s = idx.sentences[sentence_row]
    out = [s.article_id]
    vec = idx.vectors[sentence_row]
    best = article_max_sims(idx, vec)
    for aid in idx.article_ids:
        if aid == s.article_id or (best[aid] < cfg.cos_min and aid not in idx.lazy):
            continue
        ok, _ = support_score(
            idx, vec, idx.stems[sentence_row], idx.nums[sentence_row], idx.names[sentence_row], aid, cfg
        )
        if ok:
            out.append(aid)
    return out
