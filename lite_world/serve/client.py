"""RemoteWorld: a world served over HTTP, with the interface of a local :class:`World`.

``SearchTool`` and ``VisitTool`` call ``world.search`` and ``world.get_page``; a
:class:`RemoteWorld` answers both from a ``lite-world serve`` process, so tool output is the
same text as in process. Pass its URL wherever a world path goes::

    gym.make("LiteSearch-v0", world="http://127.0.0.1:8000")

Connections are pooled (keep-alive, thread-safe, re-created after a fork). Connection errors,
5xx and 503 are retried with jittered exponential backoff (honouring ``Retry-After``) until
``retry_deadline_s``; then :class:`~lite_world.errors.ServiceError` says the service is down.
A refused request (4xx) is not retried: 422 raises :class:`~lite_world.errors.ConfigError`
naming the field.

No text argument makes the client raise: bodies are sent as ASCII JSON (``ensure_ascii``), so a
lone surrogate travels as a ``\\udXXX`` escape and the server reads it as U+FFFD; queries are cut
to the server's default limit and over-long URLs are known to be in no world.

Example:
    >>> w = RemoteWorld("http://127.0.0.1:8000")                 # doctest: +SKIP
    >>> w.search(["Carl Rogers"], k=3)[0][0].title               # doctest: +SKIP
    'Person-centered therapy'
    >>> RemoteWorld("ftp://x")
    Traceback (most recent call last):
    ...
    lite_world.errors.ConfigError: Expects an http:// or https:// world URL, actual: 'ftp://x'
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Collection, Sequence
from typing import Any

from lite_world.errors import ConfigError, ServiceError
from lite_world.serve.config import TOKEN_ENV
from lite_world.store.manifest import Manifest
from lite_world.store.page import Page
from lite_world.world import SearchHit

__all__ = ["RemoteWorld"]

logger = logging.getLogger(__name__)

_RETRY_STATUS = (500, 502, 503, 504)
MAX_URL_CHARS = (
    4096  # the server's default limit; longer URLs are not in any world (LMDB keys are short)
)
MAX_QUERY_CHARS = 2000  # the server's default limit; the encoder reads far fewer characters anyway


class RemoteWorld:
    """A world behind ``lite-world serve``.

    Args:
        url: the service, e.g. ``http://127.0.0.1:8000``.
        token: bearer token (default: ``$LITE_WORLD_TOKEN``, else none).
        timeout_s: read timeout of one attempt.
        connect_timeout_s: connect timeout of one attempt.
        retry_deadline_s: keep retrying failed attempts this long (covers a server restart).
        backoff_s: first backoff; doubles per attempt up to ``max_backoff_s``, with jitter.
        pool_size: keep-alive connections kept per process (more are opened under load).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 3.0,
        retry_deadline_s: float = 120.0,
        backoff_s: float = 0.05,
        max_backoff_s: float = 2.0,
        pool_size: int = 64,
    ):
        parts = urllib.parse.urlsplit(url if isinstance(url, str) else "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"Expects an http:// or https:// world URL, actual: {url!r}")
        self.url = url.rstrip("/")
        self.path = self.url  # World.path's place: where the world lives
        self._scheme, self._host = parts.scheme, parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        token = token if token is not None else os.environ.get(TOKEN_ENV) or None
        if token is not None and (
            not isinstance(token, str) or not token.isascii() or not token.isprintable()
        ):
            raise ConfigError(
                "Expects the token to be printable ASCII (it travels in an HTTP header), "
                "actual: other characters. Use the token the server was started with."
            )
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self.retry_deadline_s, self.backoff_s, self.max_backoff_s = (
            retry_deadline_s,
            backoff_s,
            max_backoff_s,
        )
        self.pool_size = pool_size
        self.retries = 0  # attempts retried so far (all threads)
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._pool: Any = None
        self._pid = -1
        self._manifest: Manifest | None = None

    # -- connection pool ------------------------------------------------------
    def _get_pool(self) -> Any:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    import urllib3

                    cls = (
                        urllib3.HTTPSConnectionPool
                        if self._scheme == "https"
                        else urllib3.HTTPConnectionPool
                    )
                    self._pool = cls(
                        self._host,
                        self._port,
                        maxsize=self.pool_size,
                        block=False,
                        retries=False,
                        timeout=urllib3.Timeout(
                            connect=self.connect_timeout_s, read=self.timeout_s
                        ),
                    )
                    self._pid = os.getpid()
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_pool"], d["_pid"], d["_lock"] = None, -1, None
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteWorld({self.url!r})"

    # -- one call, retried ------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one call and return its decoded JSON, retrying what a restart or overload causes."""
        import urllib3

        # ASCII JSON: a lone surrogate becomes a \udXXX escape instead of a UnicodeEncodeError
        data = (
            json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")
            if body is not None
            else None
        )
        start = time.monotonic()
        attempt = 0
        while True:
            retry_after = 0.0
            try:
                r = self._get_pool().urlopen(
                    method,
                    self._prefix + path,
                    body=data,
                    headers=self._headers,
                    retries=False,
                    redirect=False,
                    preload_content=True,
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if r.status < 300:
                    try:
                        return json.loads(r.data)
                    except ValueError as exc:
                        raise ServiceError(
                            f"Expects JSON from {self.url}{path}, actual: {r.data[:200]!r} ({exc})"
                        ) from None
                if r.status not in _RETRY_STATUS or (r.status == 500 and attempt >= 2):
                    self._raise_refused(
                        path, r.status, r.data
                    )  # a 500 that persists is a bug, not a restart
                problem = f"HTTP {r.status}: {r.data[:200].decode('utf-8', 'replace')}"
                try:
                    retry_after = float(r.headers.get("Retry-After") or 0)
                except ValueError:
                    retry_after = 0.0
            attempt += 1
            delay = min(self.max_backoff_s, self.backoff_s * 2 ** min(attempt - 1, 16)) * (
                0.5 + self._rng.random() / 2
            )
            delay = max(delay, min(retry_after, self.max_backoff_s * 2))
            elapsed = time.monotonic() - start
            if elapsed + delay > self.retry_deadline_s:
                raise ServiceError(
                    f"Expects a lite-world world service at {self.url}, actual: {method} {path} "
                    f"failed {attempt} times "
                    f"over {elapsed:.1f} s (last: {problem}). Is it running? Start one with: "
                    "lite-world serve WORLD "
                    f"--port {self._port}"
                )
            with self._lock:
                self.retries += 1
            logger.debug(
                "%s %s failed (%s); retry %d in %.2f s", method, path, problem, attempt, delay
            )
            time.sleep(delay)

    def _raise_refused(self, path: str, status: int, data: bytes) -> None:
        try:
            err = json.loads(data)["error"]
            message, field = err.get("message", ""), err.get("field")
        except (ValueError, KeyError, TypeError):
            message, field = data[:300].decode("utf-8", "replace"), None
        where = f", field {field!r}" if field else ""
        text = f"{self.url}{path} refused the request ({status}{where}): {message}"
        if status in (400, 413, 422):
            raise ConfigError(text)
        raise ServiceError(text)

    # -- the World interface ------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest.from_dict(self.request("GET", "/manifest"))
        return self._manifest

    def __len__(self) -> int:
        return self.manifest.page_count

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health")

    def search(
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        exclude: Collection[str] = (),
        snippets: bool = True,
    ) -> list[list[SearchHit]]:
        """Batched search, as :meth:`World.search`."""
        if isinstance(queries, str):
            raise ConfigError(
                "Expects a list of queries, actual: a single str. Wrap it: search([query])."
            )
        queries = list(queries)
        if not queries:
            return []
        if int(k) < 1:
            raise ConfigError(f"Expects k >= 1, actual: {k}")
        # a local world finds nothing for non-strings
        qs = [q[:MAX_QUERY_CHARS] if isinstance(q, str) else "" for q in queries]
        excl = _urls(exclude)
        out: list[list[SearchHit]] = []
        for i in range(0, len(qs), 32):
            body = {"queries": qs[i : i + 32], "k": int(k), "snippets": bool(snippets)}
            if excl:
                body["exclude"] = excl
            rows = self.request("POST", "/search", body)["results"]
            out.extend([SearchHit(**h) for h in row] for row in rows)
        return out

    def get_pages(self, urls: Sequence[str], *, exclude: Collection[str] = ()) -> list[Page | None]:
        """Many pages in one call (``None`` where missing or masked)."""
        out: list[Page | None] = [None] * len(urls)
        todo = [i for i, u in enumerate(urls) if isinstance(u, str) and len(u) <= MAX_URL_CHARS]
        excl = _urls(exclude)
        for j in range(0, len(todo), 16):
            idx = todo[j : j + 16]
            body: dict[str, Any] = {"urls": [urls[i] for i in idx]}
            if excl:
                body["exclude"] = excl
            pages = self.request("POST", "/browse", body)["pages"]
            for i, p in zip(idx, pages, strict=False):
                out[i] = Page.from_dict(p) if p is not None else None
        return out

    def get_page(self, url: str, *, exclude: Collection[str] = ()) -> Page | None:
        """The page for ``url`` unless missing or masked, as :meth:`World.get_page`."""
        return self.get_pages([url], exclude=exclude)[0]

    def browse(self, urls: Sequence[str], goal: str, *, exclude: Collection[str] = ()) -> str:
        """The server-rendered Visit tool text for ``urls`` and ``goal``."""
        body: dict[str, Any] = {"urls": list(urls), "goal": goal}
        if exclude:
            body["exclude"] = _urls(exclude)
        return self.request("POST", "/browse", body)["text"]


def _urls(urls: Collection[str]) -> list[str]:
    """The URLs that can name a page (strings within the server's limit), sorted and unique."""
    return sorted({u for u in urls if isinstance(u, str) and len(u) <= MAX_URL_CHARS})
