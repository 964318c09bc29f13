"""Entity mentions (spaCy NER), their roles, and one canonical entity per real-world thing.

Types: PERSON, ORG, PLACE (GPE/LOC/FAC), OTHER (NORP, EVENT, LAW, WORK_OF_ART, PRODUCT).

How mentions become entities (the same rules inside one article and across an event's articles):

- Names are normalised first: accents folded, case folded, titles and honorifics stripped
  ("Mr", "Gen.", "French President ..."), possessives dropped, dots in initials removed
  ("J.D." -> "jd"), and the surname folded for transliteration ("Zelenskyy", "Zelenskiy" ->
  "zelensky": repeated letters collapsed, -iy/-yi/-ii endings to -y).
- Two full names (two tokens or more) are one person when their folded surnames are equal and their
  first names are compatible: equal, a short form of one another ("Pete"/"Peter"), an initial, or
  initials ("JD" / "J.D." / "James David"). Middle names are ignored.
- Different first names with the same surname ("Hillary Clinton", "Bill Clinton") are never merged.
  A bare surname ("Clinton") goes to the single full name with that surname; when there are
  several, to the one mentioned most recently before it in the same article, else to the one the
  article mentions most; when the article names none of them, it stays a separate entity.
- Organisations and places are merged by case-folded name, by acronym ("North Atlantic Treaty
  Organization" -> "NATO", only when that acronym is itself mentioned) and by a short alias table
  (U.S. / US / United States, U.K. / UK / Britain, Kiev / Kyiv).
- A mention typed ORG/PLACE/OTHER whose name is a known person's surname or full name ("Trump" in
  "the Trump administration" is often tagged ORG) joins that person.
- Roles are read next to PERSON mentions: the title words before the name ("NATO Secretary
  General Mark Rutte") and appositions ("Keith Kellogg, Trump's special envoy for Ukraine and
  Russia,"; "Putin's foreign affairs adviser, Yuri Ushakov").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache

TYPE_OF_LABEL = {
    "PERSON": "PERSON",
    "ORG": "ORG",
    "GPE": "PLACE",
    "LOC": "PLACE",
    "FAC": "PLACE",
    "EVENT": "OTHER",
    "LAW": "OTHER",
    "WORK_OF_ART": "OTHER",
    "PRODUCT": "OTHER",
}

TITLES = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady",
    "gen", "general", "sen", "senator", "rep", "representative", "gov", "governor", "president",
    "vice", "prime", "minister", "chancellor", "secretary", "king", "queen", "prince", "princess",
    "pope", "rev", "reverend", "col", "colonel", "lt", "maj", "major", "capt", "captain", "adm",
    "admiral", "sgt", "judge", "justice", "ambassador", "mayor", "former", "the", "chief", "envoy",
    "speaker", "leader", "attorney", "commissioner", "premier", "sheikh", "saint", "st", "father",
    "deputy", "foreign", "defense", "defence", "state", "us", "u.s", "uk", "u.k", "eu", "un",
    "nato", "mrs.", "mr.", "ms.", "dr.", "senior", "candidate", "nominee", "democratic",
    "republican", "chairman", "chairwoman", "chair", "ceo", "spokesman", "spokeswoman",
    "spokesperson",
}
ROLE_NOUNS = {
    "president", "minister", "secretary", "chancellor", "general", "chief", "envoy", "adviser",
    "advisor", "spokesperson", "spokesman", "spokeswoman", "ambassador", "senator", "governor",
    "leader", "representative", "director", "head", "commissioner", "mayor", "premier", "king",
    "queen", "prince", "princess", "chairman", "chairwoman", "chair", "ceo", "official",
    "candidate", "nominee", "lawyer", "attorney", "judge", "justice", "speaker", "diplomat",
    "commander", "correspondent", "editor", "analyst", "professor", "founder", "executive",
    "officer", "manager", "strategist", "aide", "counsel", "gen", "sen", "rep", "gov", "pope",
    "chairperson", "member", "negotiator", "administrator", "coordinator", "deputy", "economist",
    "reporter", "host", "anchor", "columnist", "owner", "partner", "consultant", "pollster",
}
ROLE_MODIFIERS = {
    "foreign", "affairs", "policy", "special", "national", "security", "defence", "defense",
    "state", "former", "vice", "deputy", "prime", "press", "general", "interior", "finance",
    "economy", "senior", "top", "chief", "campaign", "white", "house", "presidential", "acting",
    "middle", "east", "trade", "health", "justice", "energy", "of", "for", "and", "on", "the",
    "party", "opposition", "majority", "minority", "executive", "communications", "legal",
}
CONNECTORS = {"of", "for", "and", "on", "the"}
NAME_SUFFIXES = {"jr", "sr", "ii", "iii", "iv"}

NICKNAMES = {
    "pete": "peter", "mike": "michael", "bill": "william", "will": "william", "billy": "william",
    "bob": "robert", "rob": "robert", "bobby": "robert", "jim": "james", "jimmy": "james",
    "joe": "joseph", "tom": "thomas", "dick": "richard", "rick": "richard", "dave": "david",
    "steve": "stephen", "steven": "stephen", "chris": "christopher", "alex": "alexander",
    "tony": "anthony", "ted": "edward", "ed": "edward", "ben": "benjamin", "dan": "daniel",
    "danny": "daniel", "matt": "matthew", "nick": "nicholas", "sam": "samuel", "andy": "andrew",
    "liz": "elizabeth", "beth": "elizabeth", "kate": "katherine", "katie": "katherine",
    "cathy": "catherine", "jen": "jennifer", "jenny": "jennifer", "greg": "gregory",
    "jeff": "jeffrey", "jon": "jonathan", "josh": "joshua", "larry": "lawrence", "ron": "ronald",
    "don": "donald", "tim": "timothy", "pat": "patrick", "sue": "susan", "vlad": "vladimir",
    "sergei": "sergey", "sergej": "sergey", "yury": "yuri", "yuriy": "yuri", "dmitri": "dmitry",
    "dmitriy": "dmitry", "volodimir": "volodymyr", "newt": "newton", "chuck": "charles",
    "charlie": "charles", "hank": "henry", "jack": "john", "johnny": "john", "fred": "frederick",
    "al": "albert", "abe": "abraham", "kathy": "kathleen", "jim-bob": "james",
}

ALIASES = {
    "us": "United States", "u.s": "United States", "u.s.": "United States", "usa": "United States",
    "u.s.a": "United States", "united states": "United States", "america": "United States",
    "united states of america": "United States",
    "uk": "United Kingdom", "u.k": "United Kingdom", "u.k.": "United Kingdom",
    "britain": "United Kingdom", "great britain": "United Kingdom",
    "united kingdom": "United Kingdom",
    "kiev": "Kyiv", "kyiv": "Kyiv", "un": "United Nations", "u.n": "United Nations",
    "u.n.": "United Nations", "united nations": "United Nations",
}

_POSS = re.compile(r"(?:['’]s|['’])$")
_WS = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def fold(s: str) -> str:
    """Accents and case folded, dots dropped, whitespace collapsed."""
    if not s.isascii():  # ASCII has nothing to decompose (and quotes are long: skip the loop)
        s = unicodedata.normalize("NFKD", s)
        s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.lower().replace("’", "'").replace(".", "")
    return _WS.sub(" ", s).strip()


@lru_cache(maxsize=65536)
def fold_surname(s: str) -> str:
    """Transliteration-tolerant key for a surname: Zelenskyy / Zelenskiy / Zelensky -> zelensky."""
    s = re.sub(r"[^a-z]", "", fold(s))
    s = re.sub(r"(.)\1+", r"\1", s)
    s = re.sub(r"(?:iy|yi|ii|ij)$", "y", s)
    return s


@lru_cache(maxsize=65536)  # asked ~100 times an article, mostly for the same few names
def clean_surface(text: str) -> str:
    t = _WS.sub(" ", text.replace("[", "").replace("]", "").strip(" \t\n,;:.—–-\"“”‘’'()"))
    t = _POSS.sub("", t).strip()
    if t.lower().startswith("the "):
        t = t[4:]
    return t


@lru_cache(maxsize=65536)
def strip_titles(name: str) -> str:
    """'French President Emmanuel Macron' -> 'Emmanuel Macron'; 'Mr Trump' -> 'Trump'."""
    toks = name.split(" ")
    last = -1
    for i, t in enumerate(toks[:-1]):
        if t.lower().rstrip(".") in TITLES and t.lower() not in {"the"}:
            last = i
    if last >= 0:
        toks = toks[last + 1 :]
    while len(toks) > 1 and toks[0].lower().rstrip(".") in TITLES:
        toks = toks[1:]
    return " ".join(toks)


def person_tokens(name: str) -> list[str]:
    toks = [t for t in fold(name).replace("-", " ").split(" ") if t]
    while len(toks) > 1 and toks[-1].strip(",") in NAME_SUFFIXES:
        toks = toks[:-1]
    return toks


def _first_compatible(a: str, b: str) -> bool:
    if a == b:
        return True
    na, nb = NICKNAMES.get(a, a), NICKNAMES.get(b, b)
    if na == nb:
        return True
    if len(a) == 1 or len(b) == 1:  # an initial
        return a[0] == b[0]
    if fold_surname(a) == fold_surname(b):
        return True
    return False


def persons_compatible(a: list[str], b: list[str]) -> bool:
    """Two full names (folded tokens, >= 2 each) name the same person."""
    if fold_surname(a[-1]) != fold_surname(b[-1]):
        return False
    fa, fb = a[0], b[0]
    if _first_compatible(fa, fb):
        return True
    # initials written together: "jd vance" vs "james david vance"
    ia = "".join(t[0] for t in a[:-1])
    ib = "".join(t[0] for t in b[:-1])
    if len(fa) in (2, 3) and fa == ib:
        return True
    if len(fb) in (2, 3) and fb == ia:
        return True
    return False


@dataclass(slots=True)
class Mention:
    text: str  # as written in the article
    name: str  # titles and possessives stripped
    type: str  # PERSON / ORG / PLACE / OTHER
    start: int
    end: int
    role: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Mention":
        return cls(**{k: d.get(k) for k in ("text", "name", "type", "start", "end", "role")})


_TOKEN_RX = re.compile(r"\S+")


def _role_before(text: str, start: int) -> str | None:
    """Title words right before a name: 'NATO Secretary General', 'U.S. Vice President'."""
    left = text[max(0, start - 120) : start]
    left = left[left.rfind("\n") + 1 :]
    toks = [(m.group(0), m.start()) for m in _TOKEN_RX.finditer(left)]
    picked: list[str] = []
    for tok, _ in reversed(toks):
        bare = tok.strip("\"“”‘’()")
        if bare != tok and picked:
            break
        if not bare or any(c in bare for c in ",;:!?") or bare.endswith("."):
            if not (bare.endswith(".") and ("." in bare[:-1] or bare.lower() in _ABBREV_TITLES)):
                break
        low = bare.lower().rstrip(".")
        if low == "and":
            break
        if bare[0].isupper() or low in ROLE_NOUNS or low in ROLE_MODIFIERS:
            picked.append(bare)
        else:
            break
        if len(picked) >= 8:
            break
    while picked and picked[-1].lower() in CONNECTORS:
        picked.pop()
    while picked and picked[0].lower() in CONNECTORS:
        picked.pop(0)
    picked.reverse()
    while picked and picked[0].lower() in CONNECTORS:
        picked.pop(0)
    if not picked:
        return None
    if not any(p.lower().rstrip(".") in ROLE_NOUNS for p in picked):
        return None
    return " ".join(picked)


_ABBREV_TITLES = {"gen.", "sen.", "rep.", "gov.", "mr.", "mrs.", "ms.", "dr.", "lt.", "col.", "maj.", "capt.", "adm.", "sgt.", "prof.", "rev.", "st."}


def _bare_word(w: str) -> str:
    return _POSS.sub("", w.lower().strip(".,;:\"“”‘’()[]"))


_APPOS_RX = re.compile(r"^,\s+((?:the|a|an|[A-Z][\w.’'-]*)\b[^,;:.!?\"“”\n]{2,90}?)(?=,|\.\s|;|$)")


def _role_after(text: str, end: int) -> str | None:
    """Apposition after a name: 'Keith Kellogg, Trump's special envoy for Ukraine and Russia,'."""
    m = _APPOS_RX.match(text[end : end + 110])
    if not m:
        return None
    phrase = m.group(1).strip()
    words = phrase.split()
    if len(words) > 12:
        return None
    lows = [_bare_word(w) for w in words]
    if not any(w in ROLE_NOUNS for w in lows):
        return None
    if any(w in {"said", "says", "told", "who", "which", "that", "was", "is", "has"} for w in lows):
        return None
    if words[0].lower() in {"the", "a", "an"}:
        phrase = " ".join(words[1:])
    return phrase


_PRE_APPOS_RX = re.compile(r"([^,;:.!?\"“”\n]{3,90}),\s*$")


def _role_pre_appos(text: str, start: int) -> str | None:
    """'Putin's foreign affairs adviser, Yuri Ushakov': a role phrase, a comma, then the name."""
    left = text[max(0, start - 100) : start]
    left = left[left.rfind("\n") + 1 :]
    if not left.rstrip().endswith(","):
        return None
    m = _PRE_APPOS_RX.search(left)
    if not m:
        return None
    words = m.group(1).split()
    picked: list[str] = []
    for w in reversed(words):
        low = _bare_word(w)
        if low == "and":
            break
        if low in ROLE_NOUNS or low in ROLE_MODIFIERS or w[:1].isupper():
            picked.append(w)
        else:
            break
    picked.reverse()
    while picked and picked[0].lower() in CONNECTORS:
        picked.pop(0)
    if not picked or picked[-1].lower().strip(".") not in ROLE_NOUNS:
        return None
    return " ".join(picked)


_PARTICLES = {"von", "der", "van", "de", "da", "di", "le", "la", "bin", "al", "den", "du", "del", "ter"}


def _repair_spans(text, spans):
    """Join a person's name that NER split after a particle ("Ursula von der" + "Leyen")."""
    out = []
    for sp in spans:
        if out:
            ps, pe, pl, pt = out[-1]
            s, e, _l, _t = sp
            if pl == "PERSON" and pt.split()[-1].lower() in _PARTICLES and text[pe:s] == " ":
                out[-1] = (ps, e, "PERSON", text[ps:e])
                continue
        out.append(sp)
    return out


# "Vance in Munich" read as one organisation: capitalised words, "in"/"at", capitalised words.
_GLUED_PLACE = re.compile(r"^[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*)* (?:in|at) ([A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*)*)$")


def _unglue(spans):
    """A name glued to a place by NER ("Vance in Munich" as ORG) keeps only the place, as PLACE:
    organisations are rarely named "X in Y", and the person is found elsewhere in the article."""
    out = []
    for start, end, label, surface in spans:
        m = _GLUED_PLACE.match(surface) if label not in ("PERSON", "GPE", "LOC", "FAC") else None
        if m:
            start += m.start(1)
            out.append((start, start + len(m.group(1)), "GPE", m.group(1)))
        else:
            out.append((start, end, label, surface))
    return out


def extract_mentions(text: str, spans: list[tuple[int, int, str, str]]) -> list[Mention]:
    """Typed, cleaned mentions (with roles for people) from NER spans."""
    out: list[Mention] = []
    spans = _unglue(_repair_spans(text, spans))
    for start, end, label, surface in spans:
        etype = TYPE_OF_LABEL.get(label)
        if etype is None:
            continue
        name = clean_surface(surface)
        if not name or not any(c.isalpha() for c in name):
            continue
        if etype == "PERSON":
            name = strip_titles(name)
            if any(c.isdigit() for c in name) or len(name.split()) > 5 or not name[:1].isupper():
                continue
            if fold(name) in {"he", "she", "they", "i", "we", "you", "it"}:
                continue
            if fold(name) in ALIASES:
                etype = "PLACE"
            if "-" in name and any(fold(p) in ALIASES for p in name.split("-")):
                continue
        role = None
        if etype == "PERSON" and name:
            title_part = surface[: max(0, surface.find(name))].strip() if name in surface else ""
            pos = start + (surface.find(name) if name in surface else 0)
            cands = [
                _role_before(text, pos),
                title_part if title_part and fold(title_part).rstrip(".") not in
                {"mr", "mrs", "ms", "dr", "the", "miss", "sir"} else None,
                _role_after(text, end),
                _role_pre_appos(text, start),
            ]
            cands = [c for c in cands if c]
            # the most descriptive: "Trump's special envoy for Ukraine and Russia" over "Gen."
            role = max(cands, key=lambda c: len(c.split())) if cands else None
            if role and fold(role).rstrip(".") in {"mr", "mrs", "ms", "dr", "miss"}:
                role = None
        out.append(Mention(surface, name, etype, start, end, role))
    return out


@dataclass(slots=True)
class Entity:
    name: str
    type: str
    aliases: list[str] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    mentions: int = 0

    def to_export(self) -> dict:
        d = {
            "name": self.name,
            "type": self.type,
            "aliases": self.aliases,
            "article_ids": self.article_ids,
            "mentions": self.mentions,
        }
        if self.roles:
            d["role"] = self.roles[0]
            d["roles"] = self.roles
        return d


def _acronym(name: str) -> str:
    words = [w for w in re.split(r"[\s-]+", name) if w and w.lower() not in {"of", "the", "and", "for", "de", "du"}]
    return "".join(w[0] for w in words if w[0].isalpha()).lower()


class EntityIndex:
    """Clusters mentions (from one or several articles) into canonical entities.

    ``add(article_id, mentions)`` in reading order per article, then ``build()``;
    ``lookup(name, article_id)`` gives the canonical entity for a surface name.
    """

    def __init__(self) -> None:
        self._docs: list[tuple[str, list[Mention]]] = []
        self.entities: list[Entity] = []
        self._by_key: dict[tuple[str, str], int] = {}
        self._surname_people: dict[str, list[int]] = defaultdict(list)

    def add(self, article_id: str, mentions: list[Mention]) -> None:
        self._docs.append((article_id, sorted(mentions, key=lambda m: m.start)))

    # -- building ---------------------------------------------------------------------------
    def build(self) -> "EntityIndex":
        people: list[list[str]] = []  # token lists of full-name clusters (first seen form)
        person_members: list[list[tuple[str, Mention]]] = []
        singles: list[tuple[str, Mention]] = []
        others: list[tuple[str, Mention]] = []
        for aid, ms in self._docs:
            for m in ms:
                if m.type == "PERSON":
                    toks = person_tokens(m.name)
                    if len(toks) >= 2:
                        for i, p in enumerate(people):
                            if persons_compatible(toks, p):
                                person_members[i].append((aid, m))
                                break
                        else:
                            people.append(toks)
                            person_members.append([(aid, m)])
                    elif toks:
                        singles.append((aid, m))
                else:
                    others.append((aid, m))
        surname_idx: dict[str, list[int]] = defaultdict(list)
        first_idx: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(people):
            surname_idx[fold_surname(p[-1])].append(i)
            first_idx[p[0]].append(i)
        # per-article order of full-name mentions, for bare surnames with several candidates
        full_pos: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, mem in enumerate(person_members):
            for aid, m in mem:
                full_pos[aid].append((m.start, i))
        unresolved: list[tuple[str, Mention]] = []
        for aid, m in singles:
            i = self._pick_person(aid, m, surname_idx, first_idx, full_pos, person_members)
            if i is None:
                unresolved.append((aid, m))
            else:
                person_members[i].append((aid, m))
        # bare names with no full form: one entity per folded surname
        bare: dict[str, list[tuple[str, Mention]]] = defaultdict(list)
        other_names = Counter(fold(m.name) for _, m in others)
        for aid, m in unresolved:
            f = fold(m.name)
            if f in ALIASES or other_names.get(f, 0) > sum(fold(x.name) == f for _, x in unresolved):
                others.append((aid, m))  # "Kyiv" tagged PERSON once, PLACE elsewhere
                continue
            bare[fold_surname(m.name)].append((aid, m))
        for _k, mem in bare.items():
            person_members.append(mem)
            people.append(person_tokens(mem[0][1].name))
            surname_idx[fold_surname(mem[0][1].name)].append(len(people) - 1)
        # organisations, places, other; a person's name typed as something else joins the person
        person_full = {}
        for i, p in enumerate(people):
            person_full[" ".join(p)] = i
        groups: dict[str, list[tuple[str, Mention]]] = defaultdict(list)
        mentioned_acr = {fold(m.name).replace(" ", "") for _, m in others if m.name.isupper() or len(m.name) <= 5}
        for aid, m in others:
            f = fold(m.name)
            toks = person_tokens(m.name)
            if f in person_full:
                person_members[person_full[f]].append((aid, m))
                continue
            if len(toks) == 1 and len(surname_idx.get(fold_surname(toks[0]), [])) == 1 and f not in ALIASES:
                person_members[surname_idx[fold_surname(toks[0])][0]].append((aid, m))
                continue
            key = ALIASES.get(f, None)
            if key is None:
                acr = _acronym(m.name)
                if len(m.name.split()) >= 2 and len(acr) >= 2 and acr in mentioned_acr:
                    key = acr
                else:
                    key = f.replace(" ", "") if (m.name.isupper() or len(m.name) <= 5) else f
            else:
                key = fold(key)
            groups[key].append((aid, m))
        self.entities = []
        for mem in person_members:
            self._make(mem, "PERSON")
        for key, mem in groups.items():
            types = Counter(m.type for _, m in mem)
            fixed = ALIASES.get(fold(mem[0][1].name))
            self._make(mem, types.most_common(1)[0][0], fixed_name=fixed)
        self.entities.sort(key=lambda e: (-len(e.article_ids), -e.mentions, e.name))
        self._reindex()
        return self

    def _pick_person(self, aid, m, surname_idx, first_idx, full_pos, person_members):
        tok = person_tokens(m.name)[0]
        cands = surname_idx.get(fold_surname(tok), [])
        if not cands:
            cands = first_idx.get(NICKNAMES.get(tok, tok), []) or first_idx.get(tok, [])
            return cands[0] if len(cands) == 1 else None
        if len(cands) == 1:
            return cands[0]
        cset = set(cands)
        before = [i for s, i in sorted(full_pos.get(aid, [])) if s < m.start and i in cset]
        if before:
            return before[-1]
        counts = Counter(i for s, i in full_pos.get(aid, []) if i in cset)
        if counts:
            (best, n), *rest = counts.most_common()
            if not rest or rest[0][1] < n:
                return best
        return None

    def _make(self, mem: list[tuple[str, Mention]], etype: str, fixed_name: str | None = None) -> None:
        names = Counter(m.name for _, m in mem)
        if fixed_name:
            canon = fixed_name
        elif etype == "PERSON":
            # the most frequent among the longest forms
            maxlen = max(len(person_tokens(n)) for n in names)
            longest = [n for n in names if len(person_tokens(n)) == maxlen]
            canon = max(longest, key=lambda n: (names[n], -len(n)))
        else:
            canon = max(names, key=lambda n: (names[n], n.isupper(), len(n)))
        # ties broken by case too, or the set's order (it varies between processes) would show
        aliases = sorted({n for n in names if n != canon} | {clean_surface(m.text) for _, m in mem},
                         key=lambda n: (n.lower(), n))
        aliases = [a for a in dict.fromkeys(aliases) if a and a != canon]
        roles: list[str] = []
        seen = set()
        for _, m in mem:
            if m.role and fold(m.role) not in seen:
                seen.add(fold(m.role))
                roles.append(m.role)
        roles.sort(key=lambda r: -len(r.split()) if len(r.split()) <= 6 else 0)
        aids = list(dict.fromkeys(aid for aid, _ in mem))
        self.entities.append(Entity(canon, etype, aliases, aids, roles, len(mem)))

    def _reindex(self) -> None:
        self._by_key = {}
        self._surname_people = defaultdict(list)
        for i, e in enumerate(self.entities):
            for n in [e.name, *e.aliases]:
                self._by_key.setdefault((fold(clean_surface(n)), e.type), i)
                self._by_key.setdefault((fold(clean_surface(n)), "*"), i)
            if e.type == "PERSON":
                self._surname_people[fold_surname(person_tokens(e.name)[-1])].append(i)

    def lookup(self, name: str, etype: str | None = None) -> Entity | None:
        """Canonical entity for a surface name (titles stripped, transliteration tolerant)."""
        n = fold(strip_titles(clean_surface(name)))
        i = self._by_key.get((n, etype or "*"))
        if i is None and etype != "PERSON":
            i = self._by_key.get((n, "*"))
        if i is not None:
            return self.entities[i]
        toks = person_tokens(strip_titles(clean_surface(name)))
        if not toks:
            return None
        cands = self._surname_people.get(fold_surname(toks[-1]), [])
        if len(toks) >= 2:
            for c in cands:
                if persons_compatible(toks, person_tokens(self.entities[c].name)) or len(
                    person_tokens(self.entities[c].name)
                ) == 1:
                    return self.entities[c]
            return None
        if len(cands) >= 1:
            # the most mentioned person with that surname
            return max((self.entities[c] for c in cands), key=lambda e: e.mentions)
        return None


def build_entities(docs: list[tuple[str, list[Mention]]]) -> EntityIndex:
    idx = EntityIndex()
    for aid, ms in docs:
        idx.add(aid, ms)
    return idx.build()
