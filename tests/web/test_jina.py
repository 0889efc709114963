"""``JinaReader`` against a local server speaking the Reader protocol (``GET /<url>``, bearer)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lite_world.errors import ConfigError, ServiceError
from lite_world.web.jina import JINA_KEY_ENV, JinaReader

KEY = "test-jina-key"
PAGES = {
    "https://en.wikipedia.org/wiki/Carl_Rogers": (
        "Carl Rogers",
        "# Carl Rogers\n\nCarl Rogers was an American "
        "psychologist, a founder of the humanistic approach.",
    ),
}


class _Reader(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        s = self.server
        s.requests.append(
            {
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "accept": self.headers.get("Accept"),
            }
        )
        if s.fail_next > 0:
            s.fail_next -= 1
            return self._send(503, b"busy", "text/plain")
        if s.require_key and self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, b'{"code":401}', "application/json")
        url = self.path[1:]
        if url not in PAGES:
            return self._send(422, b'{"code":422,"message":"could not read"}', "application/json")
        title, content = PAGES[url]
        if s.plain:
            text = (
                f"Title: {title}\n\nURL Source: {url}\n\nPublished Time: 2024-01-02\n\n"
                f"Markdown Content:\n{content}"
            )
            return self._send(200, text.encode(), "text/plain; charset=utf-8")
        body = {
            "code": 200,
            "status": 20000,
            "data": {"title": title, "url": url, "content": content},
        }
        self._send(200, json.dumps(body).encode(), "application/json")


@pytest.fixture()
def reader_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Reader)
    srv.daemon_threads = True
    srv.requests, srv.fail_next, srv.require_key, srv.plain = [], 0, True, False
    srv.base_url = f"http://127.0.0.1:{srv.server_address[1]}"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


URL = "https://en.wikipedia.org/wiki/Carl_Rogers"


def test_read_sends_the_protocol_and_returns_markdown(reader_server):
    r = JinaReader(api_key=KEY, base_url=reader_server.base_url)
    assert r.read(URL) == PAGES[URL][1]
    req = reader_server.requests[-1]
    assert req == {"path": "/" + URL, "auth": f"Bearer {KEY}", "accept": "application/json"}
    assert (r.calls, r.failures, r.chars) == (1, 0, len(PAGES[URL][1]))


def test_read_page_builds_a_page_and_plain_text_replies_work(reader_server):
    reader_server.plain = True
    page = JinaReader(api_key=KEY, base_url=reader_server.base_url).read_page(URL)
    assert page.title == "Carl Rogers" and page.date == "2024-01-02" and page.source == "jina"
    assert page.markdown.startswith("# Carl Rogers") and page.url == URL


def test_key_from_environment_and_none(reader_server, monkeypatch):
    monkeypatch.setenv(JINA_KEY_ENV, KEY)
    assert JinaReader(base_url=reader_server.base_url).read(URL)
    monkeypatch.delenv(JINA_KEY_ENV)
    keyless = JinaReader(base_url=reader_server.base_url)
    with pytest.raises(ServiceError, match="HTTP 401.*JINA_API_KEY"):
        keyless.read(URL)
    assert reader_server.requests[-1]["auth"] is None and keyless.failures == 1


def test_retries_5xx_then_succeeds(reader_server):
    reader_server.fail_next = 2
    r = JinaReader(api_key=KEY, base_url=reader_server.base_url, retries=2, backoff_s=0.01)
    assert r.read(URL) == PAGES[URL][1] and r.calls == 3


def test_failures(reader_server):
    r = JinaReader(api_key=KEY, base_url=reader_server.base_url, retries=0)
    assert r.read_page("https://nowhere.example/x") is None  # 422: not readable
    with pytest.raises(ServiceError, match="HTTP 422"):
        r.read("https://nowhere.example/x")
    with pytest.raises(ConfigError, match="Expects an http"):
        r.read("ftp://x")
    dead = JinaReader(
        api_key=KEY, base_url="http://127.0.0.1:9", retries=1, backoff_s=0.01, timeout_s=0.5
    )
    with pytest.raises(ServiceError, match="after 2 attempt"):
        dead.read(URL)
    with pytest.raises(ConfigError, match="base_url"):
        JinaReader(base_url="r.jina.ai")
    assert KEY not in repr(JinaReader(api_key=KEY))
