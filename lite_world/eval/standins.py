"""Local servers that speak the live services' protocols, answering from a world.

:class:`ProtocolServers` runs, on 127.0.0.1, a Serper stand-in (``POST /search``, header
``X-API-KEY``, JSON ``{q, num, gl, hl}`` -> ``{"organic": [{title, link, snippet, date?,
position}]}``)
and a Jina Reader stand-in (``GET /<page URL>`` -> ``{"code": 200, "data": {title, url,
content}}``).
The real :class:`~lite_world.web.serper.SerperClient` and :class:`~lite_world.web.jina.JinaReader`
talk to them unchanged, so the live path (``--tools live``) and the local-versus-live comparison
run end to end offline. Both record the requests they received.

Example:
    >>> with ProtocolServers(world) as s:                          # doctest: +SKIP
    ...     SerperClient(api_key=s.api_key, base_url=s.serper_url).search("Paris")[0]["url"]
    'https://en.wikipedia.org/wiki/Paris'
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ProtocolServers"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # keep test and CLI output clean
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # Serper
        owner = self.server.owner
        if self.path.rstrip("/") != "/search":
            return self._reply(404, {"message": "not found"})
        if self.headers.get("X-API-KEY") != owner.api_key:
            return self._reply(403, {"message": "Unauthorized."})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            q, num = str(body["q"]), int(body.get("num", 10))
        except (ValueError, KeyError, TypeError):
            return self._reply(400, {"message": "bad request"})
        owner.log("serper", {"q": q, "num": num, "gl": body.get("gl"), "hl": body.get("hl")})
        hits = owner.world.search([q], num)[0]
        organic = [
            {
                "title": h.title,
                "link": h.url,
                "snippet": h.snippet,
                "position": h.rank,
                **({"date": h.date} if h.date else {}),
            }
            for h in hits
        ]
        self._reply(200, {"searchParameters": {"q": q, "num": num}, "organic": organic})

    def do_GET(self) -> None:  # Jina Reader
        owner = self.server.owner
        if owner.api_key and self.headers.get("Authorization") != f"Bearer {owner.api_key}":
            return self._reply(401, {"code": 401, "message": "invalid API key"})
        url = self.path[1:]
        owner.log("jina", {"url": url})
        page = owner.world.get_page(url)
        if page is None:
            return self._reply(422, {"code": 422, "message": f"could not read {url}"})
        self._reply(
            200,
            {
                "code": 200,
                "status": 20000,
                "data": {"title": page.title, "url": url, "content": page.markdown},
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ProtocolServers


class ProtocolServers:
    """A Serper and a Jina Reader stand-in over ``world`` (it has ``search`` and ``get_page``)."""

    def __init__(self, world: Any, api_key: str = "local-standin-key"):
        self.world, self.api_key = world, api_key
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    def log(self, service: str, req: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((service, req))

    def start(self) -> ProtocolServers:
        for _ in range(2):
            srv = _Server(("127.0.0.1", 0), _Handler)
            srv.owner = self
            t = threading.Thread(target=srv.serve_forever, daemon=True, name="lite-world-standin")
            t.start()
            self._servers.append(srv)
            self._threads.append(t)
        return self

    @property
    def serper_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def jina_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    def stop(self) -> None:
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> ProtocolServers:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
