"""Remove page junk that extraction leaves in article text.

Rules describe *kinds* of junk, never particular strings of one site:

* promos and page furniture: newsletter / sign-up / alert / app / social calls to action, tip
  lines, cookie notices, bare furniture lines ("Advertisement", "Read more: ...", "___");
* photo captions and credits: "(AP Photo/...)", "Photograph: ...", ".../Getty Images";
* end matter: "X and Y contributed to this report", "(Reporting by X; Editing by Y)",
  "Contributing: ...", copyright and "first published in" notes;
* bylines and time stamps in the first lines ("By Jane Doe, CNN", "Updated 10:32 AM EST ...");
* a headline repeated as a paragraph: the title, or a heading-like line given twice (it is
  returned as the page's headline); long paragraphs given twice (the first copy stays);
* the trailing block of other stories: short headline-like lines with no sentence punctuation
  at the end of the article, and every unpunctuated line (bullets, truncated teasers) of a
  trailing block that also holds promos or captions.

Promo and credit rules work per sentence, so a real sentence sharing a line with a promo
survives. Short lines inside the article (subheadings) are kept, so are short repeated lines
(list items), a long run of unpunctuated lines at the end (the article's own list), a single
sentence-case last line (a sentence missing its full stop), and anything that would leave the
text without a single real sentence.
"""

from __future__ import annotations

import re

# Agencies and photo libraries that appear in photo credits.
_AGENCIES = (
    r"(?:Getty\s?Images|AFP|AP|Reuters|EPA(?:-EFE)?|EFE|Shutterstock|Bloomberg|Alamy|"
    r"PA(?:\s(?:Media|Wire|Images))?|Xinhua|NurPhoto|SIPA(?:\sUSA)?|Anadolu(?:\sAgency)?|"
    r"ANP|dpa|TASS|Sputnik|Pool|Handout|Contributor|Corbis|Rex(?:\sFeatures)?|ZUMA(?:\sPress|\sWire)?|"
    r"Associated\sPress|The\sAssociated\sPress|Courtesy(?:\sof\s[\w. ]+)?)"
)

# A photo caption or credit anywhere in a line.
_CREDIT = re.compile(
    r"\((?:[A-Z][\w.&'’-]*\s){0,3}Photos?\s*(?:/|by\b|:|credit)"  # (AP Photo/..., (Photo by ...
    r"|\bPhotograph(?:s|y)?\s*(?::|by\b)"  # Photograph: X/AFP (Guardian)
    r"|(?:^|[.|)\]]\s*)(?:Photo|Picture|Image|Graphic)s?\s*(?:credit|source)?\s*:\s*\S"  # Photo: Reuters
    r"|\bImage\s(?:source|caption|copyright)\b|\bcaption\s*:"
    r"|\b(?:photo|image|picture)\s+(?:credit|courtesy)\b"
    r"|(?:/|\||©|\bvia\s|\bCredit:?\s)\s*" + _AGENCIES + r"\s*\)?\.?\s*$"  # .../Getty Images (line end)
    r"|(?:/|\||©|\bvia\s|\()\s*Getty\s?Images\b|\bGetty\s?Images\s*\)?\s*$"
    # a credit cut off by truncation: "... on Sunday. (AP Pho"
    r"|\((?:AP|AFP|EPA|Reuters|Getty|Pool|Photo)\b[^()]{0,40}$"
    # a credit after the caption's last sentence: "... on Monday. John Doe/Reuters"
    r"|[.!?”\"]\s+(?:[\w.'’ -]{1,40}/)*" + _AGENCIES + r"(?:/" + _AGENCIES + r")*(?:\svia\s" + _AGENCIES
    + r")?\s*$",
    re.IGNORECASE,
)
# A short line that is nothing but a credit: "Reuters", "AFP/Getty Images".
_CREDIT_LINE = re.compile(
    r"^(?:[\w.'’ -]{1,40}/)*" + _AGENCIES + r"(?:/" + _AGENCIES + r")*(?:\svia\s" + _AGENCIES + r")?\s*$",
    re.IGNORECASE,
)
_CREDIT_WORDS = ("(ap", "(afp", "(epa", "(reuters", "(getty", "(pool", "photo", "image", "picture",
                 "video:", "videos:", "graphic", "caption", "getty", "/", "|", "©", "via ", "credit")

# Calls to action and page furniture, matched per sentence.
_PROMO = re.compile(
    r"\bsign(?:ing)?[- ]?up\b[^.!?]{0,40}?\b(?:our|my)\b"
    r"|\bsign(?:ing)?[- ]?up\b[^.!?]{0,60}?\b(?:newsletters?|e-?mail (?:alerts?|updates)|news alerts?|inbox|"
    r"briefing|bulletin)"
    r"|\bsign[- ]?up (?:here|now|today|below|at\s\S+|for free)"
    r"|\bsubscribe (?:to|for|now|today|here)\b[^.!?]{0,60}?\b(?:our|free|newsletters?|channel|podcast|alerts?|updates)\b"
    r"|^\W*(?:subscribe|register)\b(?! (?:as|with) )"
    r"|\b(?:real[- ]time |breaking )?(?:news )?alerts?\b[^.!?]{0,30}\b(?:sent|delivered) (?:straight |directly )?to your\b"
    r"|\b(?:straight|directly|right) (?:to|into) your inbox\b|\bin your inbox\b"
    r"|\bfor free real[- ]time\b"
    r"|\bfor (?:more|the latest|all the latest)\b[^.!?]{0,60}?\b(?:updates|news|coverage|stories|newsletters)\b"
    r"[^.!?]{0,40}?\b(?:sign up|subscribe|visit|follow|download|go to|head to|check out|see|create an account|"
    r"register|join)\b"
    r"|\bfollow (?:the )?(?:\w+[’']s|our|the) [\w\s-]{0,40}\bcoverage\b[^.!?]{0,80}\b(?:at|on)\b"
    r"|\ba version of this (?:article|story) appear(?:s|ed) in print\b|\bour standards:|\btrust principles\b"
    r"|\bfollow (?:our |the )?live (?:updates|coverage|blog)\b|\bread the full (?:story|article|report)\b"
    r"|\b(?:news )?tips?\b[^.!?]{0,30}\b(?:email|contact|message) us\b|\b(?:email|contact) us at\b|\bsend us your\b"
    r"|\bwe use cookies\b|\bcookie (?:policy|settings|preferences)\b"
    r"|\bclick to (?:share|open|print|email)\b|\(opens in (?:a )?new (?:window|tab)\)"
    r"|\blisten to this (?:article|story)\b|\b(?:this|the) (?:article|story|page) (?:contains|includes) affiliate links\b"
    r"|\b(?:click|tap) here\b|\bfollow us (?:on|at)\b|\b(?:like|find) us on facebook\b"
    r"|\bdownload (?:our|the [\w ]{1,20}) (?:free )?app\b|\bget (?:our|the) (?:free )?app\b"
    r"|\b(?:by|when you) (?:signing up|subscribing|registering|clicking)\b"
    r"|\bour (?:privacy (?:policy|notice)|terms of (?:use|service))\b"
    r"|\b(?:already|become) a (?:subscriber|member)\b|\b(?:log|sign) in to (?:continue|read|comment)\b"
    r"|\bsupport (?:our|independent) journalism\b|\benable javascript\b|\byour browser does not support\b"
    r"|\b(?:get|receive) (?:our|the) [\w ]{0,30}newsletter\b|\bnewsletter sign[- ]?up\b",
    re.IGNORECASE,
)

# Contributor and production credits, copyright notices: the article's end matter, per sentence.
_CONTRIB = re.compile(
    r"\ball rights reserved\b|^\W*(?:©|copyright\b)|\bmay not be (?:published|reproduced|broadcast|rewritten)\b|"
    r"\bcontributed (?:reporting\b|to (?:this|the) (?:[\w-]+ )?(?:report(?:ing)?|story|article|piece|dispatch)\b|"
    r"to reporting\b)"
    r"|\b(?:writers?|reporters?|correspondents?|journalists?)\b[^.!?]{0,150}\bcontributed\W*$"
    r"|^\W*(?:additional )?(?:reporting|writing|editing|research|compiled|graphics|produced)"
    r"(?: and \w+)? by\b[^.!?]{0,160}(?:;|\)\W*$|\bediting by\b)"
    # "Reuters reporting by Jo Lee in Kyiv; writing by Ed Moss; editing by Kim Ray", "Editing by Kim Ray"
    r"|^\W*(?:[A-Z][\w’']* )?(?:additional )?(?:reporting|writing|editing|research|compiled|graphics|produced|fact-checking)(?: and (?:reporting|writing|editing))? by\s+(?-i:[A-Z][\w.'’-]*(?:,?\s+(?:[A-Z][\w.'’-]*|in|and|at|from|of|de|van|von|the|with|for))*)(?:\s*[;,]\s*(?:additional )?(?:reporting|writing|editing|research|compiled|graphics|produced|fact-checking)(?: and (?:reporting|writing|editing))? by\s+(?-i:[A-Z][\w.'’-]*(?:,?\s+(?:[A-Z][\w.'’-]*|in|and|at|from|of|de|van|von|the|with|for))*))*\W*$"
    r"|^\W*(?:with )?(?:additional )?assistance from\s+(?-i:[A-Z][\w.'’-]*(?:,?\s+(?:[A-Z][\w.'’-]*|in|and|at|from|of|de|van|von|the|with|for))*)\W*$|^\W*contribut(?:ing|ors?)\s*:"
    r"|^\W*this (?:story|article) has been updated\b"
    r"|\b(?:this|the) (?:article|story|piece) (?:was )?(?:originally|first) (?:appeared|published|ran)\b"
    r"|\brepublished (?:from|under|with permission)\b",
    re.IGNORECASE,
)

# Whole lines that are page furniture on their own.
_FURNITURE = re.compile(
    r"^\W*(?:advertisement|advertising|sponsored(?: content)?|skip advertisement|ad|"
    r"story continues(?: below(?: advertisement)?)?|continue reading(?: (?:below|the main story))?|"
    r"share(?: this)?(?: article| story| page)?|share (?:on|via) \w+|tweet|e-?mail|print|"
    r"comments?|\d+ comments?|read more|more on this story|most read|most popular|recommended|"
    r"related(?: articles| stories| coverage| content| topics)?|trending(?: now)?|watch|listen|"
    r"loading|image|video|photos?|gallery|back to top|top stories|you may also like|recommended for you|"
    r"more stories|more news|around the web|most viewed|most shared|most watched|recommended stories|more to read|"
    r"top news|sponsored stories|promoted stories|order reprints|today[’']s paper|"
    r"\d+\s*min(?:ute)?s?\s+read|share (?:this|on|via)\b.{0,40})\W*$"
    r"|^\W*(?:read more|read also|also read|see also|related|more from [\w ]{1,30}|watch|listen|"
    r"recommended|trending|most read|related coverage|more coverage|latest|editor[’']s picks?)\s*[:|»>]",
    re.IGNORECASE,
)

# Bylines and time stamps, looked for only in the first lines of the text.
_NAMES = r"(?-i:[A-Z][\w.'’-]*(?:,?\s+(?:[A-Z][\w.'’-]*|and|de|van|von|der|la|le|bin|al))*)"
_BYLINE = re.compile(
    r"^\W*by\s+" + _NAMES
    + r"(?:\s*(?:,|\||-|–|—|and)\s*(?-i:[A-Z0-9][\w.’'-]*(?:\s+[A-Z0-9][\w.’'-]*){0,5}))?\s*$",
    re.IGNORECASE,
)
_STAMP = re.compile(r"^\W*(?:last\s+)?(?:updated|published|posted|modified|first published)\b\W*(.*)$",
                    re.IGNORECASE)
_STAMP_WORDS = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
    "september october november december mon tue tues wed thu thurs fri sat sun monday tuesday wednesday "
    "thursday friday saturday sunday am pm a.m p.m at on of the et pt ct gmt utc bst cet edt est pdt pst "
    "cdt cst updated published ago hours hour minutes minute mins min days day".split())


def _is_stamp(line: str) -> bool:
    """'Updated 10:32 AM EST, Mon February 17, 2025': a label, then only date and time words."""
    m = _STAMP.match(line)
    if not m:
        return False
    tokens = re.findall(r"[\w.:]+", m.group(1))
    return bool(tokens) and any(c.isdigit() for c in m.group(1)) and all(
        t.rstrip(".").lower() in _STAMP_WORDS or re.fullmatch(r"[\d:./-]+(?:am|pm|h)?", t.lower())
        for t in tokens)


HEAD_LINES = 4  # bylines / time stamps are looked for in this many first lines

_ELLIPSIS_END = re.compile(r"(?:…|\.\.\.)[\"'”’»)\]]*\s*$")
_BULLET = re.compile(r"^\s*[*•·▪►‣◦]\s*\S|^\s*[-–—]\s+\S")
# A sentence end: . ! ? … : ; possibly followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…:;](?:\s?[\"'”’»)\]])*\s*$")
# Sentence boundaries inside a line (". Next", '." Next', and glued ".Next" after a lowercase word).
_SENT_SPLIT = re.compile(r"(?<=[.!?…][\"'”’)\]])\s+|(?<=[.!?…])\s+(?=[\"'“‘(\[A-Z0-9])|(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
_KEY = re.compile(r"[\W_]+")

HEADLINE_MAX_WORDS = 14  # a trailing unpunctuated line this short reads as another story's headline
DUPLICATE_MIN_WORDS = 15  # a repeated prose paragraph this long is dropped; shorter repeats are list items
HEADLINE_MIN_WORDS = 5  # shorter ones are list items ("TE David Thomas (knee)"), kept
TEASER_MIN_WORDS = 20  # a longer unpunctuated last bullet is a teaser (headline + cut lede), not a list item
TAIL_MAX_LINES = 8  # more unpunctuated lines than this at the end: the article's own list
CAPTION_MAX_WORDS = 70  # a credit in a longer line removes only its sentence, not the line
# Cheap substring triggers (on the lower-cased line) before any regex runs: most lines have none.
_PROMO_WORDS = (
    "sign up", "sign-up", "signup", "signing up", "sign in", "subscri", "register", "alert", "inbox",
    "real time", "real-time", "for more", "the latest", "coverage", "in print", "our standards",
    "trust principles", "live updates", "live coverage", "live blog", "read the full", "email us",
    "contact us", "message us", "send us", "cookie", "click", "opens in", "listen to this", "affiliate",
    "tap here", "follow us", "us on facebook", " app ", " app.", " app,", "privacy", "terms of", "already a", "become a",
    "log in", "journalism", "javascript", "browser", "newsletter",
)
_CONTRIB_WORDS = (
    "rights reserved", "©", "copyright", "may not be published", "may not be reproduced",
    "may not be broadcast", "may not be rewritten", "contributed", "contributing", "contributor",
    "reporting by", "writing by",
    "editing by", "research by", "compiled by", "graphics by", "produced by", "fact-checking by",
    "assistance from", "has been updated", "originally appeared", "originally published",
    "originally ran", "first appeared", "first published", "first ran", "republished",
)


def _key(line: str) -> str:
    """Identity of a line for repeats: letters and digits only for heading-sized lines (titles
    come with other punctuation); long lines only up to case and spacing (cheaper)."""
    if len(line) > 250:
        return "".join(line.casefold().split())
    return _KEY.sub("", line).casefold()


def _ends_sentence(line: str) -> bool:
    return bool(_SENTENCE_END.search(line))


_SMALL_WORDS = frozenset("a an and as at but by for from in into of on or over the to up with vs".split())


def _title_case(line: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", line) if w.lower() not in _SMALL_WORDS]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.8 * len(words)


def _is_bullet(line: str) -> bool:
    return bool(_BULLET.match(line))


def _has(low: str, words: tuple[str, ...]) -> bool:
    return any(map(low.__contains__, words))


def _junk_sentences(line: str, promo: bool, contrib: bool, credit: bool
                    ) -> tuple[str, list[str], bool]:
    """Drop promo / contributor / credit sentences from one line.

    Returns (kept text, removed sentences, whether any was a promo or a caption credit).
    """
    sentences = [s for s in _SENT_SPLIT.split(line) if s and s.strip()]
    kept, removed = [], []
    page_junk = False
    for sentence in sentences:
        # the line's keyword gates again per sentence: the patterns are slow on long paragraphs
        low = sentence.lower()
        if ((promo and _has(low, _PROMO_WORDS) and _PROMO.search(sentence))
                or (credit and _has(low, _CREDIT_WORDS) and _CREDIT.search(sentence))):
            removed.append(sentence.strip())
            page_junk = True
        elif contrib and _has(low, _CONTRIB_WORDS) and _CONTRIB.search(sentence):
            removed.append(sentence.strip())
        else:
            kept.append(sentence.strip())
    return " ".join(kept), removed, page_junk


def _classify_line(line: str) -> tuple[str, list[str], bool]:
    """Per-line rules. Returns (what is kept of the line, removed pieces, page junk?).

    Page junk (promos, captions, furniture) marks a block of other stories' teasers around it;
    end matter (contributors, copyright) does not: the article's own text sits right above it.
    """
    if not any(c.isalnum() for c in line):
        return "", [line], False  # separators: "___", "* * *"
    words = len(line.split())
    if _FURNITURE.match(line) or (words <= 12 and _CREDIT_LINE.match(line)):
        return "", [line], True
    low = line.lower()
    credit = _has(low, _CREDIT_WORDS)
    if credit and words <= CAPTION_MAX_WORDS and _CREDIT.search(line):
        return "", [line], True  # a caption with its credit: the whole line goes
    promo, contrib = _has(low, _PROMO_WORDS), _has(low, _CONTRIB_WORDS)
    if not (promo or contrib or credit):
        return line, [], False
    kept, removed, page_junk = _junk_sentences(line, promo, contrib, credit)
    if not removed:
        return line, [], False
    if len(kept.split()) < 3:
        return "", [line], page_junk
    return kept, removed, page_junk


def _drop_tail(kept: list[str | None], page_junk_at: set[int], drop) -> None:
    """Remove the block of other stories' headlines and teasers at the end of the text.

    The block is the run of lines below the last real sentence. With page junk in it (a promo,
    a caption), every unpunctuated line of the run goes: headlines, bullets, truncated teasers,
    teasers cut with "...". Without, only the short headline-like lines at the very end go, and
    only when they are clearly not a sentence missing its full stop: two or more of them, or one
    written in Title Case.
    """
    run: list[int] = []
    junk_below = False
    body_above = False
    for i in range(len(kept) - 1, -1, -1):
        line = kept[i]
        if line is None:
            junk_below = junk_below or i in page_junk_at
            continue
        if not line:
            continue
        if _ends_sentence(line) and not _ELLIPSIS_END.search(line):
            body_above = True
            break
        run.append(i)
    if not run or not body_above:
        return  # nothing after the last sentence, or no real sentence at all (headlines only)
    if len(run) > TAIL_MAX_LINES:
        return  # a long unpunctuated run is a list in the article (tour dates...), not teasers
    if junk_below:
        for i in run:
            drop(i)
        return
    heads, teasers = [], []
    for i in run:  # from the end upwards
        line = kept[i] or ""
        words = len(line.split())
        if _is_bullet(line):
            if words > TEASER_MIN_WORDS and not _ELLIPSIS_END.search(line):
                teasers.append(i)  # "* Headline plus the start of its lede, cut mid-wor": a teaser
                continue
            break  # a short bullet: the article's own list
        if _ELLIPSIS_END.search(line) or not HEADLINE_MIN_WORDS <= words <= HEADLINE_MAX_WORDS:
            break
        heads.append(i)
    if heads and (len(heads) >= 2 or _title_case(kept[heads[0]] or "")):
        teasers += heads
    for i in teasers:
        drop(i)


def find_junk(text: str, title: str | None = None) -> tuple[str, list[str], str | None]:
    """:func:`remove_junk` plus the headline found repeated in the body (or None)."""
    lines = [ln.strip() for ln in text.split("\n")]
    kept: list[str | None] = list(lines)  # None = removed; "" = blank line (kept as separator)
    removed_at: dict[int, list[str]] = {}
    page_junk_at: set[int] = set()  # lines removed as promo / caption / furniture

    def drop(i: int, pieces: list[str] | None = None) -> None:
        removed_at.setdefault(i, []).extend(pieces or [kept[i] or lines[i]])
        kept[i] = None

    # 1. per-line rules: promos, captions, credits, contributors, furniture
    for i, line in enumerate(lines):
        if not line:
            continue
        new, pieces, page_junk = _classify_line(line)
        if page_junk:
            page_junk_at.add(i)
        if not new:
            drop(i, pieces)
        elif pieces:
            removed_at.setdefault(i, []).extend(pieces)
            kept[i] = new

    # bylines and time stamps above the text
    seen = 0
    for i, line in enumerate(kept):
        if not line:
            continue
        seen += 1
        if seen > HEAD_LINES:
            break
        if len(line.split()) <= 15 and (_BYLINE.match(line) or _is_stamp(line)):
            drop(i, [line])

    # 2. the title given again as a paragraph, a heading given twice, repeated paragraphs
    headline = None
    live = [i for i, x in enumerate(kept) if x]
    title_key = _key(title) if title else ""
    first_seen: dict[str, int] = {}  # key -> position in `live`
    for pos, i in enumerate(live):
        line = kept[i]
        if not line:
            continue
        k = _key(line)
        if not k:
            continue
        heading = not _ends_sentence(line)
        if title_key and k == title_key and heading and len(live) > 1:
            drop(i, [line])  # the headline given again as a paragraph
            continue
        if k not in first_seen:
            first_seen[k] = pos
            continue
        j = live[first_seen[k]]
        words = len(line.split())
        if heading and 3 <= words <= 30 and pos - first_seen[k] <= 3 and kept[j] is not None:
            # a heading-like line given twice in a row is the page's headline: no copy stays
            headline = headline or kept[j]
            drop(j, [kept[j]])
            drop(i, [line])
        elif words >= DUPLICATE_MIN_WORDS and not heading:
            drop(i, [line])  # a paragraph given twice (pull quote, page glitch): first copy stays
        # short repeated lines ("Meal 1", "Eat every 2-3 hours") are list content: kept

    # 3. trailing block of other stories' headlines and teasers
    _drop_tail(kept, page_junk_at, drop)

    out = "\n".join(x for x in kept if x is not None)
    out = re.sub(r"\n{3,}", "\n\n", out).strip()
    removed = [piece for i in sorted(removed_at) for piece in removed_at[i]]
    return out, removed, headline


def remove_junk(text: str, title: str | None = None) -> tuple[str, list[str]]:
    """Return ``text`` without page junk, and the removed lines (or sentences) in text order."""
    out, removed, _ = find_junk(text, title)
    return out, removed
