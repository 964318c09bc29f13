"""Direct quotations and who said them, by rules over the text and the NER mentions.

1. Quotation marks are paired in one linear scan per paragraph: curly and straight double marks
   (straight ones open outside a quote and close inside one), single curly marks at top level
   (British style), nested single quotes kept inside. A quote still open at the end of a
   paragraph continues when the next paragraph opens with a mark (news style for quotes running
   over paragraphs); otherwise it ends with the paragraph (``unclosed``).
2. Quote contents are masked, then sentences are cut on the masked text, so a period inside a
   quote never ends the attribution's sentence.
3. Attribution, in order: after the quote (``,” X said`` / ``,” said X`` / ``,” according to X``),
   before it (``X said: “`` / ``X told reporters that ... “`` / ``according to X, “``), a name right
   before a partial quote (``Mr Starmer “also welcomed ...”``); otherwise the speaker of the previous
   quote nearby (a quote continued after the attribution, or the next sentence of the same speech).
   ``according to Y`` beside another attribution is kept as ``relay``.
4. The speaker phrase becomes a canonical entity: a PERSON/ORG mention inside it; a pronoun resolved
   to the first person named (outside quotes) in the same or previous sentence, else the latest
   person named; a description ("the German chancellor") matched against the roles the article
   gives; a bare surname through the entity index.
5. ``partial``: the quote is embedded in the reporter's sentence (text before it in the sentence,
   not ending with ``:`` or ``,``), as in ``described it as an “electroshock”``. A quote interrupted by
   its attribution (``“A,” he said. “B.”``) is one quote made of two pieces.

Every step is linear in the text or works in windows of bounded size (quotes per article are
capped), so malformed text (marks that never close, 100,000-character paragraphs) stays fast.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from storyline.enrich.entities import (
    ROLE_NOUNS,
    EntityIndex,
    Mention,
    clean_surface,
    fold,
    strip_titles,
)

MAX_QUOTES = 400  # per article: beyond this, marks are noise
WINDOW = 300  # characters of context searched on each side of a quote

OPEN_D = "“„«"
CLOSE_D = "”»"
PRONOUNS = {"he", "she", "they", "i", "we", "it", "who"}
PERSON_PRONOUNS = {"he", "she"}

CUES = (
    "said|says|say|saying|told|tells|telling|added|adds|adding|wrote|writes|writing|asked|asks|"
    "stated|states|stating|warned|warns|warning|insisted|insists|explained|explains|noted|notes|"
    "argued|argues|claimed|claims|declared|declares|continued|continues|replied|replies|"
    "responded|responds|tweeted|tweets|posted|recalled|recalls|acknowledged|acknowledges|"
    "admitted|admits|announced|announces|remarked|observed|suggested|suggests|concluded|"
    "cautioned|urged|urges|stressed|emphasized|emphasised|emphasizing|emphasising|predicted|"
    "promised|vowed|joked|quipped|complained|countered|conceded|contended|maintained|shouted|"
    "yelled|repeated|thundered|mused|boasted|charged|testified|asserted|assured|confirmed|"
    "disclosed|described|describes|called|calls|calling|chanted|chanting|answered|answers|"
    "wondered|predicts|reported|reports|reads|read|writes|went on|pointed out|put it|shot back|"
    "fired back|added that|explained that|blasted|slammed|tweeting|posting|pledged|pleaded|"
    "demanded|lamented|fumed|scoffed|cried|exclaimed|whispered|began|begins|opined|offered|"
    "interjected|retorted|reiterated|elaborated|advised|informed|instructed|cited|quoted|"
    "texted|emailed|messaged|notes|observes|recounted|recounts|tells|jokes|insisting|"
    "arguing|adding|noting|explaining|asking|claiming|declaring|telling|writing|saying|beamed|"
    "barked|echoed|snapped|sighed|laughed|smiled|chimed|tweeted|wrote|recalling|conceding|"
    "warning|insisting|answering|replying|responding|continuing|remarking|declaring|announcing|"
    "concludes|confessed|confesses|affirms|affirmed|blared|boomed|cheered|chimed|counters|"
    "quipped|quips|jokes|muses|mused|predicts|warns|insists|replies|responds|recalls|admits|"
    "acknowledges|argues|contends|contended|observes|stresses|stressed|adds|wrote|writes"
)
CUE_RX = re.compile(r"\b(?:" + CUES + r")\b|\baccording to\b", re.I)
_ONE_WORD_CUES = frozenset(c for c in CUES.split("|") if " " not in c)


def _is_cue_word(token: str) -> bool:
    """``CUE_RX.fullmatch(token)`` for a token without spaces, as a set lookup for ASCII tokens
    (re.I also folds a few non-ASCII letters, such as the long s, into ASCII ones)."""
    if token.isascii():
        return token.lower() in _ONE_WORD_CUES
    return CUE_RX.fullmatch(token) is not None


PARTICIPLE = re.compile(r"ing$")
_SENT_END = re.compile(r"[.!?…]+[\"”’)]*\s+|\n+")
_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Gen|Sen|Rep|Gov|St|Lt|Col|Maj|Capt|Adm|Sgt|Prof|Rev|Jr|Sr|Inc|Co|Corp|"
    r"Ltd|No|vs|etc|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Ft|Mt|Gens|Reps|Sens)"
    r"|\b[A-Z]|\b(?:[A-Za-z]\.)+[A-Za-z])$"
)
_WORD = re.compile(r"[\w’'.-]+|[(),;:—–―]")
STOP_SPEAKER = {
    "that", "this", "which", "what", "there", "it’s", "it's", "is", "was", "were", "are", "be",
    "has", "had", "have", "not", "but", "and", "if", "when", "as", "so", "because", "while",
}
AUX = {"has", "had", "have", "also", "then", "later", "previously", "once", "again", "recently",
       "would", "will", "had", "did", "does", "do", "just", "further", "repeatedly", "earlier",
       "often", "even", "already", "reportedly", "simply", "quickly", "still", "never", "has",
       "could", "may", "might", "can", "should", "is", "was", "were", "being", "been", "not"}
NP_STOP = {"in", "on", "at", "after", "before", "during", "from", "to", "while", "as", "when",
           "ahead", "about", "of", "over", "via", "with", "that", "the", "last", "this", "late",
           "earlier", "recently", "told", "for", "outside", "inside", "afterward", "afterwards",
           "later", "who", "which", "and", "but", "adding", "according", "speaking", "following"}


@dataclass(slots=True)
class Quote:
    text: str  # the words inside the marks; pieces of an interrupted quote joined by " … "
    start: int  # first opening mark
    end: int  # after the last closing mark
    spans: list[tuple[int, int]] = field(default_factory=list)  # content pieces (inside marks)
    speaker: str | None = None  # canonical entity name, or the describing phrase when unresolved
    speaker_mention: str | None = None  # as written: "he", "the German chancellor", "Kellogg"
    speaker_span: tuple[int, int] | None = None
    speaker_type: str | None = None  # name / pronoun / description / inherited / None
    cue: str | None = None
    relay: str | None = None  # who relayed the words ("a Downing Street representative")
    partial: bool = False
    unclosed: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spans"] = [list(s) for s in self.spans]
        d["speaker_span"] = list(self.speaker_span) if self.speaker_span else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Quote":
        q = cls(**{k: d.get(k) for k in cls.__slots__ if k in d})
        q.spans = [tuple(s) for s in d.get("spans") or []]
        q.speaker_span = tuple(d["speaker_span"]) if d.get("speaker_span") else None
        return q

    @property
    def words(self) -> int:
        return len(self.text.split())


def normalise_marks(text: str) -> str:
    """Two apostrophes used as a double mark (''like this'') become '""', read as one mark."""
    return text.replace("''", '""') if "''" in text else text


# --- 1. pairing marks ------------------------------------------------------------------------
_MARKS = re.compile(r"[\"“”„«»‘’]")


def _is_word(c: str) -> bool:
    return c.isalnum()


def find_quote_spans(text: str) -> list[tuple[list[tuple[int, int]], bool]]:
    """Content pieces (inside the marks) of each quote, and whether it never closed."""
    out: list[tuple[list[tuple[int, int]], bool]] = []
    n = len(text)
    paras: list[tuple[int, int]] = []
    pos = 0
    for m in re.finditer(r"\n", text):
        if m.start() > pos:
            paras.append((pos, m.start()))
        pos = m.end()
    if pos < n:
        paras.append((pos, n))
    pending: list[tuple[int, int]] | None = None  # an open quote carried over a paragraph break
    for pi, (ps, pe) in enumerate(paras):
        inside = False
        qstart = 0
        single_open = -1
        if pending is not None:
            # continuation only when the paragraph opens with a mark
            first = text[ps:pe].lstrip()
            off = ps + (len(text[ps:pe]) - len(first))
            if first[:1] in OPEN_D or first[:1] == '"' or first[:1] == "‘":
                inside = True
                qstart = off + 1
                if first[:1] == "‘":
                    single_open = -2  # marker: a continuation opened with a single mark
            else:
                out.append((pending, True))
                pending = None
        for m in _MARKS.finditer(text, ps, pe):
            i = m.start()
            if len(out) >= MAX_QUOTES:
                return out
            c = text[i]
            if c == '"' and i > ps and text[i - 1] == '"':
                continue  # the second half of a doubled mark
            prev = text[i - 1] if i > ps else " "
            nxt = text[i + 1] if i + 1 < pe else " "
            if pending is not None and inside and i < qstart:
                continue
            if c in "‘’":
                if inside:
                    if single_open == -2 and c == "’" and not _is_word(nxt):
                        pieces = (pending or []) + [(qstart, i)]
                        out.append((pieces, False))
                        pending = None
                        inside = False
                        single_open = -1
                    continue  # nested single quotes stay inside
                if c == "‘" and not _is_word(prev) and (_is_word(nxt) or nxt in "'\"“"):
                    single_open = i
                elif c == "’" and single_open >= 0 and not _is_word(nxt) and not prev.isspace():
                    if i - single_open > 2:
                        out.append(([(single_open + 1, i)], False))
                    single_open = -1
                continue
            if not inside:
                opening = c in OPEN_D or c == '"' or (c in CLOSE_D and not _is_word(prev) and _is_word(nxt))
                if opening:
                    inside = True
                    qstart = i + 2 if c == '"' and text[i + 1 : i + 2] == '"' else i + 1
                    single_open = -1
                continue
            # inside a double quote
            if c in OPEN_D and qstart < i and not text[qstart:i].strip():
                qstart = i + 1  # doubled opening mark
                continue
            if c in OPEN_D:
                # a new opening mark while open: the earlier quote never closed
                out.append(((pending or []) + [(qstart, i)], True))
                pending = None
                qstart = i + 1
                continue
            pieces = (pending or []) + [(qstart, i)]
            pending = None
            if i > qstart:
                out.append((pieces, False))
            inside = False
        if inside:
            piece = (qstart, pe)
            nxt_para = paras[pi + 1] if pi + 1 < len(paras) else None
            nxt_first = text[nxt_para[0] : nxt_para[1]].lstrip()[:1] if nxt_para else ""
            if nxt_first and (nxt_first in OPEN_D or nxt_first in "\"‘") and single_open != -2:
                pending = (pending or []) + [piece]
            else:
                out.append(((pending or []) + [piece], True))
                pending = None
    if pending:
        out.append((pending, True))
    return out


# --- 2. sentences on masked text ---------------------------------------------------------------
_NOT_NEWLINE = re.compile(r"[^\n]")


def _mask(text: str, quotes: list[list[tuple[int, int]]]) -> str:
    """``text`` with every character inside the quotes' pieces but newlines replaced by "_"."""
    spans = sorted((max(0, s), min(e, len(text))) for pieces in quotes for s, e in pieces if min(e, len(text)) > max(0, s))
    out: list[str] = []
    pos = 0
    for s, e in spans:  # overlapping pieces: the part past ``pos`` only
        if e <= pos:
            continue
        s = max(s, pos)
        out.append(text[pos:s])
        out.append(_NOT_NEWLINE.sub("_", text[s:e]))
        pos = e
    out.append(text[pos:])
    return "".join(out)


_INITIAL_BEFORE = re.compile(r"(?:^|[\s(])[A-Z]$")
_TITLE_BEFORE = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Gen|Sen|Rep|Gov|St)$")
_SPACES = re.compile(r"\s+")


def _sentence_bounds(masked: str, text: str, quote_ends: set[int]) -> list[int]:
    """Sorted sentence start offsets."""
    starts = [0]
    for m in _SENT_END.finditer(masked):
        a = m.start()
        if "\n" in m.group(0):
            starts.append(m.end())
            continue
        before = masked[max(0, a - 12) : a]
        if _INITIAL_BEFORE.search(before) and masked[m.end() : m.end() + 1].isupper():
            continue  # an initial: "Kevin D. Williamson"
        if _ABBREV.search(before):
            nxt = masked[m.end() : m.end() + 1]
            if not nxt.isupper() or _TITLE_BEFORE.search(before):
                continue
        nxt = masked[m.end() : m.end() + 1]
        if nxt and (nxt.islower()):
            continue
        starts.append(m.end())
    # a quote that ends with sentence punctuation inside, followed by a capital: new sentence
    for e in quote_ends:
        j = e - 1
        while j > e - 3 and j > 0 and text[j] in "”\"’":  # '' marks are two characters here
            j -= 1
        if e < len(text) and j < e - 1 and text[j] in ".!?":
            rest = text[e : e + 3]
            m = _SPACES.match(rest)
            if m and e + m.end() < len(text):
                c = text[e + m.end()]
                if c.isupper() or c in OPEN_D or c == '"':
                    starts.append(e + m.end())
    return sorted(set(starts))


# --- 3. attribution ----------------------------------------------------------------------------
_KEEP_DOT = {"mr", "mrs", "ms", "dr", "gen", "sen", "rep", "gov", "st", "lt", "col", "maj", "capt",
             "adm", "sgt", "prof", "rev", "jr", "sr"}


def _tokens(s: str, base: int) -> list[tuple[str, int, int]]:
    out = []
    for m in _WORD.finditer(s):
        w, a, b = m.group(0), base + m.start(), base + m.end()
        if w.endswith(".") and len(w) > 1 and "." not in w[:-1] and w[:-1].lower() not in _KEEP_DOT and len(w) > 2:
            w, b = w[:-1], b - 1
        w = w.strip("-") or w
        out.append((w, a, b))
    return out


def _clean_np(toks: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    while toks and toks[-1][0].lower().strip(",") in AUX:
        toks = toks[:-1]
    while toks and toks[0][0] in {",", "—", "–", "(", ")"}:
        toks = toks[1:]
    while toks and toks[-1][0] in {",", "—", "–", "("}:
        toks = toks[:-1]
    return toks


_TIME_WORDS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today",
               "yesterday", "tonight", "earlier", "later", "recently", "week", "month", "year",
               "morning", "afternoon", "evening", "night", "last", "this", "on", "previously"}


def _strip_time_tail(toks):
    while toks and (_bare(toks[-1][0]) in _TIME_WORDS):
        toks = toks[:-1]
    return toks


def _bare(w: str) -> str:
    w = w.lower()
    for suf in ("’s", "'s"):
        if w.endswith(suf):
            w = w[: -len(suf)]
    return w


def _np_before_cue(toks: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The subject phrase right before a cue verb: back to a comma, quote, or clause word."""
    toks = _strip_time_tail(_clean_np(toks))
    toks = _clean_np(toks)
    # skip a relative clause / apposition set off by commas: "X, who joined ..., said"
    segs: list[list[tuple[str, int, int]]] = []
    cur: list[tuple[str, int, int]] = []
    for t in toks:
        if t[0] in {",", "—", "–", ";", "("}:
            segs.append(cur)
            cur = []
        elif t[0] == ")":
            segs.append([("()", t[1], t[2])])
            cur = []
        else:
            cur.append(t)
    segs.append(cur)
    segs = [s for s in segs if s and s[0][0] != "()"]
    while len(segs) >= 2 and all(t[0].isdigit() for t in segs[-1]):
        segs = segs[:-1]  # "Sarandon, 69, told MSNBC"
    # skip adjuncts set off by commas: "Starmer, aware of ..., on Sunday said"
    while len(segs) >= 2 and segs[-1][0][0][:1].islower() and _bare(segs[-1][0][0]) not in _NP_START:
        segs = segs[:-1]
    if not segs:
        return []
    seg = segs[-1]
    if seg and seg[0][0].lower() in {"who", "which", "whose"} or (
        seg and seg[0][0].lower() in {"the", "a", "an"} and len(segs) >= 2 and _has_role(seg) and _looks_name(segs[-2])
    ):
        seg = segs[-2] if len(segs) >= 2 else []
    elif len(segs) >= 2 and _looks_name(seg) is False and _has_role(seg) and _looks_name(segs[-2]):
        seg = segs[-2]
    # keep the trailing noun phrase: stop at clause words
    out: list[tuple[str, int, int]] = []
    rseg = list(reversed(seg))
    for k, t in enumerate(rseg):
        low = t[0].lower()
        if low in STOP_SPEAKER or low in {"said", "says", "told"} or (
            low in NP_STOP and not (out and t[0][:1].isupper())
        ):
            if low in {"of", "for"} and out:
                out.append(t)
                continue
            if low == "the" and out and out[-1][0][:1].isupper() and k + 1 < len(rseg) and rseg[k + 1][0].lower() in {"of", "for"}:
                out.append(t)  # "Mr. Morgan of the Sierra Club said"
                continue
            break
        out.append(t)
        if len(out) >= 10:
            break
    out.reverse()
    while out and out[0][0].lower() in {"of", "for", "and"}:
        out = out[1:]
    return out


_NP_START = {"the", "a", "an", "he", "she", "they", "we", "i", "it", "his", "her", "their", "its",
             "one", "two", "three", "several", "some", "many", "other", "another", "both", "former"}


def _has_role(seg) -> bool:
    return any(t[0].lower().strip(".,") in ROLE_NOUNS for t in seg)


def _looks_name(seg) -> bool:
    caps = [t for t in seg if t[0][:1].isupper()]
    return bool(seg) and len(caps) >= max(1, len(seg) - 2)


def _np_after_cue(toks: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """The speaker after an inverted cue: ',” said Danish Prime Minister Mette Frederiksen ahead...'."""
    out: list[tuple[str, int, int]] = []
    for i, t in enumerate(toks):
        low = t[0].lower()
        if t[0] in {",", ";", ":", "—", "–", "(", ")"}:
            break
        if low in NP_STOP and out and low not in {"of", "for"}:
            break
        if low in {"of", "for"} and out and not (i + 1 < len(toks) and toks[i + 1][0][:1].isupper()):
            break
        if t[0].endswith(".") and len(t[0]) > 2 and "." not in t[0][:-1] and t[0][:-1].lower() not in {
            "mr", "mrs", "ms", "dr", "gen", "sen", "rep", "gov", "st", "lt", "col"
        }:
            out.append((t[0][:-1], t[1], t[2] - 1))
            break
        out.append(t)
        if len(out) >= 10:
            break
    return out


@dataclass(slots=True)
class _Ctx:
    text: str
    masked: str
    mentions: list[Mention]
    index: EntityIndex
    sent_starts: list[int]
    quote_spans: list[tuple[int, int]]  # (open, close) per quote, in order
    mention_starts: list[int] = field(default_factory=list)
    mention_people: list[str | None] = field(default_factory=list)  # canonical person per mention


def _sentence_of(ctx: _Ctx, pos: int) -> tuple[int, int]:
    import bisect

    i = bisect.bisect_right(ctx.sent_starts, pos) - 1
    s = ctx.sent_starts[max(i, 0)]
    e = ctx.sent_starts[i + 1] if i + 1 < len(ctx.sent_starts) else len(ctx.text)
    return s, e


def _mentions_in(ctx: _Ctx, a: int, b: int, types=("PERSON", "ORG")) -> list[Mention]:
    """Mentions outside quotes within [a, b); "PERSON" includes mentions of a known person."""
    import bisect

    i = bisect.bisect_left(ctx.mention_starts, a)
    out = []
    while i < len(ctx.mentions) and ctx.mentions[i].start < b:
        m = ctx.mentions[i]
        if m.end <= b and not _in_quote(ctx, m.start):
            if m.type in types or ("PERSON" in types and ctx.mention_people[i]):
                out.append(m)
        i += 1
    return out


def _in_quote(ctx: _Ctx, pos: int) -> bool:
    return ctx.masked[pos : pos + 1] == "_" and ctx.text[pos : pos + 1] != "_"


def _resolve_phrase(ctx: _Ctx, np: list[tuple[str, int, int]], at: int, first: bool = False):
    """(speaker, mention_text, span, type) for a speaker phrase."""
    if not np:
        return None
    a, b = np[0][1], np[-1][2]
    phrase = ctx.text[a:b]
    ms = _mentions_in(ctx, a, b)
    people = [m for m in ms if m.type == "PERSON" or _canon(ctx, m, None)]
    pick = (people or ms)
    if pick:
        m = pick[0] if first else pick[-1]
        name = _canon(ctx, m, None)
        if name is None:
            ent = ctx.index.lookup(m.name)
            name = ent.name if ent else m.name
        return name, m.text, (m.start, m.end), "name"
    low = fold(phrase)
    if low in PRONOUNS:
        if low in PERSON_PRONOUNS or low == "i":
            ref = _resolve_pronoun(ctx, a)
            return (ref, phrase, (a, b), "pronoun")
        return (None, phrase, (a, b), "pronoun")
    # a capitalised name NER missed
    caps = [t for t in np if t[0][:1].isupper() and t[0].lower() not in {"the", "a", "an"}]
    if caps and len(caps) == len([t for t in np if t[0].lower() not in {"the", "a", "an"}]):
        name = strip_titles(clean_surface(" ".join(t[0] for t in caps)))
        ent = ctx.index.lookup(name)
        if ent is not None:
            return ent.name, phrase, (a, b), "name"
        if len(caps) <= 4:
            return name, phrase, (a, b), "name"
    ent = _resolve_description(ctx, phrase, at)
    if ent:
        return ent, phrase, (a, b), "description"
    return clean_surface(phrase) or None, phrase, (a, b), "description"


def _resolve_pronoun(ctx: _Ctx, at: int) -> str | None:
    s, _e = _sentence_of(ctx, at)
    people = [m for m in _mentions_in(ctx, s, at, ("PERSON",))]
    if people:
        return _canon(ctx, people[0])
    ps, _pe = _sentence_of(ctx, max(0, s - 1))
    people = [m for m in _mentions_in(ctx, ps, s, ("PERSON",))]
    # prefer the speaker of a quote in the previous sentence
    if people:
        return _canon(ctx, people[0])
    before = _mentions_in(ctx, max(0, at - 1500), at, ("PERSON",))
    if before:
        return _canon(ctx, before[-1])
    return None


def _canon(ctx: _Ctx, m: Mention, default: str | None = "") -> str | None:
    import bisect

    i = bisect.bisect_left(ctx.mention_starts, m.start)
    while i < len(ctx.mentions) and ctx.mentions[i].start == m.start:
        if ctx.mentions[i] is m and ctx.mention_people[i]:
            return ctx.mention_people[i]
        i += 1
    return m.name if default == "" else default


_NATION = {"american": "us", "us": "us", "u.s": "us", "u.s.": "us", "america": "us", "united": "us",
           "british": "uk", "britain": "uk", "uk": "uk", "u.k": "uk", "u.k.": "uk", "french": "franc",
           "dutch": "nethe", "german": "germa", "ukrainian": "ukrai", "russian": "russi",
           "chinese": "china", "israeli": "israe", "polish": "polan", "danish": "denma",
           "denmark": "denma", "poland": "polan", "spanish": "spain", "italian": "italy",
           "turkish": "turke", "canadian": "canad", "iranian": "iran", "saudi": "saudi"}


def _stem(w: str) -> str:
    w = fold(w).replace("'s", "").replace("’s", "")
    return _NATION.get(w.rstrip("."), w[:5])


def _resolve_description(ctx: _Ctx, phrase: str, at: int) -> str | None:
    words = [w for w in re.findall(r"[\w’'.-]+", phrase) if w.lower() not in {"the", "a", "an", "country's", "country’s"}]
    if not words or not any(w.lower().strip(".") in ROLE_NOUNS for w in words):
        return None
    need = {_stem(w) for w in words}
    best = None
    for m in _mentions_in(ctx, max(0, at - 6000), at, ("PERSON",)):
        ent = ctx.index.lookup(_canon(ctx, m), "PERSON")
        roles = ent.roles if ent else ([m.role] if m.role else [])
        for r in roles:
            have = {_stem(w) for w in re.findall(r"[\w’'.-]+", r)}
            if need <= have or (len(need) >= 2 and len(need & have) >= len(need) - 0 and need & have):
                best = ent.name if ent else m.name
    return best


def _cue_at(toks, i) -> str | None:
    t = toks[i][0]
    nxt = toks[i + 1][0].lower() if i + 1 < len(toks) else ""
    if t.lower() == "according" and nxt == "to":
        return "according to"
    if (t.lower() in {"shot", "fired", "hit", "struck"} and nxt == "back") or (
        t.lower() in {"went", "goes", "going"} and nxt == "on") or (t.lower() in {"pointed", "points"} and nxt == "out"):
        return t + " " + nxt
    if _is_cue_word(t):
        return t
    return None


def _addressee(cue: str, np) -> bool:
    """'told reporters', 'asked him': the phrase after the cue is who was spoken to."""
    w = np[0][0].lower()
    if w in {"reporters", "journalists", "me", "us", "him", "her", "them", "that", "it", "this"}:
        return True
    return cue.lower() in {"told", "tells", "telling", "asked", "asks", "asking", "informed", "urged"}


def _right_attribution(ctx: _Ctx, rtoks, qs: int):
    """',” X said' / ',” said X' / ',” according to X' / ', given ..., X said' / '.” ― X'."""
    if rtoks and rtoks[0][0] in {"―", "—", "–"} and len(rtoks) >= 2 and rtoks[1][0][:1].isupper():
        np = _np_after_cue(rtoks[1:])
        if np and all(t[0][:1].isupper() or t[0].lower() in {"de", "la", "van", "von", "of"} for t in np):
            found = _resolve_phrase(ctx, np, qs, first=True)
            if found:
                return (*found, "―")
    for i, t in enumerate(rtoks[:30]):
        cue = _cue_at(rtoks, i)
        if cue is None:
            if t[0] in {";", ":"}:
                return None
            continue
        if cue == "according to":
            np = _np_after_cue(rtoks[i + 2 :])
            found = _resolve_phrase(ctx, np, qs, first=True)
            return (*found, cue) if found else None
        before = rtoks[:i]
        if all(x[0] in {",", "—", "–"} for x in before):
            np = _np_after_cue(rtoks[i + len(cue.split()) :])
            if np and _addressee(cue, np):
                return None
            found = _resolve_phrase(ctx, np, qs, first=True)
            return (*found, cue) if found else None
        np = _np_before_cue(before)
        if not np or len(np) > 10:
            return None
        # between the quote and the speaker: nothing, or an adjunct set off by a comma
        lead = [x for x in before if x[1] < np[0][1]]
        while lead and lead[-1][0].lower() in {"the", "a", "an", "his", "her", "their", "its"}:
            lead = lead[:-1]
        if lead and not all(x[0] in {",", "—", "–"} for x in lead) and lead[-1][0] not in {",", "—", "–", ")"}:
            return None
        found = _resolve_phrase(ctx, np, qs)
        return (*found, cue) if found else None
    return None


def _left_attribution(ctx: _Ctx, ltoks, qs: int, prev: "Quote | None"):
    """'X said: “' / 'X told reporters that ... “' / 'According to X, “' / 'Mr Starmer “...'."""
    cue_i = None
    cue = None
    for i in range(len(ltoks) - 1, -1, -1):
        cue = _cue_at(ltoks, i)
        if cue:
            cue_i = i
            break
    if cue_i is None:
        ltoks2 = _clean_np(ltoks)
        if ltoks2 and len(ltoks2) <= 6 and _mentions_in(ctx, ltoks2[0][1], ltoks2[-1][2], ("PERSON",)):
            found = _resolve_phrase(ctx, ltoks2, qs)
            return (*found, None) if found else None
        if ltoks and ltoks[-1][0] == ":":
            # "Republican pollster Daron Shaw: “…" / "Trump went even further: “…"
            ms = _mentions_in(ctx, ltoks[0][1], ltoks[-1][1], ("PERSON", "ORG"))
            if ms:
                last = ms[-1]
                m = last if ctx.masked[last.end : ltoks[-1][1]].strip() == "" else ms[0]
                name = _canon(ctx, m, None) or m.name
                return (name, m.text, (m.start, m.end), "name", ":")
        return None
    if cue == "according to":
        np = _np_after_cue(ltoks[cue_i + 2 :])
        found = _resolve_phrase(ctx, np, qs, first=True)
        return (*found, cue) if found else None
    if PARTICIPLE.search(cue.lower()):
        if prev is not None and prev.speaker_type and _same_sentence(ctx, prev.end, qs):
            return (prev.speaker, prev.speaker_mention, prev.speaker_span, "inherited", cue)
        np = _np_before_cue(_first_np(ltoks[:cue_i]))
    else:
        np = _np_before_cue(ltoks[:cue_i])
    if not np and cue_i + 1 < len(ltoks):
        np = _np_after_cue(ltoks[cue_i + len(cue.split()) :])
        if np and _addressee(cue, np):
            np = []
        if np and np[-1][2] > qs:
            np = []
    if not np:
        np = _np_before_cue(_first_np(ltoks[:cue_i]))  # "Hayek confirmed ... and said, “…"
    found = _resolve_phrase(ctx, np, qs)
    return (*found, cue) if found else None


_NAMING = {"call", "calls", "called", "calling", "described", "describes", "reported", "reports",
           "read", "reads", "cited", "quoted", "posted", "posting", "began", "begins", "offered"}
_CUE_END_RX = re.compile(
    r"\b(?:" + "|".join(c for c in CUES.split("|") if c not in _NAMING) + r")"
    r"(?:\s+(?:reporters|journalists|him|her|them|us|me|back|out|on))?\s*$", re.I
)
_CUE_END_LOWER = re.compile(_CUE_END_RX.pattern)  # for lowercased ASCII text: the same matches


def _ends_with_cue(left: str) -> bool:
    """``_CUE_END_RX.search(left)``, read from the last three words only: a match spans at most
    three (a cue of one or two words and its object) and the whitespace after them. An ASCII tail
    is lowercased and searched without re.I, where re skips to a cue's first letter in C
    (searching every position of a 300-character window with re.I was a quarter of the quote stage)."""
    rest = left.rsplit(None, 3)
    start = len(left) - len(left[len(rest[0]):].lstrip()) if len(rest) == 4 else 0  # the third-last word
    tail = left[start:]
    if tail.isascii():
        return _CUE_END_LOWER.search(tail.lower()) is not None
    return _CUE_END_RX.search(left, start) is not None

_SUBORD = re.compile(r"\b(?:that|because|if|when|while|whether|how|what|why|where)\b", re.I)


def _embedded_after_cue(left: str) -> bool:
    """'said Wednesday that under Obama, “…': the quote continues a clause the reporter began."""
    last = None
    for last in CUE_RX.finditer(left):
        pass
    return last is not None and bool(_SUBORD.search(left[last.end() :]))


def _attribute(ctx: _Ctx, qs: int, qe: int, prev: "Quote | None", next_start: int):
    """Attribution of the quote whose marks span [qs, qe): a dict."""
    masked = ctx.masked
    ss, _ = _sentence_of(ctx, qs)
    if prev is not None and _same_sentence(ctx, prev.end, qs):
        ss = max(ss, prev.end)
    _s2, se = _sentence_of(ctx, max(qs, qe - 1))
    r_end = min(se, next_start, qe + WINDOW)
    left_start = max(ss, qs - WINDOW)
    left = masked[left_start:qs]
    lstrip = left.strip()
    partial = bool(lstrip) and not _ends_with_cue(left) and (
        not re.search(r"[:,—–]\s*$", left)
        or bool(re.search(r"\bthat,\s*$", left))
        or (left.rstrip().endswith(",") and (not CUE_RX.search(left) or _embedded_after_cue(left)))
    )
    partial = partial or _runs_on(ctx, qs, qe)
    rtoks = _tokens(masked[qe:r_end], qe)
    ltoks = _tokens(left, left_start)
    if partial:
        found = _left_attribution(ctx, ltoks, qs, prev) or _right_attribution(ctx, rtoks, qs)
    else:
        introduces_next = _introduces_next(ctx, qs, qe, next_start)
        found = None if introduces_next else _right_attribution(ctx, rtoks, qs)
        found = found or (_left_attribution(ctx, ltoks, qs, prev) if lstrip else None)
        if found is None and not lstrip:
            # the sentence before ends with a colon: "He said:\n\n“…”"
            win_start = max(0, qs - WINDOW)
            before = masked[win_start:qs].rstrip()
            colon = win_start + len(before)  # just after the colon
            if before.endswith(":") and (prev is None or prev.end < colon - 1):
                ps = max(_sentence_of(ctx, colon - 1)[0], win_start,
                         prev.end if prev is not None and prev.end < colon else 0)
                found = _left_attribution(ctx, _tokens(masked[ps:colon], ps), qs, prev)
        if found is None and not introduces_next and re.search(r"[.!?]$", ctx.text[qe - 2 : qe - 1]) and r_end <= qe + 2:
            # “….” Trump said.  (a short attribution sentence right after)
            ns, ne = _sentence_of(ctx, min(len(masked) - 1, qe + 1))
            nxt = masked[qe : min(ne, qe + 120, next_start)]
            if "\n" not in nxt.strip() and len(nxt.split()) <= 9:
                found = _right_attribution(ctx, _tokens(nxt, qe), qs)
                # the sentence is the attribution ("Trump said.", "Smith, a Republican, said."), not
                # more reported speech with one set off by commas ("That's why, he added, viewers ...")
                lead = masked[qe : found[2][0]].strip() if found and found[2] else ""
                if len(lead.split()) > 1 or "," in lead:
                    found = None
    result = {"partial": partial, "relay": None}
    if found is not None:
        result.update(speaker=found[0], speaker_mention=found[1], speaker_span=found[2],
                      speaker_type=found[3], cue=found[4])
        if found[4] != "according to":
            sent = masked[left_start:r_end]
            m = re.search(r"\baccording to\s+([^,.;:\n_“”\"]{3,80})", sent)
            if m:
                result["relay"] = m.group(1).strip()
    return result


_RUNS_ON = re.compile(r"[ \t]+(?!(?:he|she|they|it|we|i|who)\b)[a-z]")


def _runs_on(ctx: _Ctx, qs: int, qe: int) -> bool:
    """“I held and hugged” grieving family members ...: a quote without closing punctuation that
    the reporter's sentence goes on from in lower case (not an attribution: “...” said X, “...” the
    senator said)."""
    inner = ctx.text[qs:qe].rstrip("\"”’' ")
    if not inner or inner[-1] in ".,!?;:—–-…)":
        return False
    after = ctx.masked[qe : qe + 60]
    return bool(_RUNS_ON.match(after)) and not CUE_RX.search(" ".join(after.split()[:4]))


def _introduces_next(ctx: _Ctx, qs: int, qe: int, next_start: int) -> bool:
    """“B.” He added, “C.”: after a quote that ends its own sentence, a short attribution that runs
    into the next quote's opening mark introduces that quote; B is the speaker's previous quote
    going on (“A,” he said. “B.” He added, “C.”)."""
    inner = ctx.text[qs:qe].rstrip("\"”’' \n")
    between = ctx.masked[qe:next_start].strip()
    return (bool(inner) and inner[-1] in ".!?" and 0 < len(between) <= 120 and "\n" not in between
            and between[-1] in ":,")


def _first_np(toks):
    out = []
    for t in toks:
        if t[0] in {",", ";", ":"} or _is_cue_word(t[0]):
            break
        out.append(t)
    return out


def extract_quotes(text: str, mentions: list[Mention], index: EntityIndex | None = None) -> list[Quote]:
    """All quotations of one article, with speakers resolved through ``index`` (built if None)."""
    if index is None:
        index = EntityIndex()
        index.add("_", mentions)
        index.build()
    original = text
    text = normalise_marks(text)
    raw = find_quote_spans(text)
    raw = [(p, u) for p, u in raw if any(text[s:e].strip() for s, e in p)]
    masked = _mask(text, [p for p, _ in raw])
    qbounds = []
    for p, u in raw:
        qs, qe = p[0][0] - 1, min(len(text), p[-1][1] + (0 if u else 1))
        if qs > 0 and text[qs] == '"' and text[qs - 1] == '"':
            qs -= 1
        if not u and text[qe : qe + 1] == '"' and text[qe - 1 : qe] == '"':
            qe += 1
        qbounds.append((qs, qe))
    quote_ends = {e for _s, e in qbounds}
    ctx = _Ctx(text, masked, sorted(mentions, key=lambda m: m.start), index,
               _sentence_bounds(masked, text, quote_ends), qbounds)
    ctx.mention_starts = [m.start for m in ctx.mentions]
    ctx.mention_people = []
    for m in ctx.mentions:
        ent = index.lookup(m.name, "PERSON" if m.type == "PERSON" else None)
        ctx.mention_people.append(ent.name if ent is not None and ent.type == "PERSON" else None)
    quotes: list[Quote] = []
    for qi, ((pieces, unclosed), (qs, qe)) in enumerate(zip(raw, qbounds)):
        qtext = " ".join(_WS.sub(" ", original[s:e]).strip() for s, e in pieces).strip()
        next_start = qbounds[qi + 1][0] if qi + 1 < len(qbounds) else len(text)
        att = _attribute(ctx, qs, qe, quotes[-1] if quotes else None, next_start)
        q = Quote(qtext, qs, qe, list(pieces), partial=att["partial"] or _is_title(qtext), unclosed=unclosed)
        if att.get("speaker_type"):
            q.speaker, q.speaker_mention, q.speaker_span = att["speaker"], att["speaker_mention"], att["speaker_span"]
            q.speaker_type, q.cue, q.relay = att["speaker_type"], att["cue"], att["relay"]
        quotes.append(q)
    _inherit(ctx, quotes)
    return _merge_interrupted(ctx, quotes)


_WS = re.compile(r"\s+")


_SMALL = {"a", "an", "the", "of", "for", "and", "in", "on", "to", "at", "with", "is", "as", "by", "or"}


def _is_title(qtext: str) -> bool:
    """“The X-Files”, “Celebrity Apprentice”: a name in marks, not speech."""
    words = qtext.split()
    if not words or len(words) > 6 or re.search(r"[,.!?…:;]$", qtext.strip()):
        return False
    return all(w[:1].isupper() or w.lower() in _SMALL or not w[:1].isalpha() for w in words)


def _same_sentence(ctx: _Ctx, a: int, b: int) -> bool:
    return _sentence_of(ctx, a)[0] == _sentence_of(ctx, b)[0]


def _prev_full(quotes: list[Quote], i: int, ctx: _Ctx) -> Quote | None:
    """The previous quote that is not a partial one embedded in its attribution sentence."""
    j = i - 1
    while j >= 0:
        p = quotes[j]
        if not p.partial:
            return p
        # skip partial quotes only inside the same paragraph
        if "\n" in ctx.masked[p.end : quotes[i].start]:
            return None
        j -= 1
    return None


def _inherit(ctx: _Ctx, quotes: list[Quote]) -> None:
    """Quotes with no attribution of their own take the previous nearby quote's speaker."""
    for i, q in enumerate(quotes):
        if q.speaker_type or i == 0:
            continue
        p = quotes[i - 1] if q.partial else _prev_full(quotes, i, ctx)
        if p is None and "\n" not in ctx.masked[quotes[i - 1].end : q.start]:
            p = quotes[i - 1]  # a partial quote earlier in the same paragraph
        if p is None or not p.speaker_type:
            continue
        gap = ctx.masked[p.end : q.start]
        # only across at most one paragraph break and little reporter text
        if gap.count("\n") > 2 or len(gap.strip()) > 300:
            continue
        p_sent_end = _sentence_of(ctx, max(p.start, p.end - 1))[1]
        others = [m for m in _mentions_in(ctx, max(p.end, p_sent_end), q.start, ("PERSON",))
                  if not (p.speaker_span and m.start < p.speaker_span[1] and p.speaker_span[0] < m.end)]
        if others and len(gap.strip()) > 3:
            continue
        q.speaker, q.speaker_mention, q.speaker_span = p.speaker, p.speaker_mention, p.speaker_span
        q.speaker_type, q.cue, q.relay = "inherited", p.cue, p.relay


def _merge_interrupted(ctx: _Ctx, quotes: list[Quote]) -> list[Quote]:
    """“A,” he said. “B.” -> one quote of two pieces (the second has no attribution of its own).

    Also a paragraph that is only a quote continuing the previous paragraph's quote, as PolNeAR
    and news style do. Partial quotes inside the attribution sentence in between are kept apart.
    """
    out: list[Quote] = []
    for q in quotes:
        p = None
        if out and not q.partial:
            k = len(out) - 1
            while k >= 0 and out[k].partial and "\n" not in ctx.masked[out[k].end : q.start]:
                k -= 1
            if k >= 0 and not out[k].partial:
                p = out[k]
        if p is not None and (q.speaker_type == "inherited" or (
                q.speaker_span is not None and q.speaker_span == p.speaker_span)):
            gap = ctx.masked[p.end : q.start]
            attr_end = _sentence_of(ctx, min(len(ctx.masked) - 1, p.end))[1]
            only_attr = not gap.strip() or (
                p.speaker_span is not None and p.end <= p.speaker_span[0] < q.start
                and "\n" not in gap.strip() and len(gap.split()) <= 45
                and (attr_end >= q.start - 3 or q.speaker_span == p.speaker_span)
            )
            if gap.count("\n") <= 2 and only_attr:
                p.text = p.text + " " + q.text
                p.spans = p.spans + q.spans
                p.end = q.end
                p.unclosed = q.unclosed
                continue
        out.append(q)
    out.sort(key=lambda x: x.start)
    return out
