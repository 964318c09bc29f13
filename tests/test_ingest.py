"""Tests for the ingest stage: every input format, every encoding, every bad case.

No network beyond 127.0.0.1: feeds and pages are served by a local ``http.server`` thread.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import ipaddress
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storyline.config import IngestConfig
from storyline.ingest import read_inputs
from storyline.ingest import fetch as fetch_mod
from storyline.ingest.encoding import decode_bytes
from storyline.ingest.files import IngestError, stable_id
from storyline.records import Problem, RawDocument

Item = RawDocument | Problem


def run(inputs: list[str] | str, **config: object) -> list[Item]:
    return list(read_inputs(inputs, IngestConfig(**config)))  # type: ignore[arg-type]


def docs(items: list[Item]) -> list[RawDocument]:
    return [i for i in items if isinstance(i, RawDocument)]


def problems(items: list[Item]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


def only_problem(items: list[Item]) -> Problem:
    assert len(items) == 1 and isinstance(items[0], Problem), items
    return items[0]


def only_doc(items: list[Item]) -> RawDocument:
    assert len(items) == 1 and isinstance(items[0], RawDocument), items
    return items[0]


# --------------------------------------------------------------------------- local web server


class _Server:
    """Serves ``routes`` (path -> (status, headers, body)) and records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append((self.path, dict(self.headers)))
                status, headers, body = server.routes.get(
                    self.path, (404, {"Content-Type": "text/plain"}, b"not found")
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8",
            status: int = 200, **headers: str) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = (status, {"Content-Type": content_type, **headers}, data)
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- text and HTML files


def test_txt_file(tmp_path: Path) -> None:
    f = tmp_path / "story-1.txt"
    f.write_text("Floods hit the valley.\r\nMore rain is expected.\n", encoding="utf-8")
    doc = only_doc(run([str(f)]))
    assert doc.id == "story-1"
    assert doc.text == "Floods hit the valley.\nMore rain is expected."
    assert doc.html is None and doc.title is None
    assert doc.origin == str(f)


SAMPLE = "Café “Zürich” – naïve señor paid €5 for crème brûlée."
LATIN1_SAMPLE = "Café Zürich, naïve señor, crème brûlée, ½ price ©"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", SAMPLE),
        ("utf-8-sig", SAMPLE),
        ("utf-16", SAMPLE),  # Python writes a BOM
        ("utf-16-le", SAMPLE),  # BOM added by hand below
        ("utf-16-be", SAMPLE),
        ("cp1252", SAMPLE),
        ("latin-1", LATIN1_SAMPLE),
    ],
)
def test_txt_encodings(tmp_path: Path, encoding: str, text: str) -> None:
    data = text.encode(encoding)
    if encoding == "utf-16-le":
        data = b"\xff\xfe" + data
    elif encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    f = tmp_path / "enc.txt"
    f.write_bytes(data)
    assert only_doc(run([str(f)])).text == text


def test_decode_bytes_declared_charset_and_mislabelled_utf8() -> None:
    assert decode_bytes("Grüße".encode("iso-8859-15"), "iso-8859-15") == "Grüße"
    # Declared latin-1 but really UTF-8: the UTF-8 reading wins.
    assert decode_bytes("Grüße “x”".encode("utf-8"), "iso-8859-1") == "Grüße “x”"
    assert decode_bytes(b"plain", "no-such-charset") == "plain"


def test_html_file_keeps_raw_markup(tmp_path: Path) -> None:
    markup = "<html><head><title>T</title></head><body><p>Ça va</p></body></html>"
    (tmp_path / "page.htm").write_text(markup, encoding="utf-8")
    doc = only_doc(run([str(tmp_path / "page.htm")]))
    assert doc.id == "page" and doc.html == markup and doc.text is None


def test_html_meta_charset(tmp_path: Path) -> None:
    markup = '<html><head><meta charset="windows-1252"></head><body>“quoted” – café</body></html>'
    f = tmp_path / "legacy.html"
    f.write_bytes(markup.encode("cp1252"))
    assert only_doc(run([str(f)])).html == markup


def test_binary_file_is_a_problem(tmp_path: Path) -> None:
    f = tmp_path / "image.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    p = only_problem(run([str(f)]))
    assert p.item == str(f) and "binary or undecodable" in p.reason


def test_binary_without_nul_is_a_problem(tmp_path: Path) -> None:
    f = tmp_path / "noise.html"
    f.write_bytes(bytes([1, 2, 3, 4, 5, 6, 7, 8, 0x0E, 0x0F]) * 50 + b"<p>x</p>")
    assert "binary or undecodable" in only_problem(run([str(f)])).reason


def test_invalid_utf16_after_bom_is_a_problem(tmp_path: Path) -> None:
    f = tmp_path / "bad16.txt"
    f.write_bytes(b"\xff\xfe" + b"a\x00" * 3 + b"\x00\xdc")  # a lone low surrogate
    assert "binary or undecodable" in only_problem(run([str(f)])).reason


@pytest.mark.parametrize("content", [b"", b"   \n\t\r\n  ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"])
def test_empty_file_is_a_problem(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "empty.txt"
    f.write_bytes(content)
    assert only_problem(run([str(f)])).reason == "empty"


def test_too_large_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "big.txt"
    f.write_text("word " * 1000)
    p = only_problem(run([str(f)], max_file_bytes=100))
    assert "too large" in p.reason and "max_file_bytes" in p.reason


def test_gzip_bomb_is_capped(tmp_path: Path) -> None:
    f = tmp_path / "bomb.txt.gz"
    f.write_bytes(gzip.compress(b"a" * 100_000))
    assert len(f.read_bytes()) < 1000
    assert "too large" in only_problem(run([str(f)], max_file_bytes=1000)).reason


def test_long_text_is_cut(tmp_path: Path) -> None:
    f = tmp_path / "long.txt"
    f.write_text("x" * 500)
    assert only_doc(run([str(f)], max_article_chars=100)).text == "x" * 100


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "x.txt")
    p = only_problem(run([missing]))
    assert p.item == missing and p.reason == "no such file or directory"
    assert str(p) == f"{missing}: no such file or directory"


def test_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "a.txt").write_text("kept")
    # Named explicitly: a Problem. Inside a folder: silently ignored.
    assert "unsupported file type .pdf" in only_problem(run([str(tmp_path / "notes.pdf")])).reason
    assert [d.id for d in docs(run([str(tmp_path)]))] == ["a"]
    assert problems(run([str(tmp_path)])) == []


def test_unsupported_url_scheme() -> None:
    assert "unsupported URL scheme 'ftp'" in only_problem(run(["ftp://example.com/feed"])).reason


def test_folder_is_walked_recursively_in_sorted_order(tmp_path: Path) -> None:
    for rel in ["b/2.txt", "b/1.txt", "a.txt", "c/d/e.html", "c/ignored.csv", ".hidden/h.txt",
                ".secret.txt", "z.TXT"]:
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"content of {rel}")
    first = run([str(tmp_path)])
    assert [d.origin for d in docs(first)] == [
        str(tmp_path / r) for r in ["a.txt", "b/1.txt", "b/2.txt", "c/d/e.html", "z.TXT"]
    ]
    assert run([str(tmp_path)]) == first  # deterministic
    # A file given twice (alone and inside its folder) is read once.
    again = run([str(tmp_path / "a.txt"), str(tmp_path)])
    assert [d.origin for d in docs(again)].count(str(tmp_path / "a.txt")) == 1


def test_mixed_batch_goes_on_after_problems(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("good text")
    (tmp_path / "empty.txt").write_text("")
    items = run([str(tmp_path / "missing.txt"), str(tmp_path), "another-missing"])
    assert [type(i).__name__ for i in items] == ["Problem", "Problem", "RawDocument", "Problem"]


def test_a_single_string_input_is_one_path(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("one")
    assert only_doc(run(str(tmp_path / "one.txt"))).id == "one"


def test_reader_crash_becomes_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import storyline.ingest as ingest

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("reader bug")

    monkeypatch.setattr(ingest, "read_text_file", boom)
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.jsonl").write_text('{"id": "b", "text": "b"}\n')
    items = run([str(tmp_path)])
    assert "reader bug" in problems(items)[0].reason
    assert [d.id for d in docs(items)] == ["b"]


# --------------------------------------------------------------------------- JSON and JSON Lines


def _jsonl(path: Path, lines: list[object | str]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_jsonl_fields_and_malformed_line(tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "news.jsonl", [
        {"id": "a1", "title": "Quake", "text": "A quake struck.", "url": "https://n.example/a1",
         "source": "N", "published_at": "2024-03-01T10:00:00Z", "author": "R. Roe", "extra": 1},
        '{"id": "a2", "text": "broken',
        {"id": 7, "html": "<p>Hello</p>", "date": "1 March 2024"},
        "",
        {"id": "a4", "title": "no body"},
        {"id": "a5", "text": "   "},
        {"id": "a6", "text": ["not", "a", "string"]},
        [1, 2],
    ])
    items = run([str(f)])
    assert [i.origin if isinstance(i, RawDocument) else i.item for i in items] == [
        f"{f}:1", f"{f}:2", f"{f}:3", f"{f}:5", f"{f}:6", f"{f}:7", f"{f}:8"
    ]
    a1, a3, a4 = docs(items)
    assert (a4.id, a4.text, a4.title) == ("a4", "no body", "no body")  # a headline-only record
    assert a1 == RawDocument(id="a1", origin=f"{f}:1", text="A quake struck.", title="Quake",
                             url="https://n.example/a1", source="N",
                             published_at="2024-03-01T10:00:00Z", author="R. Roe")
    assert (a3.id, a3.html, a3.text, a3.published_at) == ("7", "<p>Hello</p>", None, "1 March 2024")
    bad = problems(items)
    assert bad[0].item == f"{f}:2" and bad[0].reason.startswith("invalid JSON: Unterminated string")
    assert bad[1].reason == "no text, html or title (or all empty)"
    assert "'text'" in bad[2].reason
    assert "not an object" in bad[3].reason


def test_gold_fields_never_pass(tmp_path: Path) -> None:
    secret = "SECRET-GOLD-LABEL-42"
    f = _jsonl(tmp_path / "dev.jsonl", [
        {"text": "Story text here.", "gold_event": secret, "GOLD_storyline": secret,
         "gold_id": secret},
    ])
    doc = only_doc(run([str(f)]))
    assert secret not in repr(doc)
    assert all(secret not in str(v) for v in dataclasses.astuple(doc))
    # The stable id must not depend on gold labels either.
    g = _jsonl(tmp_path / "dev2.jsonl", [{"text": "Story text here.", "gold_event": "other"}])
    assert only_doc(run([str(g)])).id == doc.id


def test_missing_id_is_stable_sha1(tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "x.jsonl", [{"text": "alpha"}, {"text": "beta"}, {"text": "alpha"}])
    first = docs(run([str(f)]))
    assert all(re.fullmatch(r"[0-9a-f]{16}", d.id) for d in first)
    assert first[0].id != first[1].id and first[0].id == first[2].id
    g = _jsonl(tmp_path / "y.jsonl", [{"note": "ignored", "text": "alpha"}])
    assert only_doc(run([str(g)])).id == first[0].id  # depends on content, not place


def test_numeric_timestamp(tmp_path: Path) -> None:
    f = _jsonl(tmp_path / "t.jsonl", [{"id": "t", "text": "x", "published_at": 1709287200},
                                       {"id": "u", "text": "x", "date": 1709287200000}])
    assert [d.published_at for d in docs(run([str(f)]))] == ["2024-03-01T10:00:00+00:00"] * 2


def test_json_array_object_and_jsonl_named_json(tmp_path: Path) -> None:
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps([{"id": "x", "text": "one"}, {"id": "y"}], indent=2))
    items = run([str(arr)])
    assert docs(items)[0].origin == f"{arr}[0]"
    assert problems(items)[0].item == f"{arr}[1]"
    obj = tmp_path / "obj.json"
    obj.write_text(json.dumps({"id": "o", "text": "single", "gold_x": 1}, indent=2))
    assert only_doc(run([str(obj)])).origin == str(obj)
    lines = _jsonl(tmp_path / "lines.json", [{"id": "l1", "text": "a"}, {"id": "l2", "text": "b"}])
    assert [d.id for d in docs(run([str(lines)]))] == ["l1", "l2"]
    bad_first = tmp_path / "bad_first.json"
    bad_first.write_text('{"id": "l0", "text": \n{"id": "l1", "text": "a"}\n{"id": "l2", "text": "b"}\n')
    items = run([str(bad_first)])
    assert [d.id for d in docs(items)] == ["l1", "l2"]
    assert problems(items)[0].item == f"{bad_first}:1"
    pretty = tmp_path / "pretty.jsonl"
    pretty.write_text(json.dumps([{"id": "p", "text": "pretty"}], indent=2))
    assert only_doc(run([str(pretty)])).id == "p"
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"id": "a", "text": "x"},\n  {"id": \n]')
    p = only_problem(run([str(broken)]))
    assert p.item == f"{broken}:4" and p.reason.startswith("invalid JSON")


def test_jsonl_encodings(tmp_path: Path) -> None:
    rec = json.dumps({"id": "e", "text": SAMPLE}, ensure_ascii=False) + "\n"
    for name, data in [("bom.jsonl", rec.encode("utf-8-sig")), ("u16.jsonl", rec.encode("utf-16")),
                       ("cp.jsonl", rec.encode("cp1252"))]:
        (tmp_path / name).write_bytes(data)
        assert only_doc(run([str(tmp_path / name)])).text == SAMPLE, name


def test_empty_jsonl(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("\n\n  \n")
    (tmp_path / "e.json").write_text("[]")
    assert only_problem(run([str(tmp_path / "e.jsonl")])).reason == "empty"
    assert "empty" in only_problem(run([str(tmp_path / "e.json")])).reason


def test_jsonl_gz_and_truncated_gz(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"id": f"r{i}", "text": f"record {i} " + "pad " * 50}) + "\n"
                    for i in range(200))
    f = tmp_path / "big.jsonl.gz"
    f.write_bytes(gzip.compress(lines.encode()))
    assert [d.id for d in docs(run([str(f)]))] == [f"r{i}" for i in range(200)]

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    items = run([str(cut)])
    got = docs(items)
    assert 0 < len(got) < 200
    assert [d.id for d in got] == [f"r{i}" for i in range(len(got))]  # kept what was read
    assert any("truncated or corrupt gzip" in p.reason for p in problems(items))

    notgz = tmp_path / "fake.jsonl.gz"
    notgz.write_text('{"id": "x", "text": "not gzip"}\n')
    assert "gzip" in only_problem(run([str(notgz)])).reason


# --------------------------------------------------------------------------- feed files

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Valley News</title><link>https://valley.example/</link>
  <item>
    <title>Floods hit the valley</title>
    <link>https://valley.example/floods</link>
    <guid>valley-1</guid>
    <pubDate>Fri, 01 Mar 2024 10:00:00 +0100</pubDate>
    <author>ed@valley.example (Ed)</author>
    <description>&lt;p&gt;Heavy rain &lt;b&gt;flooded&lt;/b&gt; the valley.&lt;/p&gt;</description>
  </item>
  <item>
    <title>Plain teaser</title>
    <link>https://valley.example/plain</link>
    <description>Just plain words &amp; more.</description>
  </item>
  <item><title>No body, no link</title></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Wire</title>
  <entry>
    <id>urn:uuid:1225c695</id>
    <title>Bridge reopens</title>
    <link href="https://wire.example/bridge"/>
    <updated>2024-03-02T08:30:00Z</updated>
    <author><name>Ann</name></author>
    <content type="html">&lt;p&gt;The bridge reopened after repairs.&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_rss_file(tmp_path: Path) -> None:
    f = tmp_path / "valley.rss"
    f.write_text(RSS)
    items = run([str(f)], fetch_linked_pages=False)
    first, second = docs(items)
    assert first.id == "valley-1" and first.title == "Floods hit the valley"
    assert first.url == "https://valley.example/floods" and first.source == "Valley News"
    assert first.published_at == "2024-03-01T09:00:00+00:00"
    assert first.html is not None and "<b>flooded</b>" in first.html and first.text is None
    assert first.author and "Ed" in first.author
    assert first.origin == f"{f}#1"
    assert second.id == "https://valley.example/plain"  # no guid: the link
    assert second.text == "Just plain words & more." and second.html is None
    p = problems(items)[0]
    assert p.item == f"{f}#3" and "no text" in p.reason


def test_atom_file(tmp_path: Path) -> None:
    f = tmp_path / "wire.atom"
    f.write_text(ATOM)
    doc = only_doc(run([str(f)], fetch_linked_pages=False))
    assert (doc.id, doc.title, doc.url, doc.source, doc.published_at, doc.author) == (
        "urn:uuid:1225c695", "Bridge reopens", "https://wire.example/bridge", "Atom Wire",
        "2024-03-02T08:30:00+00:00", "Ann")
    assert doc.html == "<p>The bridge reopened after repairs.</p>"


def test_cp1252_feed_and_non_feed_xml(tmp_path: Path) -> None:
    f = tmp_path / "legacy.xml"
    f.write_bytes(RSS.replace("UTF-8", "windows-1252").replace("Plain teaser", "Café “x”")
                  .encode("cp1252"))
    assert docs(run([str(f)], fetch_linked_pages=False))[1].title == "Café “x”"
    g = tmp_path / "sitemap.xml"
    g.write_text('<?xml version="1.0"?><urlset><url><loc>https://a.example/</loc></url></urlset>')
    assert "not an RSS/Atom feed" in only_problem(run([str(g)])).reason
    h = tmp_path / "empty.rss"
    h.write_text("  ")
    assert only_problem(run([str(h)])).reason == "empty"


# --------------------------------------------------------------------------- WARC


def _warc(path: Path, records: list[tuple[str, str, str, bytes]], *, gz: bool) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gz)
        for uri, status, ctype, body in records:
            if status == "request":
                rec = writer.create_warc_record(uri, "request", payload=io.BytesIO(b""),
                                                http_headers=StatusAndHeaders(
                                                    "GET / HTTP/1.1", [("Host", "x")],
                                                    is_http_request=True))
            else:
                headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
                rec = writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                                http_headers=headers)
            writer.write_record(rec)
    return path


WARC_RECORDS = [
    ("https://a.example/one", "request", "", b""),
    ("https://a.example/one", "200 OK", "text/html; charset=windows-1252",
     "<html><body>“Café” one</body></html>".encode("cp1252")),
    ("https://a.example/missing", "404 Not Found", "text/html", b"<html>404</html>"),
    ("https://a.example/logo.png", "200 OK", "image/png", b"\x89PNG\x00\x00"),
    ("https://a.example/two", "200 OK", "text/html", "<html><body>Zwei – Grüße</body></html>"
     .encode("utf-8")),
]


@pytest.mark.parametrize("gz", [False, True])
def test_warc(tmp_path: Path, gz: bool) -> None:
    f = _warc(tmp_path / ("crawl.warc.gz" if gz else "crawl.warc"), WARC_RECORDS, gz=gz)
    items = run([str(f)])
    assert problems(items) == []
    one, two = docs(items)
    assert one.url == "https://a.example/one" and one.id == stable_id("https://a.example/one")
    assert one.html == "<html><body>“Café” one</body></html>" and one.text is None
    assert two.html == "<html><body>Zwei – Grüße</body></html>"
    assert one.origin == f"{f}#2" and two.origin == f"{f}#5"


def test_truncated_warc_gz_keeps_what_was_read(tmp_path: Path) -> None:
    records = [(f"https://a.example/{i}", "200 OK", "text/html",
                f"<html><body>page {i} {'filler ' * 200}</body></html>".encode()) for i in range(20)]
    f = _warc(tmp_path / "full.warc.gz", records, gz=True)
    data = f.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    items = run([str(cut)])
    got = docs(items)
    assert 0 < len(got) < 20
    assert [d.url for d in got] == [f"https://a.example/{i}" for i in range(len(got))]
    p = problems(items)
    assert len(p) == 1 and "truncated or corrupt WARC" in p[0].reason


def test_not_a_warc(tmp_path: Path) -> None:
    f = tmp_path / "junk.warc"
    f.write_text("this is not an archive\n")
    assert "not a WARC" in only_problem(run([str(f)])).reason


# --------------------------------------------------------------------------- URLs and fetching

TEASER_RSS = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>Local Wire</title>
<item><title>Teaser one</title><link>{base}/article/1</link><guid>t1</guid>
  <description>Short teaser.</description></item>
<item><title>Teaser gone</title><link>{base}/article/gone</link><guid>t2</guid>
  <description>Teaser whose page is missing.</description></item>
<item><title>Nothing</title><link>{base}/article/gone</link><guid>t3</guid></item>
<item><title>Long</title><link>{base}/article/long</link><guid>t4</guid>
  <description>{long}</description></item>
</channel></rss>
"""

ARTICLE = "<html><head><title>Full one</title></head><body><p>Full article text.</p></body></html>"


def test_feed_url_fetches_teaser_pages(server: _Server) -> None:
    feed = server.add("/feed", TEASER_RSS.format(base=server.base, long="word " * 150),
                      "application/rss+xml")
    server.add("/article/1", ARTICLE)
    server.add("/article/long", "<html>should not be fetched</html>")
    items = run([feed], allow_private_urls=True)
    t1, t2, t4 = docs(items)
    assert t1.html == ARTICLE and t1.text is None and t1.url == f"{server.base}/article/1"
    assert t1.source == "Local Wire" and t1.title == "Teaser one" and t1.origin == f"{feed}#1"
    assert t2.text == "Teaser whose page is missing." and t2.html is None  # fetch failed: kept
    assert t4.text is not None and t4.text.startswith("word")
    (p,) = problems(items)
    assert p.item == f"{feed}#3" and "404" in p.reason
    fetched = [path for path, _ in server.requests]
    assert "/article/long" not in fetched
    assert all("storyline" in headers.get("User-Agent", "") for _, headers in server.requests)


def test_feed_url_without_fetching_linked_pages(server: _Server) -> None:
    feed = server.add("/feed.xml", TEASER_RSS.format(base=server.base, long="w " * 150), "text/xml")
    items = run([feed], allow_private_urls=True, fetch_linked_pages=False)
    assert len(docs(items)) == 3
    assert [path for path, _ in server.requests] == ["/feed.xml"]


def test_feed_file_fetches_teaser_pages_too(tmp_path: Path, server: _Server) -> None:
    server.add("/article/1", ARTICLE)
    f = tmp_path / "wire.xml"
    f.write_text(TEASER_RSS.format(base=server.base, long="w " * 150))
    assert docs(run([str(f)], allow_private_urls=True))[0].html == ARTICLE


def test_html_page_url(server: _Server) -> None:
    markup = '<html><head><meta charset="windows-1252"></head><body>“Grüße”</body></html>'
    url = server.add("/page", markup.encode("cp1252"), "text/html")
    doc = only_doc(run([url], allow_private_urls=True))
    assert doc.html == markup and doc.url == url and doc.origin == url
    assert doc.id == stable_id(url)


def test_url_content_types(server: _Server) -> None:
    # A feed served as text/html is still a feed; a PDF is neither.
    feed = server.add("/mislabelled", ATOM, "text/html")
    assert only_doc(run([feed], allow_private_urls=True, fetch_linked_pages=False)).title == \
        "Bridge reopens"
    pdf = server.add("/doc.pdf", b"%PDF-1.4 binary", "application/pdf")
    assert "neither a feed nor an HTML page" in only_problem(run([pdf], allow_private_urls=True)).reason
    empty = server.add("/empty", b"", "text/html")
    assert "empty" in only_problem(run([empty], allow_private_urls=True)).reason


def test_http_errors_and_redirects(server: _Server) -> None:
    assert "HTTP 404" in only_problem(run([server.base + "/nothing"], allow_private_urls=True)).reason
    server.add("/r0", b"", status=302, Location="/r1")
    server.add("/r1", b"", status=301, Location=f"{server.base}/page")
    server.add("/page", ARTICLE)
    doc = only_doc(run([server.base + "/r0"], allow_private_urls=True))
    assert doc.html == ARTICLE and doc.url == server.base + "/page"
    for i in range(7):
        server.add(f"/loop{i}", b"", status=302, Location=f"/loop{i + 1}")
    p = only_problem(run([server.base + "/loop0"], allow_private_urls=True))
    assert "more than 5 redirects" in p.reason
    assert len([r for r, _ in server.requests if r.startswith("/loop")]) == 6


def test_response_size_is_capped(server: _Server) -> None:
    url = server.add("/huge", "<html>" + "x" * 5000 + "</html>")
    assert "too large" in only_problem(run([url], allow_private_urls=True, max_file_bytes=1000)).reason


def test_unreachable_url_is_a_problem() -> None:
    url = f"http://127.0.0.1:{free_port()}/feed.xml"
    p = only_problem(run([url], allow_private_urls=True, fetch_timeout_s=5))
    assert p.item == url and "unreachable" in p.reason


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.1",
                                  "169.254.169.254", "[::1]", "0.0.0.0", "224.0.0.1",
                                  "100.64.0.1", "[::ffff:127.0.0.1]", "[fe80::1]"])
def test_private_urls_refused_by_default(host: str, server: _Server) -> None:
    server.add("/feed", ATOM, "application/atom+xml")
    url = f"http://{host}:{server.port}/feed"
    p = only_problem(run([url]))
    assert p.item == url and "refused" in p.reason and "allow_private_urls" in p.reason
    assert server.requests == []  # refused before connecting


def test_private_url_allowed_when_configured(server: _Server) -> None:
    url = server.add("/feed", ATOM, "application/atom+xml")
    assert len(docs(run([url], allow_private_urls=True, fetch_linked_pages=False))) == 1


def test_teaser_links_to_private_hosts_are_not_fetched(tmp_path: Path, server: _Server) -> None:
    server.add("/article/1", ARTICLE)
    f = tmp_path / "wire.rss"
    f.write_text(TEASER_RSS.format(base=server.base, long="w " * 150))
    items = run([str(f)])  # default: private hosts refused
    assert server.requests == []
    assert docs(items)[0].text == "Short teaser."  # teaser kept
    assert "refused" in problems(items)[0].reason


def test_redirect_to_private_address_is_refused(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pretend 127.0.0.1 is public so the first hop is allowed; 127.0.0.2 stays private.
    monkeypatch.setattr(fetch_mod, "is_public_address", lambda ip: str(ip) == "127.0.0.1")
    server.add("/page", ARTICLE)
    server.add("/go", b"", status=302, Location=f"http://127.0.0.2:{server.port}/page")
    assert only_doc(run([server.base + "/page"])).html == ARTICLE  # first hop fine, pinned IP
    p = only_problem(run([server.base + "/go"]))
    assert "refused" in p.reason and "127.0.0.2" in p.reason
    assert [r for r, _ in server.requests] == ["/page", "/go"]


def test_hostname_is_pinned_to_the_checked_address(
    server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name that resolves to a "public" address: the connection goes to that address, and the
    # server still sees the original Host header.
    monkeypatch.setattr(fetch_mod, "resolve",
                        lambda host, port: [ipaddress.ip_address("127.0.0.1")])
    monkeypatch.setattr(fetch_mod, "is_public_address", lambda ip: True)
    server.add("/page", ARTICLE)
    url = f"http://news.invalid:{server.port}/page"
    doc = only_doc(run([url]))
    assert doc.html == ARTICLE and doc.url == url
    assert server.requests[0][1]["Host"] == f"news.invalid:{server.port}"


def test_is_public_address() -> None:
    public = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"]
    private = ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.1.1", "::1",
               "fc00::1", "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "240.0.0.1",
               "100.64.0.1", "::ffff:10.0.0.1", "255.255.255.255"]
    assert all(fetch_mod.is_public_address(ipaddress.ip_address(a)) for a in public)
    assert not any(fetch_mod.is_public_address(ipaddress.ip_address(a)) for a in private)


def test_decode_errors_are_ingest_errors() -> None:
    with pytest.raises(IngestError, match="binary or undecodable"):
        decode_bytes(b"\x00\x01\x02binary")


def test_pinned_request_keeps_name_for_host_and_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_mod, "resolve", lambda host, port: [
        ipaddress.ip_address("2606:2800:220:1::1"), ipaddress.ip_address("93.184.216.34")])
    target, headers, ext = fetch_mod.check_url("https://u:pw@bücher.example:8443/a?q=1#f",
                                                IngestConfig())
    assert target == "https://93.184.216.34:8443/a?q=1"  # no credentials, no fragment
    assert headers == {"Host": "xn--bcher-kva.example:8443"}
    assert ext == {"sni_hostname": "xn--bcher-kva.example"}  # certificate checked for the name


def test_html_is_not_cut_at_max_article_chars(tmp_path: Path) -> None:
    f = tmp_path / "big.html"
    f.write_text("<html><body>" + "<p>x</p>" * 100 + "</body></html>")
    assert only_doc(run([str(f)], max_article_chars=50)).html == f.read_text()
