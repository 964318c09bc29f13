"""Entities: NER mentions typed PERSON/ORG/PLACE/OTHER, one entity per real-world thing, roles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storyline.enrich.enrichment import enrich_articles, merge_event
from storyline.enrich.entities import (
    EntityIndex,
    Mention,
    build_entities,
    extract_mentions,
    fold_surname,
    persons_compatible,
    person_tokens,
    strip_titles,
)
from storyline.records import Article

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def seeds():
    arts = [Article(id=p.stem, text=p.read_text(encoding="utf-8"), content_hash="") for p in sorted(EXAMPLES.glob("*.txt"))]
    enr = enrich_articles(arts)
    return arts, enr, merge_event(arts, enr)


def _entity(event, name):
    hits = [e for e in event.entities if e["name"] == name]
    assert len(hits) == 1, f"{name}: {[e['name'] for e in event.entities if name.split()[-1] in e['name']]}"
    return hits[0]


@pytest.mark.parametrize(
    "name, aliases",
    [
        ("Volodymyr Zelenskyy", {"Zelensky", "Zelenskyy", "Volodymyr Zelensky"}),
        ("JD Vance", {"J.D. Vance", "Vance"}),
        ("Pete Hegseth", {"Peter Hegseth", "Hegseth"}),
        ("Keith Kellogg", {"Kellogg"}),
        ("Emmanuel Macron", {"Macron"}),
        ("Keir Starmer", {"Starmer"}),
        ("Olaf Scholz", {"Scholz"}),
        ("Mark Rutte", {"Rutte"}),
        ("Donald Trump", {"Trump"}),
        ("Vladimir Putin", {"Putin"}),
        ("Tammy Bruce", {"Bruce"}),
        ("Marco Rubio", {"Rubio"}),
        ("Steve Witkoff", {"Witkoff"}),
        ("Ursula von der Leyen", set()),
    ],
)
def test_seed_people_are_single_entities_with_aliases(seeds, name, aliases):
    _, _, event = seeds
    e = _entity(event, name)
    assert e["type"] == "PERSON"
    assert aliases <= set(e["aliases"])
    # no other PERSON entity carries this surname
    sur = fold_surname(name.split()[-1])
    others = [x["name"] for x in event.entities if x["type"] == "PERSON" and x["name"] != name
              and fold_surname(person_tokens(x["name"])[-1]) == sur]
    assert not others


def test_organisations_merge_acronyms_and_case(seeds):
    _, _, event = seeds
    nato = _entity(event, "NATO")
    assert nato["type"] == "ORG"
    assert {"Nato", "North Atlantic Treaty Organization"} <= set(nato["aliases"])
    eu = _entity(event, "EU")
    assert "European Union" in eu["aliases"]
    assert _entity(event, "Paris")["type"] == "PLACE"
    assert _entity(event, "Kyiv")["type"] == "PLACE"  # NER types it PERSON once: the majority wins
    names = {e["name"] for e in event.entities}
    assert not any(" in " in n for n in names)  # 003: "meeting with Vance in Munich" is no organisation


def test_name_glued_to_a_place_keeps_the_place():
    text = "Zelensky disclosed his meeting with Vance in Munich on Friday, said the Bank of England."
    start = text.index("Vance")
    glued = (start, start + len("Vance in Munich"), "ORG", "Vance in Munich")
    bank = text.index("Bank")
    mentions = extract_mentions(text, [glued, (bank, bank + 15, "ORG", "Bank of England")])
    assert [(m.name, m.type) for m in mentions] == [("Munich", "PLACE"), ("Bank of England", "ORG")]
    assert text[mentions[0].start:mentions[0].end] == "Munich"


def test_roles_are_kept(seeds):
    _, _, event = seeds
    assert "NATO Secretary General" in _entity(event, "Mark Rutte")["roles"]
    assert any("special envoy for Ukraine and Russia" in r for r in _entity(event, "Keith Kellogg")["roles"])
    assert "French President" in _entity(event, "Emmanuel Macron")["roles"]
    assert "German Chancellor" in _entity(event, "Olaf Scholz")["roles"]
    assert _entity(event, "Mark Rutte")["role"]


def test_entity_article_ids(seeds):
    arts, _, event = seeds
    assert set(_entity(event, "Keir Starmer")["article_ids"]) == {a.id for a in arts}


def _m(text, start, etype="PERSON"):
    return Mention(text, strip_titles(text), etype, start, start + len(text))


def test_same_surname_different_people_never_merge():
    ms = [_m("Hillary Clinton", 0), _m("Bill Clinton", 100), _m("Clinton", 200), _m("Clinton", 20)]
    idx = build_entities([("a", ms)])
    people = sorted(e.name for e in idx.entities if e.type == "PERSON")
    assert people == ["Bill Clinton", "Hillary Clinton"]
    bill = next(e for e in idx.entities if e.name == "Bill Clinton")
    hillary = next(e for e in idx.entities if e.name == "Hillary Clinton")
    # a bare surname goes to the full name mentioned most recently before it
    assert bill.mentions == 2 and hillary.mentions == 2


def test_bare_surname_alone_stays_apart_when_ambiguous():
    idx = EntityIndex()
    idx.add("a", [_m("Hillary Clinton", 0), _m("Bill Clinton", 50)])
    idx.add("b", [_m("Clinton", 0)])
    idx.build()
    assert sorted(e.name for e in idx.entities) == ["Bill Clinton", "Clinton", "Hillary Clinton"]


@pytest.mark.parametrize(
    "a, b, same",
    [
        ("Volodymyr Zelensky", "Volodymyr Zelenskyy", True),
        ("Volodymyr Zelenskiy", "Volodymyr Zelenskyy", True),
        ("J.D. Vance", "JD Vance", True),
        ("James David Vance", "JD Vance", True),
        ("Pete Hegseth", "Peter Hegseth", True),
        ("Mike Waltz", "Michael Waltz", True),
        ("Hillary Clinton", "Bill Clinton", False),
        ("Hillary Rodham Clinton", "Hillary Clinton", True),
        ("Eric Trump", "Donald Trump", False),
    ],
)
def test_person_name_compatibility(a, b, same):
    assert persons_compatible(person_tokens(a), person_tokens(b)) is same


def test_titles_stripped_and_lookup():
    ms = [_m("French President Emmanuel Macron", 0), _m("Mr Macron", 80)]
    idx = build_entities([("a", ms)])
    assert idx.lookup("Mr Macron").name == "Emmanuel Macron"
    assert idx.lookup("President Macron").name == "Emmanuel Macron"
    assert idx.lookup("Nobody") is None


def test_batched_equals_single(seeds):
    from storyline.enrich.enrichment import enrich_article

    arts, enr, _ = seeds
    for a, e in zip(arts[:2], enr[:2]):
        one = enrich_article(a).to_dict()
        many = e.to_dict()
        one.pop("timings"), many.pop("timings")
        assert one == many


def test_aliases_that_differ_only_in_case_come_in_one_order_in_every_process():
    import subprocess
    import sys

    code = (
        "from storyline.enrich.entities import Mention, build_entities\n"
        "names = ['Anthony Phillip LaSalle', 'LaSalle', 'Lasalle', 'LASALLE', 'Anthony LaSalle', 'Anthony Lasalle']\n"
        "docs = [(f'a{i}', [Mention(n, n, 'PERSON', 0, len(n))]) for i, n in enumerate(names)]\n"
        "print([(e.name, e.aliases) for e in build_entities(docs).entities])\n"
    )
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(6)}
    assert len(outputs) == 1 and "LaSalle" in outputs.pop()
