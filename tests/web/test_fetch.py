"""PageFetcher against a local HTTP server serving real Wikipedia text and broken pages."""

from __future__ import annotations

from lite_world.web import PageFetcher, PageSource


def test_fetch_real_page_to_markdown(page_server, wiki_pages):
    p = wiki_pages[0]
    fetcher = PageFetcher(timeout_s=5)
    page = fetcher.fetch(page_server.base_url + p["path"])
    assert page is not None and isinstance(fetcher, PageSource)
    assert page.title == p["title"]
    first_sentence = p["text"].split(". ")[0]
    assert first_sentence in page.markdown
    assert (
        "Copyright footer" not in page.markdown and "Contact" not in page.markdown
    )  # boilerplate gone
    assert page.source == "fetch" and page.url.startswith("http://127.0.0.1:")
    assert page_server.requests[-1]["headers"]["User-Agent"].startswith("Mozilla/5.0")
    assert fetcher.stats == {"ok": 1}


def test_failures_return_none_and_are_counted(page_server):
    fetcher = PageFetcher(timeout_s=0.5, max_bytes=100_000)
    base = page_server.base_url
    for path in ("/missing", "/binary", "/huge", "/empty", "/slow"):
        assert fetcher.fetch(base + path) is None
    assert fetcher.fetch("not a url") is None
    assert dict(fetcher.stats) == {
        "http_error": 1,
        "not_html": 1,
        "too_large": 1,
        "empty": 1,
        "network_error": 1,
        "bad_url": 1,
    }


def test_redirect_charset_and_plain_text(page_server, wiki_pages):
    fetcher = PageFetcher(timeout_s=5)
    redirected = fetcher.fetch(page_server.base_url + "/redirect")
    assert redirected is not None and redirected.title == wiki_pages[0]["title"]
    assert "/wiki/" in redirected.url  # the final URL after the redirect
    latin = fetcher.fetch(page_server.base_url + "/latin1")
    assert latin is not None and "Café Müller" in latin.markdown and "Zürich" in latin.markdown
    plain = fetcher.fetch(page_server.base_url + "/plain")
    assert plain is not None and plain.markdown.startswith("Plain text page about the Eiffel Tower")
    assert fetcher.stats["ok"] == 3
