"""Quotes: every form of direct quotation, its speaker as a canonical entity, merging, robustness."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from storyline.enrich.enrichment import enrich_article, enrich_articles, merge_event
from storyline.enrich import quotes as q
from storyline.enrich.quotes import extract_quotes, find_quote_spans
from storyline.records import Article

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def art(text: str, id: str = "a") -> Article:
    return Article(id=id, text=text, content_hash="")


def quotes_of(text: str):
    return enrich_article(art(text)).quotes


def find(quotes, fragment):
    hits = [q for q in quotes if fragment in q.text]
    assert hits, f"no quote with {fragment!r}: {[q.text[:40] for q in quotes]}"
    return hits[0]


@pytest.fixture(scope="module")
def seeds():
    arts = [Article(id=p.stem[:3], text=p.read_text(encoding="utf-8"), content_hash="") for p in sorted(EXAMPLES.glob("*.txt"))]
    return {a.id: e for a, e in zip(arts, enrich_articles(arts))}, arts


SEED_QUOTES = [
    ("000", "Europe's security is at a turning point", "Ursula von der Leyen"),
    ("000", "Yes, it is about Ukraine", "Ursula von der Leyen"),
    ("000", "our own troops on the ground if necessary", "Keir Starmer"),
    ("000", "a once-in-a-generation moment for the collective security", "Keir Starmer"),
    ("001", "All their concerns will be known and addressed", "Keith Kellogg"),
    ("001", "I don’t think it’s reasonable and feasible", "Keith Kellogg"),
    ("001", "restoring the entire range of U.S.-Russian relations", "Dmitry Peskov"),
    ("001", "I think the goal, obviously, for everyone", "Tammy Bruce"),
    ("001", "agreed to have our respective teams start negotiations", "Donald Trump"),
    ("001", "We welcome the fact that talks are taking place", "Olaf Scholz"),
    ("001", "Negotiations are moving fast with Europe", "Volodymyr Zelenskyy"),
    ("001", "yield no results", "Volodymyr Zelenskyy"),
    ("001", "U.S. support will remain critical", "Keir Starmer"),
    ("001", "ready and willing to contribute to security guarantees", "Keir Starmer"),
    ("001", "A ceasefire must not lead to Russian rearmament", "Mette Frederiksen"),
    ("001", "It is completely premature and completely the wrong time", "Olaf Scholz"),
    ("001", "This is highly inappropriate", "Olaf Scholz"),
    ("003", "We must not allow any divisions within the alliance", "Keir Starmer"),
    ("004", "now needed to go even further to apply pressure", "Keir Starmer"),
    ("004", "also welcomed announcements from Coalition of the Willing", "Keir Starmer"),
    ("004", "We are ready, us Europeans, to provide security guarantees", "Emmanuel Macron"),
    ("004", "Why are we interested in what Russia thinks", "Mark Rutte"),
    ("004", "I think we really have to stop making Putin too powerful", "Mark Rutte"),
]


@pytest.mark.parametrize("aid, fragment, speaker", SEED_QUOTES)
def test_seed_quotes_found_with_speaker(seeds, aid, fragment, speaker):
    enr, _ = seeds
    assert find(enr[aid].quotes, fragment).speaker == speaker


def test_seed_relay_kept(seeds):
    enr, _ = seeds
    q = find(enr["004"].quotes, "now needed to go even further")
    assert q.speaker == "Keir Starmer" and "Downing Street" in (q.relay or "")


def test_seed_quotes_in_event_use_canonical_names(seeds):
    enr, arts = seeds
    ev = merge_event(arts, [enr[a.id] for a in arts]).to_export()
    speakers = {q["speaker"] for q in ev["quotes"]}
    assert {"Keir Starmer", "Olaf Scholz", "Mark Rutte", "Keith Kellogg"} <= speakers
    long_quotes = [q for q in ev["quotes"] if len(q["text"].split()) >= 5]
    assert len(long_quotes) >= 18  # the seeds' quotes longer than a few words
    assert all(q["speaker"] for q in long_quotes)


# --- forms ---------------------------------------------------------------------------------------
def test_curly_after_attribution():
    q = find(quotes_of("Intro line.\n“We will win this fight,” Olaf Scholz said on Monday."), "We will win")
    assert q.speaker == "Olaf Scholz" and not q.partial and q.cue == "said"


def test_straight_marks_and_inverted_said():
    q = find(quotes_of('Intro line.\n"The plan is dead and buried," said Angela Merkel.'), "The plan is dead")
    assert q.speaker == "Angela Merkel"


def test_nested_single_quotes_stay_inside():
    q = find(quotes_of("Intro.\n“He told me, ‘never again’, and he meant it,” Keir Starmer said."), "He told me")
    assert "‘never again’" in q.text and q.speaker == "Keir Starmer"


def test_british_single_quotes():
    q = find(quotes_of("Intro.\nKeir Starmer said the talks were ‘a turning point for all of us’ in London."), "a turning point")
    assert q.partial and q.speaker == "Keir Starmer"


def test_multi_paragraph_quote():
    text = ("Intro.\nEmmanuel Macron said: “Europe must act now. We cannot wait for others.\n"
            "“We will spend more on defence, and we will do it together.”\nOther news.")
    q = find(quotes_of(text), "Europe must act now")
    assert "We will spend more on defence" in q.text and len(q.spans) == 2
    assert q.speaker == "Emmanuel Macron" and not q.unclosed


def test_partial_quote_inside_sentence():
    q = find(quotes_of("Intro.\nEmmanuel Macron has described the shift as an “electroshock” for Europe."), "electroshock")
    assert q.partial and q.speaker == "Emmanuel Macron"


def test_interrupted_quote_is_one_quote():
    qs = quotes_of("Intro.\n“We are ready,” Mark Rutte said. “Russia has nothing to do with this.”\nNext.")
    q = find(qs, "We are ready")
    assert "Russia has nothing to do with this" in q.text and len(q.spans) == 2
    assert q.speaker == "Mark Rutte"


@pytest.mark.parametrize("marks", [("“", "”"), ("''", "''")])
def test_quote_after_the_attribution_sentence_goes_on_the_interrupted_one(marks):
    o, c = marks
    text = (f"Intro.\n{o}The state is falling apart,{c} Vladimir Putin said in 2012. {o}Conflicts continue.{c} "
            f"He added, {o}And you want us to repeat these mistakes?{c}\n"
            f"{o}MacGyver is a name that's in the culture,{c} Martin Kaplan said. {o}If you see that, you know "
            f"what you're getting.{c} That's why, he added, viewers see sequels.\n")
    qs = quotes_of(text)
    first = find(qs, "falling apart")
    assert "Conflicts continue" in first.text and len(first.spans) == 2
    later = find(qs, "repeat these mistakes")
    assert "Conflicts" not in later.text and later.speaker == "Vladimir Putin"
    kaplan = find(qs, "MacGyver")
    assert "If you see that" in kaplan.text and kaplan.speaker == "Martin Kaplan"


def test_quote_the_reporters_sentence_runs_on_from_is_partial():
    qs = quotes_of("Intro.\nHillary Clinton said “I held and hugged” grieving families before laying flowers.\n"
                   "“I held and hugged” grieving families, the senator wrote.\n"
                   "“We will win” said Donald Trump on Monday.\n"
                   "Sherrod Brown spoke next. “We will fight” the senator said.\n")
    assert all(q.partial for q in qs if q.text == "I held and hugged")
    assert not find(qs, "We will win").partial and find(qs, "We will win").speaker == "Donald Trump"
    assert not find(qs, "We will fight").partial


@pytest.mark.parametrize(
    "text, fragment, speaker, cue",
    [
        ("Intro.\nAccording to Kaja Kallas, “the bloc will act within days.”", "the bloc will act", "Kaja Kallas", "according to"),
        ("Intro.\n“All concerns will be addressed,” Keith Kellogg told reporters in Brussels.", "All concerns", "Keith Kellogg", "told"),
        ("Intro.\n“Europe's security is at a turning point,” Ursula von der Leyen wrote on X.", "Europe's security", "Ursula von der Leyen", "wrote"),
        ("Intro.\n“We regret the decision deeply,” Marco Rubio said in a statement.", "We regret", "Marco Rubio", "said"),
        ("Intro.\nTammy Bruce told reporters: “The goal is to see if this can move forward.”", "The goal is", "Tammy Bruce", "told"),
        ("Intro.\n“A ceasefire must not lead to rearmament,” warned Danish Prime Minister Mette Frederiksen ahead of the meeting.",
         "A ceasefire", "Mette Frederiksen", "warned"),
    ],
)
def test_attribution_forms(text, fragment, speaker, cue):
    q = find(quotes_of(text), fragment)
    assert q.speaker == speaker and q.cue == cue


def test_pronoun_resolved_to_person():
    text = ("Tammy Bruce said the meeting is aimed at testing Russia.\n"
            "“I think the goal is to determine if this can move forward,” she told reporters.")
    q = find(quotes_of(text), "I think the goal")
    assert q.speaker == "Tammy Bruce" and q.speaker_mention == "she" and q.speaker_type == "pronoun"


def test_bare_surname_and_description_resolved():
    text = ("German Chancellor Olaf Scholz arrived in Paris on Monday.\nYet Scholz said it was too soon.\n"
            "“It is completely premature to have this discussion now,” the German chancellor said.\n"
            "“We welcome the talks,” Scholz added.")
    qs = quotes_of(text)
    assert find(qs, "completely premature").speaker == "Olaf Scholz"
    assert find(qs, "We welcome").speaker == "Olaf Scholz"


def test_relay_attributed_to_the_person_whose_words_they_are():
    text = ("Intro.\nKeir Starmer said leaders “needed to go even further to apply pressure”, "
            "according to a Downing Street representative.")
    q = find(quotes_of(text), "needed to go even further")
    assert q.speaker == "Keir Starmer" and q.relay == "a Downing Street representative"


def test_two_apostrophes_as_marks():
    q = find(quotes_of("Intro.\n''We have a networking ability,'' said Sherrod Brown, a senator."), "We have a networking")
    assert q.text.startswith("We have") and q.speaker == "Sherrod Brown"


def test_same_quote_across_outlets_is_one():
    a = art("Intro.\n“A ceasefire must not lead to Russian rearmament,” warned Mette Frederiksen.", "x")
    b = art("Danish Prime Minister Mette Frederiksen spoke.\n“A ceasefire must not lead to Russian rearmament,” she said.", "y")
    ev = merge_event([a, b], enrich_articles([a, b])).to_export()
    qs = [q for q in ev["quotes"] if "ceasefire" in q["text"]]
    assert len(qs) == 1 and sorted(qs[0]["article_ids"]) == ["x", "y"]
    assert qs[0]["speaker"] == "Mette Frederiksen"


# --- malformed text ---------------------------------------------------------------------------
MALFORMED = {
    "never closes": "Intro.\n“This quote never closes and runs on " + "and on " * 2000 + "\nNext paragraph here.",
    "unbalanced": "Intro. ”odd” “ “ ” ‘ ’ \" \" \" said he. “a “b “c ”” d” " * 200,
    "huge paragraph": ("word " * 20_000 + "“quoted bit,” he said ") * 1,
    "no punctuation": ("the minister said we will act now and nobody listened " * 2000),
    "marks everywhere": "“" * 30_000 + "”" * 30_000,
    "apostrophes": "''" * 20_000,
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_text_no_crash_bounded_time(name):
    text = MALFORMED[name]
    t0 = time.perf_counter()
    qs = extract_quotes(text, [])
    assert time.perf_counter() - t0 < 3.0
    assert isinstance(qs, list)
    find_quote_spans(text)


def test_hundred_thousand_char_paragraph_full_enrichment_bounded():
    text = ("The minister said “we will act” and then " * 2500)[:100_000]
    t0 = time.perf_counter()
    e = enrich_article(art(text))
    assert time.perf_counter() - t0 < 30.0
    assert e.quotes


def test_unclosed_quote_ends_with_paragraph():
    qs = quotes_of("Intro.\nStarmer said the U.K. was “ready and willing to help if necessary.\nMacron agreed.")
    q = find(qs, "ready and willing")
    assert q.unclosed and "Macron" not in q.text


def test_short_quote_inside_a_longer_one_of_the_same_article_stays_apart():
    text = ("Leaders of the “coalition of the willing” met.\n"
            "Keir Starmer “also welcomed announcements from the coalition of the willing partners to supply missiles”.")
    a = art(text, "x")
    ev = merge_event([a], enrich_articles([a])).to_export()
    assert sorted(len(q["text"].split()) for q in ev["quotes"]) == [4, 13]


def test_attribution_sentence_after_a_quote_with_an_apposition():
    q = find(quotes_of("Intro.\n“We will not back down.” Jane Smith, a Republican senator, said.\nNext."), "back down")
    assert q.speaker == "Jane Smith"


def test_cue_shortcuts_agree_with_the_cue_patterns():
    """The set lookup for a cue token and the tail-only search for a cue that ends the text before
    a quote give what CUE_RX.fullmatch and _CUE_END_RX.search give, on the seeds' tokens and on
    every window before a mark, long whitespace and re.I's non-ASCII folds included."""
    import re

    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.txt"))]
    texts += ["he \u017faid", "He SAID", "well-said", "said   \n\n reporters  \n", "she told" + " " * 200 + "reporters ",
              "Trump went on", "and then " * 20 + "went  on", "It shot back at him"]
    tokens = {t for text in texts for t in q._WORD.findall(text)}
    assert any(q._is_cue_word(t) for t in tokens)
    assert all(q._is_cue_word(t) == bool(q.CUE_RX.fullmatch(t)) for t in tokens)
    lefts = [text[max(0, m.start() - w) : m.start()] for text in texts for m in re.finditer(r"[“\"]", text)
             for w in (300, 40)] + texts
    assert sum(q._ends_with_cue(left) for left in lefts) > 5
    assert all(q._ends_with_cue(left) == bool(q._CUE_END_RX.search(left)) for left in lefts)


def test_mask_hides_quote_pieces_but_newlines_like_the_loop_it_replaced():
    def reference(text, quotes):  # the character loop first written
        chars = list(text)
        for pieces in quotes:
            for s, e in pieces:
                for k in range(s, min(e, len(chars))):
                    if chars[k] != "\n":
                        chars[k] = "_"
        return "".join(chars)

    text = "He said “we will\nwin” and “they\n\nlose”, then ‘left’."
    cases = [[], [[(10, 20)]], [[(10, 20), (27, 37)]], [[(10, 20)], [(15, 30)]], [[(5, 8)], [(2, 40)]],
             [[(40, 999)]], [[(3, 3)]], [[(30, 35)], [(0, 4)]]]
    for quotes in cases:
        assert q._mask(text, quotes) == reference(text, quotes), quotes
