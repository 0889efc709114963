"""Ingest formats: JSONL/Parquet rows, HTML directories, WARC files and Wikipedia paragraph JSON."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from lite_world.build import BuildConfig, ingest
from lite_world.demo import DEMO_DATA
from lite_world.errors import IngestError
from lite_world.store.ingest.sources import RawPage, detect_kind, iter_source
from lite_world.store.lmdb_store import PageStore

FALLS = "Victoria Falls is a waterfall on the Zambezi River between Zambia and Zimbabwe. "
BODY = f"<p>{FALLS * 3}</p><ul><li>Zambia</li><li>Zimbabwe</li></ul>"


def _html(title: str, head_extra: str = "") -> str:
    return (
        f"<html><head><title>{title}</title>{head_extra}</head><body><nav>Home About</nav>"
        f"<article><h1>{title}</h1>{BODY.replace('Victoria Falls', title)}</article>"
        "<footer>(c)</footer></body></html>"
    )


def _ingest(tmp_path, inputs, min_chars=20, batch_size=1000):
    store = PageStore(tmp_path / "world", readonly=False)
    counts = ingest(
        store, inputs, BuildConfig(min_chars=min_chars, batch_size=batch_size, show_progress=False)
    )
    return store, counts


def _write_jsonl(path, rows, *, gz=False):
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


ROWS = [
    {
        "url": "https://a.org/text",
        "title": "Text row",
        "text": "Plain text body about the Bubye River in Zimbabwe.",
        "date": "2021-03-04",
    },
    {
        "url": "https://a.org/md",
        "title": "Markdown row",
        "markdown": "# Markdown row\n\n- a list item\n- another item",
    },
    {"url": "https://a.org/html", "html": _html("Html row")},
    {
        "url": "https://a.org/both",
        "title": "Both",
        "markdown": "The markdown field wins over text.",
        "text": "ignored",
    },
]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.jsonl", "rows"),
        ("a.JSONL.gz", "rows"),
        ("a.ndjson", "rows"),
        ("a.parquet", "rows"),
        ("a.warc", "warc"),
        ("a.warc.gz", "warc"),
        ("a.json", "json"),
        ("a.json.gz", "json"),
    ],
)
def test_detect_kind(name, kind):
    assert detect_kind(name) == kind


def test_detect_kind_directory_and_unknown(tmp_path):
    assert detect_kind(tmp_path) == "html_dir"
    with pytest.raises(
        IngestError,
        match=r"Expects a \.jsonl/\.parquet/\.warc\(\.gz\)/\.json file .*, actual: x\.csv",
    ):
        detect_kind("x.csv")


def test_missing_input(tmp_path):
    with pytest.raises(
        IngestError, match="Expects an ingest input at .*nope.jsonl, actual: it does not exist"
    ):
        iter_source(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_rows_text_markdown_html(tmp_path, gz):
    path = _write_jsonl(tmp_path / ("rows.jsonl.gz" if gz else "rows.jsonl"), ROWS, gz=gz)
    store, counts = _ingest(tmp_path, [path])
    assert counts == {"seen": 4, "added": 4, "too_short": 0, "duplicate": 0, "empty": 0}
    t = store.get("https://a.org/text")
    assert (t.title, t.markdown, t.date, t.source) == (
        "Text row",
        "Plain text body about the Bubye River in Zimbabwe.",
        "2021-03-04",
        path.name,
    )
    assert (
        store.get("https://a.org/md").markdown == "# Markdown row\n\n- a list item\n- another item"
    )
    h = store.get("https://a.org/html")
    assert h.title == "Html row"  # from the HTML <title>
    assert h.markdown.startswith("# Html row\n\nHtml row is a waterfall on the Zambezi River")
    assert h.markdown.endswith("- Zambia\n- Zimbabwe")
    assert "Home About" not in h.markdown and "(c)" not in h.markdown  # boilerplate removed
    assert store.get("https://a.org/both").markdown == "The markdown field wins over text."
    store.close()


def test_jsonl_skips_blank_lines_rows_without_url_and_non_objects(tmp_path):
    path = _write_jsonl(
        tmp_path / "r.jsonl",
        [
            "",
            {"title": "no url", "text": "some text here"},
            {"url": "   ", "text": "blank url"},
            "[1, 2, 3]",
            {"url": "https://a.org/ok", "text": "A valid row with enough text."},
            {"url": "https://a.org/empty", "title": "Nothing"},
        ],
    )
    assert [r.url for r in iter_source(path)] == ["https://a.org/ok", "https://a.org/empty"]
    store, counts = _ingest(tmp_path, [path])
    assert counts == {"seen": 2, "added": 1, "too_short": 0, "duplicate": 0, "empty": 1}
    assert store.get("https://a.org/ok").title == "https://a.org/ok"  # no title: the URL stands in
    store.close()


def test_jsonl_malformed_line(tmp_path):
    path = _write_jsonl(
        tmp_path / "bad.jsonl", [{"url": "https://a.org/1", "text": "fine"}, "{not json"]
    )
    with pytest.raises(
        IngestError, match=r"Expects one JSON object per line in .*bad\.jsonl, actual: line 2"
    ):
        list(iter_source(path))


def test_parquet_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "url": [r["url"] for r in ROWS] + [None],
            "title": [r.get("title") for r in ROWS] + ["no url"],
            "text": [r.get("text") for r in ROWS] + ["orphan"],
            "markdown": [r.get("markdown") for r in ROWS] + [None],
            "html": [r.get("html") for r in ROWS] + [None],
            "date": [r.get("date") for r in ROWS] + [None],
        }
    )
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path)
    raws = list(iter_source(path))
    assert [r.url for r in raws] == [r["url"] for r in ROWS]
    assert raws[0] == RawPage(
        "https://a.org/text", "Text row", None, ROWS[0]["text"], None, "2021-03-04", "rows.parquet"
    )
    store, counts = _ingest(tmp_path, [path])
    assert counts == {"seen": 4, "added": 4, "too_short": 0, "duplicate": 0, "empty": 0}
    assert store.get("https://a.org/html").title == "Html row"
    store.close()


def test_html_directory_canonical_and_fallback_urls(tmp_path):
    root = tmp_path / "site"
    (root / "www.example.org" / "a").mkdir(parents=True)
    (root / "misc").mkdir()
    canon = '<link rel="canonical" href="https://en.wikipedia.org/wiki/Bubye_River">'
    og = '<meta property="og:url" content="https://news.example.com/story/1">'
    relative = '<link rel="canonical" href="/relative/ignored">'
    (root / "www.example.org" / "a" / "canon.html").write_text(_html("Bubye River", canon))
    (root / "www.example.org" / "a" / "og.HTM").write_text(_html("Story", og))
    (root / "www.example.org" / "a" / "plain.html").write_text(_html("Plain"))
    (root / "misc" / "local.htm").write_text(_html("Local", relative))
    (root / "top.html").write_text(_html("Top"))
    (root / "notes.txt").write_text("not html, skipped")
    raws = list(iter_source(root))
    assert [r.url for r in raws] == [
        "https://local.lite-world/misc/local.htm",
        "https://local.lite-world/top.html",
        "https://en.wikipedia.org/wiki/Bubye_River",
        "https://news.example.com/story/1",
        "https://www.example.org/a/plain.html",
    ]
    assert {r.source for r in raws} == {"site"}
    store, counts = _ingest(tmp_path, [root])
    assert counts["added"] == 5
    p = store.get("https://en.wikipedia.org/wiki/Bubye_River")
    assert p.title == "Bubye River"
    assert p.markdown.startswith("# Bubye River\n\nBubye River is a waterfall")
    store.close()


def _write_warc(path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    records = [
        (
            "https://www.example.org/w1",
            "text/html; charset=utf-8",
            _html("First").encode(),
            "200 OK",
        ),
        ("https://www.example.org/logo.png", "image/png", b"\x89PNG\r\n\x1a\n binary", "200 OK"),
        ("https://www.example.org/gone", "text/html", _html("Gone").encode(), "404 Not Found"),
        ("https://www.example.org/w2", "TEXT/HTML", _html("Second").encode(), "200 OK"),
    ]
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=str(path).endswith(".gz"))
        for url, ctype, payload, status in records:
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            w.write_record(
                w.create_warc_record(
                    url,
                    "response",
                    payload=io.BytesIO(payload),
                    http_headers=http,
                    warc_headers_dict={"WARC-Date": "2020-05-17T10:11:12Z"},
                )
            )
        w.write_record(
            w.create_warc_record(
                "https://www.example.org/w1",
                "request",
                payload=io.BytesIO(b"GET /w1 HTTP/1.1\r\n\r\n"),
            )
        )
    return path


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_warc_keeps_html_responses_only(tmp_path, name):
    path = _write_warc(tmp_path / name)
    raws = list(iter_source(path))
    assert [(r.url, r.date, r.source) for r in raws] == [
        ("https://www.example.org/w1", "2020-05-17", name),
        ("https://www.example.org/w2", "2020-05-17", name),
    ]
    store, counts = _ingest(tmp_path, [path])
    assert counts == {"seen": 2, "added": 2, "too_short": 0, "duplicate": 0, "empty": 0}
    p = store.get("https://www.example.org/w2")
    assert (p.title, p.date) == ("Second", "2020-05-17")
    assert store.get("https://www.example.org/logo.png") is None
    store.close()


def test_damaged_warc(tmp_path):
    path = tmp_path / "bad.warc"
    path.write_bytes(b"garbage, not an archive\n" * 10)
    with pytest.raises(
        IngestError,
        match=r"Expects a readable WARC file at .*bad\.warc, actual: Unknown archive format",
    ):
        list(iter_source(path))


def test_wiki_paragraphs_grouped_by_title(tmp_path):
    paras = [
        {"title": "Hello Love (song)", "text": '"Hello Love" is a 1974 single by Hank Snow.'},
        {"title": "Publix", "text": "Publix is an American supermarket chain."},
        {"title": "Hello Love (song)", "text": "It was Snow's seventh number one."},
        {
            "title": "Hello Love (song)",
            "text": "It was Snow's seventh number one.",
        },  # repeated paragraph
        {"title": "Publix", "paragraph_text": "Founded in 1930 by George W. Jenkins."},
        {"title": "", "text": "no title: dropped"},
        {"title": "No text", "text": "   "},
    ]
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(paras))
    raws = list(iter_source(path))
    assert [(r.url, r.title) for r in raws] == [
        ("https://en.wikipedia.org/wiki/Hello_Love_(song)", "Hello Love (song)"),
        ("https://en.wikipedia.org/wiki/Publix", "Publix"),
    ]
    assert raws[0].markdown == (
        '# Hello Love (song)\n\n"Hello Love" is a 1974 single by Hank Snow.\n\n'
        "It was Snow's seventh number one."
    )
    assert (
        raws[1].markdown == "# Publix\n\nPublix is an American supermarket chain.\n\n"
        "Founded in 1930 by George W. Jenkins."
    )
    store, _ = _ingest(tmp_path, [path])
    p = store.get("en.wikipedia.org/wiki/Publix")
    assert (
        p.summary
        == "Publix. Publix is an American supermarket chain. Founded in 1930 by George W. Jenkins."
    )
    store.close()


def test_json_list_of_rows(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(
        json.dumps(
            [
                {"url": "https://a.org/1", "text": "first row"},
                "junk",
                {"url": "https://a.org/2", "text": "x"},
            ]
        )
    )
    assert [r.url for r in iter_source(path)] == ["https://a.org/1", "https://a.org/2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", r"Expects a JSON list in .*, actual: "),
        ('{"a": 1}', r"Expects a JSON list of .* actual: dict"),
    ],
)
def test_json_errors(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(IngestError, match=message):
        iter_source(path)


def test_min_chars_filter_counts_on_real_corpus(tmp_path):
    """The bundled MuSiQue corpus: counts follow from the data, computed independently."""
    path = DEMO_DATA / "musique_train_corpus.json"
    items = json.loads(path.read_text())[:300]
    small = tmp_path / "corpus.json"
    small.write_text(json.dumps(items))
    groups: dict[str, list[str]] = {}
    for it in items:
        t, x = it["title"].strip(), it["text"].strip()
        if t and x and x not in groups.setdefault(t, []):
            groups[t].append(x)
    lengths = [len(f"# {t}\n\n" + "\n\n".join(ps)) for t, ps in groups.items()]
    store, counts = _ingest(tmp_path, [small], min_chars=500, batch_size=7)
    short = sum(n < 500 for n in lengths)
    assert 0 < short < len(lengths)
    assert counts == {
        "seen": len(groups),
        "added": len(groups) - short,
        "too_short": short,
        "duplicate": 0,
        "empty": 0,
    }
    assert len(store) == len(groups) - short
    store.close()


def test_duplicates_are_counted(tmp_path):
    rows = [
        {"url": "https://a.org/1", "text": "Identical text published twice on the web."},
        {"url": "https://b.org/copy", "text": "Identical   text published twice on the web."},
        {"url": "https://A.org/1/", "text": "Other text at the same address."},
        {"url": "https://a.org/2", "text": "short"},
    ]
    path = _write_jsonl(tmp_path / "d.jsonl", rows)
    store, counts = _ingest(tmp_path, [path], min_chars=10, batch_size=2)
    # the third row's URL is stored after the first batch, so it is skipped before conversion
    assert counts == {"seen": 4, "added": 1, "too_short": 1, "duplicate": 2, "empty": 0}
    assert len(store) == 1
    store.close()
