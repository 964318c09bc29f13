"""Source comparison of one event: who reports what, what only one outlet says, and where outlets
disagree.

Facts are the event's sentences aligned across articles (embedding cosine plus shared content
words; at most one sentence per article in a fact). Disagreements favour precision; each kind is
a narrow, explicit rule:
- ``name``: one institution under two names that differ only in the head word ("Munich Security
  Forum" / "Munich Security Conference"), never both in one article;
- ``title``: one person (first initial + surname) with titles that each carry a qualifier the other
  lacks ("Special Envoy" / "Middle East envoy"); nationality words and vague heads ("chief") ignored;
- ``number`` / ``date``: two aligned sentences giving one unit different values, or different
  weekdays for the same happening;
- ``attribution``: the same quotation given to two different named people.

Large events (more than ``support.MAX_EMBEDDED_SENTENCES`` sentences) align facts over each
article's lead window only; the lexical rules (names, titles, quotations) still read every sentence,
and a fact is called unique to one outlet only when no other outlet's article may state it further
down (its numbers, names and half of its content words within 3 consecutive sentences).
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from storyline.records import Article
from storyline.synthesize.sentences import is_good_sentence, words
from storyline.synthesize.support import (
    EventIndex,
    SupportConfig,
    STOP,
    content_stems,
    norm_token,
    numbers,
    stem,
    article_max_matrix,
    support_score,
)

FACT_COS = 0.65  # aligned sentences (chosen on the seeds and allsides-dev by inspection)
FACT_LEX = 0.20  # Jaccard of content words, so topical neighbours do not align
NUMBER_COS = 0.75
DATE_COS = 0.88


def outlet_of(article: Article) -> str:
    return (article.source or "").strip() or article.id


def _fact_candidate(text: str) -> bool:
    return is_good_sentence(text, min_words=5, max_words=90) or (
        len(words(text)) >= 8 and not text.rstrip().endswith(("...", "…")) and is_good_sentence(text + ".", min_words=8)
    )


# ---------------------------------------------------------------------------------------- facts
def align_facts(idx: EventIndex, rows: list[int]) -> list[list[int]]:
    """Greedy alignment: strongest pairs first, one sentence per article per fact."""
    if not rows:
        return []
    r = np.array(rows)
    sims = idx.vectors[r] @ idx.vectors[r].T
    arts = [idx.sentences[i].article_id for i in rows]
    pairs = []
    ii, jj = np.where(np.triu(sims, 1) >= FACT_COS)
    for a, b in zip(ii.tolist(), jj.tolist()):
        if arts[a] == arts[b]:
            continue
        sa, sb = idx.stems[rows[a]], idx.stems[rows[b]]
        jac = len(sa & sb) / max(len(sa | sb), 1)
        if jac >= FACT_LEX:
            pairs.append((float(sims[a, b]), a, b))
    pairs.sort(reverse=True)
    group = list(range(len(rows)))
    members = {k: [k] for k in range(len(rows))}

    def find(x):
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    for _, a, b in pairs:
        ga, gb = find(a), find(b)
        if ga == gb:
            continue
        if {arts[k] for k in members[ga]} & {arts[k] for k in members[gb]}:
            continue
        group[gb] = ga
        members[ga].extend(members.pop(gb))
    return [[rows[k] for k in sorted(m)] for m in members.values()]


# ------------------------------------------------------------------------------ disagreements
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'’.\-]*[A-Za-z]|[A-Za-z]|[,;:()“”\"—–]|\d+")
INSTITUTION_HEADS = {
    "conference", "forum", "summit", "council", "committee", "commission", "agency", "department",
    "ministry", "office", "party", "court", "bank", "fund", "organization", "organisation", "union",
    "assembly", "congress", "parliament", "senate", "institute", "foundation", "association",
    "authority", "board", "service", "bureau", "center", "centre", "group", "alliance", "coalition",
    "university", "hospital", "company", "corporation", "festival", "games", "cup", "championship",
    "treaty", "agreement", "accord", "act", "bill", "plan", "initiative", "program", "programme",
    "dialogue", "meeting", "talks", "convention", "tribunal", "guard", "force", "army", "police",
}
TITLE_HEADS = {
    "president", "minister", "secretary", "envoy", "adviser", "advisor", "chancellor",
    "spokesperson", "spokesman", "spokeswoman", "general", "director", "ambassador", "governor",
    "senator", "commissioner", "chairman", "chairwoman", "chair", "mayor", "judge", "justice",
    "attorney", "premier", "commander", "admiral", "colonel", "representative", "rep", "sen", "gov",
    "gen", "king", "queen", "prince", "pope", "ceo", "founder", "officer", "chief", "head", "leader",
    "speaker", "negotiator", "coordinator", "lawmaker", "deputy", "vice",
}
TITLE_WORDS = TITLE_HEADS | {
    "special", "prime", "foreign", "defense", "defence", "state", "national", "security", "senior",
    "top", "former", "acting", "affairs", "interior", "finance", "treasury", "health", "trade",
    "press", "white", "house", "first", "lady", "mr", "ms", "mrs", "dr", "lt", "sgt", "capt",
    "executive", "managing", "presidential", "majority", "minority", "supreme", "court", "district",
    "circuit", "appeals", "county", "city", "magistrate", "medical", "intelligence", "committee",
}
VAGUE = {"chief", "head", "leader", "boss", "official", "officer"}
HEAD_SYNONYMS = {"chairman": "chair", "chairwoman": "chair", "chairperson": "chair", "spokesman": "spokesperson",
                 "spokeswoman": "spokesperson", "advisor": "adviser", "sen": "senator", "rep": "representative",
                 "gov": "governor", "gen": "general"}
PARTIES_AND_BODIES = {
    "republican", "republicans", "democratic", "democrat", "democrats", "gop", "conservative", "liberal",
    "labour", "tory", "house", "senate", "representatives", "congress", "congressional", "white", "federal",
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware", "florida",
    "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine",
    "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska",
    "nevada", "hampshire", "jersey", "mexico", "york", "carolina", "dakota", "ohio", "oklahoma", "oregon",
    "pennsylvania", "rhode", "island", "tennessee", "texas", "utah", "vermont", "virginia", "washington",
    "west", "wisconsin", "wyoming", "north", "south", "new",
}
IGNORE_QUALIFIERS = {
    "mr", "ms", "mrs", "dr", "the", "top", "senior", "then", "current", "new", "longtime", "veteran",
    "presidential", "government", "administration", "of", "for", "and", "to", "s",
}
PLACES = {
    "us", "usa", "american", "america", "uk", "british", "britain", "eu", "european", "europe",
    "french", "france", "german", "germany", "russian", "russia", "ukrainian", "ukraine", "chinese",
    "china", "italian", "italy", "polish", "poland", "spanish", "spain", "dutch", "danish",
    "denmark", "japanese", "japan", "indian", "india", "israeli", "israel", "iranian", "iran",
    "canadian", "canada", "australian", "australia", "turkish", "turkey", "saudi", "mexican",
    "mexico", "brazilian", "brazil", "korean", "korea", "nato", "un", "swedish", "norwegian",
    "finnish", "belgian", "austrian", "swiss", "greek", "irish", "scottish", "welsh", "english",
    "egyptian", "syrian", "iraqi", "afghan", "pakistani", "palestinian", "lebanese", "qatari",
    "emirati", "taiwanese", "hungarian", "czech", "romanian", "bulgarian", "serbian", "croatian",
    "estonian", "latvian", "lithuanian", "georgian", "belarusian", "kremlin", "federal", "state's",
}
_CUE = re.compile(r"\b(said|says|told|wrote|added|warned|insisted|stated|declared|tweeted|posted|argued|claimed)\b")
_QUOTE = re.compile(r"[“\"]([^”\"]{12,})[”\"]")
_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_NUM_UNIT = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|thirty|forty|fifty|hundred)\s*(?:-\s*)?(%|percent|per cent|[a-z]+)",
    re.I,
)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _cap(tok: str) -> bool:
    return tok[:1].isupper()


def _name_spans(text: str) -> list[list[str]]:
    """Maximal runs of capitalised tokens (with 'of'/'for'/'the' inside), 3+ tokens."""
    toks = _tokens(text)
    spans, cur = [], []
    for k, t in enumerate(toks):
        if _cap(t) and t not in ("“", '"'):
            cur.append(t)
        elif t.lower() in ("of", "for") and cur and k + 1 < len(toks) and _cap(toks[k + 1]):
            cur.append(t)
        else:
            if len(cur) >= 3:
                spans.append(cur)
            cur = []
    if len(cur) >= 3:
        spans.append(cur)
    return spans


def _words_re(ws) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, ws), key=len, reverse=True)) + r")\b", re.I)


# cheap prefilters: a sentence without an institution head cannot hold an institution's name, one
# without a title word cannot give a person's title (the rules below would find nothing in it)
_HAS_INSTITUTION = _words_re(INSTITUTION_HEADS)
_HAS_TITLE = _words_re(TITLE_HEADS | set(HEAD_SYNONYMS) | set(HEAD_SYNONYMS.values()))


def _name_disagreements(idx: EventIndex, outlet: dict[str, str]) -> list[dict]:
    uses: dict[tuple, dict] = {}
    per_article: dict[str, set] = defaultdict(set)
    for i, s in enumerate(idx.all_sentences):
        if not _HAS_INSTITUTION.search(s.text):
            continue
        for span in _name_spans(s.text):
            # the span's institution: a prefix of 2+ tokens ending in an institution head
            for end in range(2, len(span)):
                head = norm_token(span[end])
                if head in INSTITUTION_HEADS and (end + 1 == len(span) or norm_token(span[end + 1]) not in INSTITUTION_HEADS):
                    # take the two tokens before the head as the prefix (drops "the annual" etc.)
                    prefix = tuple(norm_token(t) for t in span[max(0, end - 2) : end])
                    if len(prefix) < 2 or any(p in TITLE_HEADS for p in prefix):
                        continue
                    key = (prefix, head)
                    d = uses.setdefault(key, {"form": " ".join(span[max(0, end - 2) : end + 1]), "rows": []})
                    d["rows"].append(i)
                    per_article[s.article_id].add(key)
    by_prefix: dict[tuple, list[tuple]] = defaultdict(list)
    for key in uses:
        by_prefix[key[0]].append(key)
    out = []
    for prefix, keys in by_prefix.items():
        if len(keys) < 2:
            continue
        keys = sorted(keys, key=lambda k: -len(uses[k]["rows"]))
        for a_i in range(len(keys)):
            for b_i in range(a_i + 1, len(keys)):
                ka, kb = keys[a_i], keys[b_i]
                arts_a = {idx.all_sentences[r].article_id for r in uses[ka]["rows"]}
                arts_b = {idx.all_sentences[r].article_id for r in uses[kb]["rows"]}
                if arts_a & arts_b:  # one article uses both: two different things
                    continue
                if {outlet[a] for a in arts_a} & {outlet[b] for b in arts_b}:
                    continue
                out.append(
                    {
                        "kind": "name",
                        "subject": " ".join(uses[ka]["form"].split()[:-1]),
                        "versions": [_version(idx, uses[k]["form"], uses[k]["rows"], outlet) for k in (ka, kb)],
                    }
                )
    return out


def _version(idx: EventIndex, value: str, rows: list[int], outlet: dict[str, str]) -> dict:
    arts = list(dict.fromkeys(idx.all_sentences[r].article_id for r in rows))
    return {
        "value": value,
        "sentence": idx.all_sentences[rows[0]].text,
        "article_ids": arts,
        "outlets": list(dict.fromkeys(outlet[a] for a in arts)),
    }


@lru_cache(maxsize=16384)
def _person_mentions(text: str) -> list[tuple[str, list[str], int]]:
    """(person key, title tokens, token position) for 'Title Words First Last' in a sentence."""
    toks = _tokens(text)
    out = []
    k = 0
    while k < len(toks) - 1:
        first, last = toks[k], toks[k + 1]
        fl, ll = norm_token(first).replace(".", ""), norm_token(last)
        if (
            _cap(first) and _cap(last) and first.isalpha() is not None
            and fl not in TITLE_WORDS and fl not in PLACES and ll not in TITLE_WORDS and ll not in PLACES
            and ll not in INSTITUTION_HEADS and fl not in INSTITUTION_HEADS
            and len(ll) > 2 and last.replace("’", "'").count("'") == 0
            and not (k + 2 < len(toks) and _cap(toks[k + 2]) and toks[k + 2] not in ("“",))
        ):
            title = []
            j = k - 1
            while j >= 0:
                t = toks[j]
                tl = norm_token(t)
                if t.endswith(("’s", "'s")) or not re.match(r"[A-Za-z]", t):
                    break
                if j == k - 1 and _cap(t) and tl not in TITLE_WORDS and tl not in PLACES and t.isalpha():
                    j -= 1  # a further given name: "Shelley Moore Capito"
                    continue
                if tl in TITLE_WORDS or tl in PLACES or (_cap(t) and j > 0):
                    title.insert(0, t)
                    j -= 1
                    continue
                break
            key = f"{fl[:1]} {ll}"
            out.append((key, title, k))
            k += 2
            continue
        k += 1
    return out


def _title_parts(title: list[str]) -> tuple[str, set[str]]:
    """(head, qualifiers) of a title; nationality, party, state and body words and acronyms dropped."""
    toks = []
    for t in title:
        for p in re.split(r"[-\s]", t):
            if p:
                toks.append(p)
    head = ""
    for p in reversed(toks):
        n = HEAD_SYNONYMS.get(norm_token(p).replace(".", ""), norm_token(p).replace(".", ""))
        if n in TITLE_HEADS or n in HEAD_SYNONYMS.values():
            head = n
            break
    quals = set()
    for p in toks:
        if len(p) >= 2 and p.replace(".", "").isupper():
            continue  # an acronym (RNC, NIAID): an organisation, not a rank
        n = norm_token(p).replace(".", "")
        n = HEAD_SYNONYMS.get(n, n)
        if not n or n == head or n in PLACES or n in IGNORE_QUALIFIERS or n in PARTIES_AND_BODIES:
            continue
        quals.add(stem(n))
    return head, quals


def _only_spelling(a: set[str], b: set[str]) -> bool:
    """Guatemala / Guatemalan: every difference has a counterpart sharing its first 5 letters."""
    da, db = a - b, b - a
    return all(any(x[:5] == y[:5] for y in db) for x in da) and all(any(y[:5] == x[:5] for x in da) for y in db)


def _title_disagreements(idx: EventIndex, outlet: dict[str, str]) -> list[dict]:
    seen: dict[str, dict[tuple, dict]] = defaultdict(dict)
    for i, s in enumerate(idx.all_sentences):
        if not _HAS_TITLE.search(s.text):
            continue
        for key, title, _ in _person_mentions(s.text):
            head, quals = _title_parts(title)
            if not head or not quals:
                continue
            d = seen[key].setdefault((head, frozenset(quals)), {"title": title, "rows": []})
            d["rows"].append(i)
    out = []
    for key, variants in seen.items():
        items = list(variants.items())
        found = False
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                ((ha, sa), da), ((hb, sb), db) = items[a], items[b]
                if ha != hb or ha in VAGUE:
                    continue  # different ranks (chair / representative) can both be true
                if sa <= sb or sb <= sa or _only_spelling(sa, sb):
                    continue  # one is a fuller form of the other
                if (sa | sb) & {stem(v) for v in VAGUE}:
                    continue
                arts_a = {idx.all_sentences[r].article_id for r in da["rows"]}
                arts_b = {idx.all_sentences[r].article_id for r in db["rows"]}
                if arts_a & arts_b or {outlet[x] for x in arts_a} & {outlet[x] for x in arts_b}:
                    continue
                person = _person_text(idx.all_sentences[da["rows"][0]].text, key)
                out.append(
                    {
                        "kind": "title",
                        "subject": person,
                        "versions": [
                            _version(idx, _title_text(idx.all_sentences[d["rows"][0]].text, key), d["rows"], outlet)
                            for d in (da, db)
                        ],
                    }
                )
                found = True
                break
            if found:
                break
    return out


def _person_text(text: str, key: str) -> str:
    for k2, _, pos in _person_mentions(text):
        if k2 == key:
            toks = _tokens(text)
            return f"{toks[pos]} {toks[pos + 1]}"
    return key


def _title_text(text: str, key: str) -> str:
    for k2, title, pos in _person_mentions(text):
        if k2 == key:
            toks = _tokens(text)
            n = len(title)
            return " ".join(toks[pos - n : pos + 2])
    return key


def _unit_values(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for m in _NUM_UNIT.finditer(text):
        v, unit = m.group(1).lower().replace(",", ""), m.group(2).lower()
        if unit in ("percent", "per cent"):
            unit = "%"
        if unit in ("million", "billion", "thousand", "hundred", "trillion"):
            nxt = re.match(r"\s+([A-Za-z]+)", text[m.end():])
            if nxt and nxt.group(1).lower() not in STOP:
                unit = f"{unit} {stem(nxt.group(1))}"
        if unit in ("and", "or", "to", "of", "in", "on", "the", "a", "s", "th", "st", "nd", "rd", "am", "pm"):
            continue
        v = str(numbers(v).pop()) if numbers(v) else v
        out[stem(unit)].add(v)
    return out


def _fact_disagreements(idx: EventIndex, facts: list[list[int]], outlet: dict[str, str]) -> list[dict]:
    out = []
    for fact in facts:
        for x in range(len(fact)):
            for y in range(x + 1, len(fact)):
                a, b = fact[x], fact[y]
                sa, sb = idx.all_sentences[a], idx.all_sentences[b]
                if outlet[sa.article_id] == outlet[sb.article_id]:
                    continue
                cos = float(idx.vectors[a] @ idx.vectors[b])
                if cos >= NUMBER_COS:
                    ua, ub = _unit_values(sa.text), _unit_values(sb.text)
                    for unit in set(ua) & set(ub):
                        if ua[unit] and ub[unit] and not (ua[unit] & ub[unit]) and len(ua[unit]) == 1 and len(ub[unit]) == 1:
                            va, vb = next(iter(ua[unit])), next(iter(ub[unit]))
                            if va in numbers(sb.text) or vb in numbers(sa.text):
                                continue
                            out.append({"kind": "number", "subject": unit,
                                        "versions": [_version(idx, va, [a], outlet), _version(idx, vb, [b], outlet)]})
                if cos >= DATE_COS:
                    da, db = set(_WEEKDAY.findall(sa.text)), set(_WEEKDAY.findall(sb.text))
                    if len(da) == 1 and len(db) == 1 and da != db:
                        out.append({"kind": "date", "subject": "day",
                                    "versions": [_version(idx, da.pop(), [a], outlet), _version(idx, db.pop(), [b], outlet)]})
    return out


def _speaker(text: str, persons: set[str]) -> str | None:
    outside = _QUOTE.sub(" ", text)
    m = _CUE.search(outside)
    if not m:
        return None
    best, dist = None, 10**9
    for key, _, pos in _person_mentions(outside):
        if key in persons:
            toks_before = len(_tokens(outside[: m.start()]))
            d = abs(pos - toks_before)
            if d < dist:
                best, dist = key, d
    if best is None:  # a surname alone next to the cue: "Scholz said"
        for sm in re.finditer(r"\b([A-Z][a-z]+)\s+" + re.escape(m.group(1)) + r"|" + re.escape(m.group(1)) + r"\s+([A-Z][a-z]+)\b", outside):
            sur = norm_token(sm.group(1) or sm.group(2))
            for p in persons:
                if p.split()[-1] == sur:
                    return p
    return best if dist <= 3 else None


def _attribution_disagreements(idx: EventIndex, outlet: dict[str, str]) -> list[dict]:
    quoted = [(i, qs) for i, s in enumerate(idx.all_sentences)
              if (qs := [q for q in _QUOTE.findall(s.text) if len(words(q)) >= 5])]
    if len({outlet[idx.all_sentences[i].article_id] for i, _ in quoted}) < 2:
        return []  # quotations from one outlet only: nothing to disagree about
    persons = {key for s in idx.all_sentences for key, _, _ in _person_mentions(s.text)}
    quotes = []
    for i, qs in quoted:
        s = idx.all_sentences[i]
        for q in qs:
            sp = _speaker(s.text, persons)
            if sp:
                quotes.append((i, content_stems(q), sp))
    out, done = [], set()
    for x in range(len(quotes)):
        for y in range(x + 1, len(quotes)):
            (a, qa, pa), (b, qb, pb) = quotes[x], quotes[y]
            if pa == pb or outlet[idx.all_sentences[a].article_id] == outlet[idx.all_sentences[b].article_id]:
                continue
            if len(qa & qb) / max(min(len(qa), len(qb)), 1) < 0.7:
                continue
            ta, tb = idx.all_sentences[a].text, idx.all_sentences[b].text
            if pb.split()[-1] in ta.lower() or pa.split()[-1] in tb.lower():
                continue  # both speakers named in one sentence: a quote of a quote, not a conflict
            if (a, b) in done:
                continue
            done.add((a, b))
            out.append({"kind": "attribution", "subject": "quotation",
                        "versions": [_version(idx, pa, [a], outlet), _version(idx, pb, [b], outlet)]})
    return out


# ----------------------------------------------------------------------------------- coverage
def _outlet_key(name: str) -> str:
    n = name.lower().strip()
    n = re.sub(r"^https?://", "", n)
    n = re.sub(r"^www\.", "", n)
    n = re.sub(r"\.(com|org|net|co\.uk|co|news|info)(/.*)?$", "", n)
    n = re.sub(r"^the\s+", "", n)
    return re.sub(r"[^a-z0-9]+", "", n)


def load_outlet_meta(csv_path) -> dict[str, dict]:
    """Read a user CSV with columns outlet,country,lean,owner (header required; other columns kept).

    Returns {normalised outlet key: {"outlet", "country", "lean", "owner", ...}}. storyline ships no
    ratings of its own: groups come only from this file.
    """
    meta: dict[str, dict] = {}
    with Path(csv_path).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "outlet" not in [h.strip().lower() for h in reader.fieldnames]:
            raise ValueError(f"{csv_path}: needs a header row with an 'outlet' column")
        for row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if not row.get("outlet"):
                continue
            meta[_outlet_key(row["outlet"])] = row
    return meta


def coverage(outlets: dict[str, list[str]], facts_by_outlet: dict[str, set[int]], meta: dict[str, dict]) -> dict:
    """Articles and outlets per group of each metadata column, and facts only one group reports."""
    fields = sorted({k for row in meta.values() for k in row} - {"outlet"})
    out: dict = {"fields": {}, "unmatched_outlets": []}
    matched = {}
    for o in outlets:
        row = meta.get(_outlet_key(o))
        if row is None:
            out["unmatched_outlets"].append(o)
        else:
            matched[o] = row
    for fld in fields:
        groups: dict[str, dict] = {}
        for o, arts in outlets.items():
            g = (matched.get(o) or {}).get(fld) or "unknown"
            d = groups.setdefault(g, {"outlets": [], "articles": 0, "facts": set()})
            d["outlets"].append(o)
            d["articles"] += len(arts)
            d["facts"] |= facts_by_outlet.get(o, set())
        known = {g: d for g, d in groups.items() if g != "unknown"}
        only = {}
        if len(known) >= 2:
            for g, d in known.items():
                others = set().union(*(e["facts"] for h, e in known.items() if h != g))
                only[g] = sorted(d["facts"] - others)
        out["fields"][fld] = {
            g: {"outlets": d["outlets"], "articles": d["articles"], "facts": len(d["facts"]),
                "facts_only_here": [f"f{k}" for k in only.get(g, [])]}
            for g, d in sorted(groups.items())
        }
    return out


def _merge(disagreements: list[dict]) -> list[dict]:
    """One entry per (kind, subject, set of values): outlets that agree on a value share a version."""
    merged: dict[tuple, dict] = {}
    for d in disagreements:
        key = (d["kind"], d["subject"], frozenset(v["value"] for v in d["versions"]))
        if key not in merged:
            merged[key] = {**d, "versions": [dict(v) for v in d["versions"]]}
            continue
        for v in d["versions"]:
            tgt = next(x for x in merged[key]["versions"] if x["value"] == v["value"])
            tgt["article_ids"] = list(dict.fromkeys(tgt["article_ids"] + v["article_ids"]))
            tgt["outlets"] = list(dict.fromkeys(tgt["outlets"] + v["outlets"]))
    return list(merged.values())


# ------------------------------------------------------------------------------------ compare
def _maybe_said_beyond_window(idx: EventIndex, row: int, own_outlet: str, outlet: dict[str, str],
                              cfg: SupportConfig | None) -> bool:
    """Large events embed only each article's lead window: a fact is not called unique to one outlet
    while another outlet's article may say it further down (its numbers and names, and half of its
    content words within 3 consecutive sentences beyond the window). Precision over recall."""
    if not idx.windowed:
        return False
    cfg = cfg or SupportConfig()
    st, nums, names = idx.stems[row], idx.nums[row], idx.names[row]
    if not st:
        return False
    for a in idx.article_ids:
        if outlet[a] == own_outlet or (nums and not nums <= idx.article_nums[a]) or names - idx.article_names[a]:
            continue
        if len(st & idx.article_text_stems[a]) < cfg.lexical_mid * len(st):
            continue
        if idx.best_window(a, st, outside_only=True)[0] >= cfg.lexical_mid:
            return True
    return False


def compare(
    articles: list[Article],
    idx: EventIndex,
    *,
    outlet_meta: dict[str, dict] | None = None,
    support_cfg: SupportConfig | None = None,
) -> dict:
    outlet = {a.id: outlet_of(a) for a in articles}
    outlets: dict[str, list[str]] = defaultdict(list)
    for a in articles:
        outlets[outlet[a.id]].append(a.id)
    rows = [i for i, s in enumerate(idx.sentences) if _fact_candidate(s.text)]
    facts = align_facts(idx, rows)
    # most widely reported first, then in reading order
    facts.sort(key=lambda f: (-len({outlet[idx.sentences[r].article_id] for r in f}), min(idx.sentences[r].position for r in f)))
    fact_list, facts_by_outlet = [], defaultdict(set)
    unique = []
    singles = [f[0] for f in facts if len(f) == 1]
    art_pos = {a: k for k, a in enumerate(idx.article_ids)}
    best_by_row = dict(zip(singles, article_max_matrix(idx, singles)))
    cmin = (support_cfg or SupportConfig()).cos_min
    for k, f in enumerate(facts, start=1):
        outs = list(dict.fromkeys(outlet[idx.sentences[r].article_id] for r in f))
        rep = max(f, key=lambda r: (float(idx.vectors[r] @ idx.vectors[f].mean(axis=0)), -idx.sentences[r].index))
        fact_list.append(
            {
                "id": f"f{k}",
                "text": idx.sentences[rep].text,
                "outlets": outs,
                "article_ids": list(dict.fromkeys(idx.sentences[r].article_id for r in f)),
                "sentences": [{"article_id": idx.sentences[r].article_id, "text": idx.sentences[r].text} for r in f],
            }
        )
        for o in outs:
            facts_by_outlet[o].add(k)
        if len(outs) == 1 and len(outlets) >= 2:
            r = f[0]
            best = best_by_row[r] if r in best_by_row else article_max_matrix(idx, [r])[0]
            others = [a for a in idx.article_ids if outlet[a] != outs[0] and (best[art_pos[a]] >= cmin or a in idx.lazy)]
            if not _maybe_said_beyond_window(idx, r, outs[0], outlet, support_cfg) and not any(
                support_score(idx, idx.vectors[r], idx.stems[r], idx.nums[r], idx.names[r], a, support_cfg)[0]
                or support_score(idx, idx.vectors[r], idx.stems[r], set(), set(), a, support_cfg)[1] >= 0.75
                for a in others
            ):
                unique.append({"fact_id": f"f{k}", "text": idx.sentences[r].text, "outlet": outs[0],
                               "article_id": idx.sentences[r].article_id})
    disagreements = (
        _name_disagreements(idx, outlet)
        + _title_disagreements(idx, outlet)
        + _fact_disagreements(idx, facts, outlet)
        + _attribution_disagreements(idx, outlet)
    )
    disagreements = _merge(disagreements)
    result = {
        "outlets": [
            {"outlet": o, "article_ids": arts, "facts": [f"f{k}" for k in sorted(facts_by_outlet[o])],
             "unique_facts": sum(1 for u in unique if u["outlet"] == o)}
            for o, arts in outlets.items()
        ],
        "facts": fact_list,
        "unique_facts": unique,
        "disagreements": disagreements,
    }
    if outlet_meta:
        result["coverage"] = coverage(outlets, facts_by_outlet, outlet_meta)
    return result


__all__ = ["compare", "load_outlet_meta", "outlet_of", "align_facts", "Counter"]
