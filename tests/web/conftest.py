"""Local servers on 127.0.0.1 that speak the protocols of the live web clients.

- ``serper_server``: Serper's ``POST /search`` (header ``X-API-KEY``, JSON ``{q, num, gl, hl}``,
  response ``organic: [{title, link, snippet, date?}]``), answering from real 2WikiMultihopQA
  paragraphs by word overlap, with switches for failures (``fail_next`` 5xx replies);
- ``page_server``: ``GET /wiki/<Title>`` serves those paragraphs as HTML pages, plus pages that
  break a fetcher on purpose (404, binary, oversize, empty, slow, redirect, latin-1).

Both record what they received, so tests assert on the real requests.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

import pytest

from lite_world.demo import DEMO_DATA

API_KEY = "test-serper-key"
N_PAGES = 40
_WORD = re.compile(r"\w+")


class LocalServer:
    """A ThreadingHTTPServer in a daemon thread; ``base_url`` has no trailing slash."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        self.pages: dict[str, dict[str, str]] = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _html(title: str, text: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in text.split("\n") if p.strip())
    return (
        f"<html><head><title>{title}</title><meta charset='utf-8'></head><body>"
        f"<nav>Home | About | Contact</nav><article><h1>{title}</h1>{paras}</article>"
        f"<footer>Copyright footer</footer></body></html>"
    )


@pytest.fixture(scope="session")
def wiki_pages() -> list[dict[str, str]]:
    """``N_PAGES`` real 2Wiki articles (paragraphs grouped by title) not in the tiny world."""
    paras = json.loads((DEMO_DATA / "2wikimultihopqa_corpus.json").read_text())
    by_title: dict[str, list[str]] = {}
    for p in paras:
        by_title.setdefault(p["title"], []).append(p["text"])
    out = []
    for title, texts in by_title.items():
        text = "\n".join(texts)
        if len(text) >= 300:
            out.append(
                {"title": title, "text": text, "path": "/wiki/" + quote(title.replace(" ", "_"))}
            )
        if len(out) == N_PAGES:
            break
    return out


class _PageHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(
        self,
        code: int,
        body: bytes,
        ctype: str = "text/html; charset=utf-8",
        extra: dict | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up (the /slow page's timeout test)
            pass

    def do_GET(self) -> None:
        state: LocalServer = self.server.state  # type: ignore[attr-defined]
        state.requests.append({"path": self.path, "headers": dict(self.headers)})
        path = self.path
        if path in state.pages:
            p = state.pages[path]
            return self._send(200, _html(p["title"], p["text"]).encode("utf-8"))
        if path == "/binary":
            return self._send(200, bytes(range(256)) * 10, "application/octet-stream")
        if path == "/huge":
            return self._send(200, b"<html><body><p>" + b"x" * 200_000 + b"</p></body></html>")
        if path == "/empty":
            return self._send(200, b"<html><body><script>var x = 1;</script></body></html>")
        if path == "/slow":
            time.sleep(2.0)
            return self._send(200, b"<html><body><p>late</p></body></html>")
        if path == "/redirect":
            return self._send(302, b"", extra={"Location": next(iter(state.pages))})
        if path == "/latin1":
            text = "Café Müller is a café in Zürich founded in 1921 by Hans Müller. " * 5
            body = f"<html><head><title>Café</title></head><body><article><p>{text}</p></article>"
            return self._send(200, body.encode("latin-1"), "text/html; charset=iso-8859-1")
        if path == "/plain":
            return self._send(
                200,
                ("Plain text page about the Eiffel Tower, completed in 1889. " * 4).encode(),
                "text/plain",
            )
        return self._send(404, b"not found")


class _SerperHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, code: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        state: LocalServer = self.server.state  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        state.requests.append(
            {"path": self.path, "key": self.headers.get("X-API-KEY"), "body": body}
        )
        if state.fail_next > 0:
            state.fail_next -= 1
            return self._json(503, {"message": "overloaded"})
        if self.path != "/search":
            return self._json(404, {"message": "unknown endpoint"})
        if self.headers.get("X-API-KEY") != API_KEY:
            return self._json(403, {"message": "Unauthorized."})
        q = set(_WORD.findall(str(body.get("q", "")).lower()))
        scored = []
        for path, p in state.pages.items():
            words = set(_WORD.findall((p["title"] + " " + p["text"]).lower()))
            overlap = len(q & words)
            if overlap:
                scored.append((-overlap, path, p))
        scored.sort(key=lambda x: (x[0], x[1]))
        organic = []
        for i, (_, path, p) in enumerate(scored[: int(body.get("num", 10))]):
            item = {
                "title": p["title"],
                "link": state.page_base + path,
                "snippet": p["text"][:150],
                "position": i + 1,
            }
            if i % 2 == 0:
                item["date"] = "Jan 5, 2021"
            organic.append(item)
        return self._json(200, {"searchParameters": body, "organic": organic})


@pytest.fixture(scope="session")
def page_server(wiki_pages) -> Iterator[LocalServer]:
    """Serves ``wiki_pages`` as HTML under ``/wiki/<Title>`` plus the failure pages."""
    srv = LocalServer(_PageHandler)
    srv.pages = {p["path"]: p for p in wiki_pages}
    yield srv
    srv.close()


@pytest.fixture()
def serper_server(page_server) -> Iterator[LocalServer]:
    """A fresh Serper-protocol server whose results link to ``page_server``'s pages."""
    srv = LocalServer(_SerperHandler)
    srv.pages = page_server.pages
    srv.page_base = page_server.base_url  # type: ignore[attr-defined]
    yield srv
    srv.close()


@pytest.fixture()
def title_of_path(wiki_pages):
    return {p["path"]: p["title"] for p in wiki_pages} | {
        unquote(p["path"]): p["title"] for p in wiki_pages
    }
