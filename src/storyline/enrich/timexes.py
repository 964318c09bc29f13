"""Time expressions, their resolution against the publication date, and timeline happenings.

Rules (no dateparser: its weekday handling misses "on Monday" on a Monday, and it is ~1 ms a call):
- absolute: "Feb. 24, 2022", "24 February 2022", "2022-02-24", "February 2022", "in 2022";
- month and day without a year ("Feb. 23"), a bare month ("in August"), weekdays ("on Monday",
  "Tuesday's talks"), "yesterday"/"today"/"tomorrow", "last/this/next week|month|year",
  "N days/weeks/months/years ago" (with nearly / almost / about / more than);
- tense: a future cue near the expression (will, would, due, scheduled, set to, expected, next,
  upcoming, plans) sends a weekday or month forward; otherwise it is the latest one on or before
  the publication day ("on Monday" in a Monday paper is that Monday).
Values are ISO 8601 strings of the expression's precision: a day "2025-02-17", a week
"2025-W07", a month "2025-08", a year "2025". With no publication date, relative expressions
keep ``value=None`` and get ``offset`` (days from the unknown publication day) for ordering; the
publication weekday itself is inferred from the article's weekday mentions and their tense.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from dataclasses import asdict, dataclass

from storyline.enrich.nlp import SENTENCE_END

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12,
    "december": 12,
}
WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1, "several": 3, "a few": 3}
_M = r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_NUM = r"(?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a few|several|an?)"
# The first word of every alternative below: most words of a text start none of them, and this one
# look-ahead turns them away before the twelve alternatives are tried (the regex scan takes ~45 %
# less time; the same matches on the dev sets' and PolNeAR's texts, a test compares them).
_FIRST_WORD = (
    r"(?=\d|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|nearly|almost|about|around|some|more|over|roughly"
    r"|just|less|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|an?\b|several|last|this|next"
    r"|earlier|later|past|on|early|late|monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today"
    r"|tomorrow|tonight|in|since|by|until|from|through|mid|of))"
)
TIMEX_RX = re.compile(
    r"(?=[\dA-Za-z])\b" + _FIRST_WORD + r"(?:"  # one boundary test per position instead of one per alternative
    r"(?P<iso>\b(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})\b)"
    r"|(?P<mdy>\b" + _M + r"\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?(?:,\s*|\s+)(?P<y1>(?:19|20)\d{2})\b)"
    r"|(?P<dmy>\b(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+" + _M.replace("?P<mon>", "?P<mon2>") + r",?\s+(?P<y2>(?:19|20)\d{2})\b)"
    r"|(?P<my>\b" + _M.replace("?P<mon>", "?P<mon3>") + r",?\s+(?P<y3>(?:19|20)\d{2})\b)"
    r"|(?P<md>\b" + _M.replace("?P<mon>", "?P<mon4>") + r"\s+(?P<d4>\d{1,2})(?:st|nd|rd|th)?\b)"
    r"|(?P<ago>\b(?P<q>nearly |almost |about |around |some |more than |over |roughly |just over |less than )?" + _NUM
    + r"\s+(?P<unit>day|week|month|year)s?\s+(?P<rel>ago|into|after|since|on)\b)"
    r"|(?P<rw>\b(?P<which>last|this|next|earlier this|later this|past)\s+(?P<unit2>week|month|year|weekend)\b)"
    r"|(?P<wd>\b(?P<wpre>last |next |this |on |early |late )?(?P<wday>Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)(?P<wposs>['’]s)?\b)"
    r"|(?P<dx>\b(?P<deictic>yesterday|today|tomorrow|tonight)\b)"
    r"|(?P<mon_only>\b(?P<mpre>in|since|last|this|next|by|until|early|late|mid-|from|through)\s+(?P<mon5>January|February|March|April|May|June|July|August|September|October|November|December)\b(?!\s+\d))"
    r"|(?P<yr>\b(?P<ypre>in|since|by|until|of|from)\s+(?P<y5>(?:19|20)\d{2})\b))",
    re.I,
)
# Every match of TIMEX_RX holds a digit, a full month name (abbreviations only ever come with a
# day or year), "day" (weekdays, yesterday, today, N days), week, month, year, tomorrow or tonight,
# and starts at most 4 words before and ends at most 2 words after the word that holds it ("just
# over a few days ago", "Feb. 24, 2022"). So TIMEX_RX need only scan the text within 4 words before
# and 3 after such an anchor: a fifth of a news text, found with str.find, gives the scan's very
# matches at ~0.4x its time (a test compares them on every kind of expression).
_ANCHOR_WORDS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "day", "week", "month", "year", "tomorrow", "tonight",
)
_DIGITS = re.compile(r"\d+")
_WORDS_AFTER = re.compile(r"\S*(?:\s+\S+){0,3}")
_WORDS_BEFORE = re.compile(r"\S*(?:\s+\S+){0,4}")  # matched on the reversed text
# letters that re.IGNORECASE equates with an ASCII letter but str.lower() does not turn into one
_FOLDS_TO_ASCII = ("\u0131", "\u017f", "\u212a")


def _anchor_regions(text: str) -> list[list[int]]:
    """[start, end) character spans of ``text`` outside which TIMEX_RX cannot match, merged."""
    low = text.lower()
    if len(low) != len(text) or any(c in text for c in _FOLDS_TO_ASCII):
        return [[0, len(text)]]  # positions would not map, or an anchor could hide: scan everything
    anchors = [m.start() for m in _DIGITS.finditer(text)]
    for word in _ANCHOR_WORDS:
        i = low.find(word)
        while i >= 0:
            anchors.append(i)
            i = low.find(word, i + 1)
    anchors.sort()
    n, reverse = len(text), None
    out: list[list[int]] = []
    for p in anchors:
        end = _WORDS_AFTER.match(text, p).end()
        if out and p <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
            continue
        reverse = text[::-1] if reverse is None else reverse
        start = n - _WORDS_BEFORE.match(reverse, n - p).end()
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def scan_timexes(text: str):
    """``TIMEX_RX.finditer(text)``, the same matches, scanning only around anchors. A region's end
    is a word's end, where the truncated string's end reads as the whitespace after it does."""
    for a, b in _anchor_regions(text):
        yield from TIMEX_RX.finditer(text, a, b)


FUTURE_RX = re.compile(
    r"\b(?:will|would|won[’']t|’ll|'ll|due|scheduled|set to|expected|expects|plans?|planned|planning|"
    r"going to|upcoming|next (?:week|month|year)|before heading|heading|to travel|to visit|to meet|"
    r"to hold|is to|are to|"
    r"shall|intends?|aims? to|slated)\b",
    re.I,
)


@dataclass(slots=True)
class Timex:
    text: str
    start: int
    end: int
    kind: str  # date / month / year / week / weekday / deictic / ago / month_only / day_month
    value: str | None = None  # ISO 8601 at the expression's precision, None when unresolved
    offset: float | None = None  # days from the publication day (relative kinds), for ordering
    future: bool = False
    absolute: bool = False  # carries its own year: resolvable without a publication date

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Timex":
        return cls(**{k: d.get(k) for k in cls.__slots__ if k in d})


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _is_future(text: str, start: int, end: int) -> bool:
    left = text[max(0, start - 70) : start]
    cut = max(left.rfind(". "), left.rfind("\n"))
    if cut >= 0:
        left = left[cut + 1 :]
    right = text[end : end + 30]
    cut = min([x for x in (right.find(". "), right.find(","), right.find("\n")) if x >= 0] or [len(right)])
    right = right[:cut]
    return bool(FUTURE_RX.search(left)) or bool(re.match(r"\s+(?:(?:was|were|is|are) (?:due|scheduled|set|expected)|will|would)\b", right)) or bool(re.match(r"['’]s\s+(?:upcoming|planned|scheduled)", text[end - 2 : end + 15]))


def find_timexes(text: str, limit: int = 500) -> list[Timex]:
    """Time expressions of a text, unresolved (absolute ones get their value)."""
    out: list[Timex] = []
    for m in scan_timexes(text):
        if len(out) >= limit:
            break
        g = m.groupdict()
        s, e = m.span()
        t = text[s:e]
        fut = _is_future(text, s, e)
        if g["iso"]:
            d = _safe_date(int(g["iy"]), int(g["im"]), int(g["id"]))
            if d:
                out.append(Timex(t, s, e, "date", d.isoformat(), absolute=True))
        elif g["mdy"] or g["dmy"]:
            mon = MONTHS[(g["mon"] or g["mon2"]).lower().rstrip(".")]
            day = int(g["d1"] or g["d2"])
            d = _safe_date(int(g["y1"] or g["y2"]), mon, day)
            if d:
                out.append(Timex(t, s, e, "date", d.isoformat(), absolute=True))
        elif g["my"]:
            mon = MONTHS[g["mon3"].lower().rstrip(".")]
            out.append(Timex(t, s, e, "month", f"{int(g['y3']):04d}-{mon:02d}", absolute=True))
        elif g["md"]:
            if g["mon4"].lower() == "may" and not re.match(r"May\s+\d", t):
                continue
            out.append(Timex(t, s, e, "day_month", future=fut))
        elif g["ago"]:
            out.append(Timex(t, s, e, "ago", future=False))
        elif g["rw"]:
            out.append(Timex(t, s, e, "week" if g["unit2"].lower().startswith("week") else g["unit2"].lower(), future=g["which"].lower() == "next" or fut and g["which"].lower() == "this"))
        elif g["wd"]:
            pre = (g["wpre"] or "").strip().lower()
            out.append(Timex(t, s, e, "weekday", future=(pre == "next") or (pre != "last" and fut)))
        elif g["dx"]:
            out.append(Timex(t, s, e, "deictic"))
        elif g["mon_only"]:
            pre = g["mpre"].lower()
            out.append(Timex(t, s, e, "month_only", future=pre in {"next", "by", "until"} and fut or pre == "next"))
        elif g["yr"]:
            out.append(Timex(t, s, e, "year", g["y5"], absolute=True))
    return out


def _n(s: str) -> int:
    s = s.lower().strip()
    return int(s) if s.isdigit() else NUMBERS.get(s, 1)


def _last_weekday(base: dt.date, wd: int, future: bool, pre: str) -> dt.date:
    if future:
        delta = (wd - base.weekday()) % 7 or 7
        if pre == "next" and delta < 7 and False:
            delta += 7
        return base + dt.timedelta(days=delta)
    delta = (base.weekday() - wd) % 7
    if pre == "last" and delta == 0:
        delta = 7
    return base - dt.timedelta(days=delta)


def _iso_week(d: dt.date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y:04d}-W{w:02d}"


def resolve(tx: Timex, base: dt.date) -> None:
    """Fill ``value`` and ``offset`` of a relative expression against the publication day."""
    m = TIMEX_RX.fullmatch(tx.text) or TIMEX_RX.match(tx.text)
    if m is None:
        return
    g = m.groupdict()
    val: dt.date | None = None
    if tx.kind == "weekday":
        pre = (g["wpre"] or "").strip().lower()
        wd = WEEKDAYS[g["wday"].lower()]
        if g["wposs"] and not pre and not tx.future:
            # "Tuesday's talks": the nearest Tuesday, past or coming
            past = _last_weekday(base, wd, False, pre)
            fut = _last_weekday(base, wd, True, pre)
            val = fut if (fut - base).days < (base - past).days else past
        else:
            val = _last_weekday(base, wd, tx.future, pre)
        tx.value = val.isoformat()
    elif tx.kind == "deictic":
        val = base + dt.timedelta(days={"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}[g["deictic"].lower()])
        tx.value = val.isoformat()
    elif tx.kind in ("week", "month", "year", "weekend"):
        which = g["which"].lower()
        step = {"last": -1, "past": -1, "this": 0, "earlier this": 0, "later this": 0, "next": 1}[which]
        if tx.kind in ("week", "weekend"):
            monday = base - dt.timedelta(days=base.weekday()) + dt.timedelta(weeks=step)
            val = monday + dt.timedelta(days=5 if tx.kind == "weekend" else 0)
            tx.value = _iso_week(val)
        elif tx.kind == "month":
            y, mo = base.year, base.month + step
            if mo == 0:
                y, mo = y - 1, 12
            elif mo == 13:
                y, mo = y + 1, 1
            val = dt.date(y, mo, 1)
            tx.value = f"{y:04d}-{mo:02d}"
        else:
            val = dt.date(base.year + step, 1, 1)
            tx.value = f"{base.year + step:04d}"
    elif tx.kind == "ago":
        n, unit, rel = _n(g["n"]), g["unit"].lower(), g["rel"].lower()
        if rel != "ago":
            return  # "three years into the war": an anchor for inference, not a date
        days = {"day": 1, "week": 7, "month": 30.44, "year": 365.25}[unit] * n
        val = base - dt.timedelta(days=round(days))
        tx.value = {"day": val.isoformat(), "week": _iso_week(val), "month": val.strftime("%Y-%m"), "year": f"{val.year:04d}"}[unit]
    elif tx.kind == "month_only":
        mon = MONTHS[g["mon5"].lower()]
        pre = g["mpre"].lower()
        y = base.year
        if tx.future or pre == "next":
            if mon < base.month or (pre == "next" and mon <= base.month):
                y += 1
        elif mon > base.month or (pre == "last" and mon >= base.month):
            y -= 1
        val = dt.date(y, mon, 1)
        tx.value = f"{y:04d}-{mon:02d}"
    elif tx.kind == "day_month":
        mon = MONTHS[g["mon4"].lower().rstrip(".")]
        day = int(g["d4"])
        cands = [_safe_date(base.year + k, mon, day) for k in (-1, 0, 1)]
        cands = [c for c in cands if c]
        if not cands:
            return
        if tx.future:
            fut = [c for c in cands if c >= base]
            val = min(fut) if fut else max(cands)
        else:
            past = [c for c in cands if c <= base + dt.timedelta(days=1)]
            val = max(past) if past else min(cands)
        tx.value = val.isoformat()
    if val is not None:
        tx.offset = float((val - base).days)


def resolve_all(timexes: list[Timex], base: dt.date | None, weekday: int | None = None) -> None:
    """Resolve against ``base``; without one, give relative expressions an ordering offset only.

    ``weekday``: the publication weekday to assume when ``base`` is None (else inferred).
    """
    if base is not None:
        for t in timexes:
            if not t.absolute:
                resolve(t, base)
            elif t.value and t.kind == "date":
                t.offset = float((dt.date.fromisoformat(t.value) - base).days)
        return
    fake = _fake_base(timexes) if weekday is None else dt.date(2001, 1, 1) + dt.timedelta(days=weekday)
    for t in timexes:
        if t.absolute:
            continue
        if t.kind in ("month_only", "day_month"):
            # no year to anchor to: kept as written, ordered before (after) the days around
            # publication when past (future)
            t.offset = 45.0 if t.future else -45.0
            continue
        saved = t.value
        resolve(t, fake)
        t.value = saved  # never invent a date
    return


def _fake_base(timexes: list[Timex]) -> dt.date:
    """A stand-in publication day whose weekday best fits the article's weekday mentions."""
    return dt.date(2001, 1, 1) + dt.timedelta(days=publication_weekday(timexes))


def publication_weekday(timexes: list[Timex]) -> int:
    """The publication weekday (0 = Monday) that keeps weekday mentions closest, tense-consistent:
    past mentions on or before it, future ones after it; minimal total distance."""
    wds = []
    for t in timexes:
        if t.kind == "weekday":
            m = TIMEX_RX.match(t.text)
            if m and m.group("wday"):
                poss = bool(m.group("wposs")) and not (m.group("wpre") or "").strip() and not t.future
                wds.append((WEEKDAYS[m.group("wday").lower()], t.future, poss))
    if not wds:
        return 0
    best = None
    for p in range(7):
        offs = []
        for wd, fut, poss in wds:
            if poss:
                offs.append(min((wd - p) % 7, (p - wd) % 7))
            else:
                offs.append(((wd - p) % 7 or 7) if fut else -((p - wd) % 7))
        key = (sum(abs(o) for o in offs), -sum(o == 0 for o in offs), p)
        if best is None or key < best[0]:
            best = (key, p)
    return best[1]


# --- inferred publication window -----------------------------------------------------------
_SPAN_RX = re.compile(
    r"\b(?P<q>nearly|almost|about|around|some|more than|over|roughly|just over|less than)?\s*"
    r"(?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a)\s+"
    r"(?P<unit>year|month|week)s?\s+(?P<rel>ago|into|after|since|on)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z]{5,}")
_STOP = {"since", "after", "before", "their", "there", "which", "would", "could", "about", "years",
         "months", "weeks", "nearly", "almost", "between", "still", "first", "other", "where"}


# nlp's sentence end, one newline at a time
_BOUND = re.compile(SENTENCE_END.pattern.replace(r"(?<=\n)\n*)", r"(?<=\n))"))


@lru_cache(maxsize=4096)  # asked three times per time expression (happenings, their text)
def sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the sentence around ``pos``; abbreviations and initials don't end one."""
    lo = max(0, pos - 600)
    a = lo
    for m in _BOUND.finditer(text, lo, pos):
        a = m.end()
    m = _BOUND.search(text, pos, min(len(text), pos + 600))
    b = m.start() + (1 if m and m.group(0)[:1] in ".!?" else 0) if m else min(len(text), pos + 600)
    return a, b


def _sentence_around(text: str, pos: int) -> str:
    a, b = sentence_bounds(text, pos)
    return text[a:b]


def _article_lines(text: str) -> str:
    """Text without truncated teaser lines (long lines cut mid-word, no final punctuation)."""
    keep = []
    for line in text.split("\n"):
        s = line.rstrip()
        if len(s) > 80 and not re.search(r"[.!?\"”’)]$", s):
            line = " " * len(line)  # same length: offsets stay valid
        keep.append(line)
    return "\n".join(keep)


def infer_window(text: str, timexes: list[Timex] | None = None) -> tuple[dt.date, dt.date] | None:
    """Likely publication range from what the text says, or None.

    "nearly three years into a war" + "its Feb. 24, 2022, invasion" (a date in a sentence sharing a
    word with the duration's sentence) -> about 24 Nov 2024 .. 24 Feb 2025. Explicit dates in
    the article's own lines bound the window from below.
    """
    body = _article_lines(text)
    if timexes is None:
        timexes = find_timexes(body)
    txs = [t for t in timexes if t.absolute and t.kind == "date" and body[t.start : t.end] == t.text]
    if not txs:
        return None
    dated = [(dt.date.fromisoformat(t.value), {w.lower() for w in _WORD.findall(_sentence_around(body, t.start))} - _STOP) for t in txs]
    windows = []
    for m in _SPAN_RX.finditer(body):
        n = _n(m.group("n"))
        unit = m.group("unit").lower()
        q = (m.group("q") or "").lower()
        words = {w.lower() for w in _WORD.findall(_sentence_around(body, m.start()))} - _STOP
        anchors = [d for d, ws in dated if ws & words]
        if not anchors:
            continue
        anchor = min(anchors)
        days = {"year": 365.25, "month": 30.44, "week": 7}[unit] * n
        base = anchor + dt.timedelta(days=round(days))
        slack = {"year": 92, "month": 10, "week": 3}[unit]
        if q in ("nearly", "almost", "less than"):
            lo, hi = base - dt.timedelta(days=slack), base
        elif q in ("more than", "over", "just over"):
            lo, hi = base, base + dt.timedelta(days=slack)
        else:
            lo, hi = base - dt.timedelta(days=slack), base + dt.timedelta(days=slack)
        windows.append((lo, hi))
    if not windows:
        return None
    lo = max(w[0] for w in windows)
    hi = min(w[1] for w in windows)
    if lo > hi:
        return None
    # an explicit past date inside the window raises the lower bound
    for d, _ in dated:
        if lo < d <= hi:
            lo = d
    return lo, hi


# --- happenings ------------------------------------------------------------------------------
def happening_text(text: str, tx: Timex, max_words: int = 24) -> str:
    """The clause around a time expression, shortened: the timeline's short text."""
    sent = _sentence_around(text, tx.start)
    sent = sent.strip().strip("“”\"")
    words = sent.split()
    if len(words) <= max_words:
        return sent
    # keep a window of words centred on the expression
    a = sentence_bounds(text, tx.start)[0]
    rel = len(text[a : tx.start].split())
    lo = max(0, min(rel - max_words // 2, len(words) - max_words))
    return ("… " if lo else "") + " ".join(words[lo : lo + max_words]) + (" …" if lo + max_words < len(words) else "")


_FOLLOW_RX = re.compile(
    r"\b(?:follows?|followed|following|comes? after|came after|after)\s+(?P<np>(?:a|an|the)\s+(?:[^,.;:\n“”\"]|\.(?=\w)){5,120}?)"
    r"(?P<next>\s+(?:in which|that|which|where|when|on|last|this|earlier)\b|[,;:\n]|\.(?!\w))",
    re.I,
)
