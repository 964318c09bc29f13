"""export.json follows the contract; report.html is self-contained and shows article text as text."""

from __future__ import annotations

import jsonschema
import pytest

from storyline.export import render_report, validate_export
from storyline.export.report import _axis


def document(title: str = "Quake hits coast") -> dict:
    return {
        "format": "storyline-export-v1",
        "articles": [{"id": "a1", "event_id": "ev-1", "title": title, "source": "Wire", "url": "javascript:alert(1)",
                      "published_at": "2024-03-01", "duplicate_of": None, "rewrite_of": None}],
        "events": [{"id": "ev-1", "storyline_id": "sl-1", "title": title, "date": "2024-03-01", "article_ids": ["a1"],
                    "summary": [{"text": "<img src=x onerror=alert(1)> said officials.", "article_ids": ["a1"]}],
                    "timeline": [], "entities": [], "quotes": [], "comparison": {}}],
        "storylines": [{"id": "sl-1", "title": title, "event_ids": ["ev-1"]}],
    }


def test_valid_document_passes_and_a_broken_one_fails() -> None:
    validate_export(document())
    broken = document()
    del broken["events"][0]["article_ids"]
    with pytest.raises(jsonschema.ValidationError):
        validate_export(broken)


def test_fast_validator_agrees_with_jsonschema_and_the_error_names_the_field() -> None:
    from storyline.export.json_export import _fast_validator, export_schema

    broken = []
    for path, value in ((("articles", 0, "id"), 5), (("events", 0, "article_ids"), "a1"),
                        (("storylines", 0, "event_ids"), None), (("format",), 7)):
        doc = document()
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        broken.append((path[-2] if len(path) > 1 and isinstance(path[-2], str) else path[-1], doc))
    gone = document()
    del gone["events"][0]["article_ids"]
    broken.append(("article_ids", gone))
    assert _fast_validator().is_valid(document()) and jsonschema.Draft202012Validator(export_schema()).is_valid(document())
    for field, doc in broken:
        assert not _fast_validator().is_valid(doc)
        assert not jsonschema.Draft202012Validator(export_schema()).is_valid(doc)
        with pytest.raises(jsonschema.ValidationError) as caught:
            validate_export(doc)
        assert field in str(caught.value) or field in list(caught.value.absolute_path)


def test_report_escapes_untrusted_text_and_loads_nothing_external() -> None:
    html = render_report(document("<script>alert(1)</script>"), [{"item": "<b>x.txt</b>", "reason": "empty"}])
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>x.txt</b>" not in html
    assert 'href="javascript:' not in html  # only http(s) URLs become links
    assert "http://" not in html.split("<body>")[1] and "https://" not in html.split("<body>")[1]


def test_time_axis_drops_labels_that_would_overlap() -> None:
    points = _axis([{"date": "2021-05-03", "title": "a"}, {"date": "2021-05-04", "title": "b"},
                    {"date": "2021-05-14", "title": "c"}, {"date": None, "title": "undated"}])
    assert [p["label"] for p in points] == ["2021-05-03", "", "2021-05-14"]
    assert points[0]["x"] == 2 and points[-1]["x"] == 92
