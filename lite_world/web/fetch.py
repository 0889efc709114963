"""Download a web page and turn it into a :class:`~lite_world.store.page.Page`.

:class:`PageFetcher` GETs a URL with ``urllib``, refuses bodies over ``max_bytes`` and content
that is not HTML or plain text, and converts HTML to Markdown with the same trafilatura
settings the world builder uses (:func:`~lite_world.store.ingest.html.html_to_markdown`). It
never raises on network or parse failures: :meth:`PageFetcher.fetch` returns ``None`` and
counts the reason in :attr:`PageFetcher.stats`.

Example:
    >>> fetcher = PageFetcher(timeout_s=0.5)
    >>> fetcher.fetch("http://127.0.0.1:9/nothing-listens-here") is None
    True
    >>> dict(fetcher.stats)
    {'network_error': 1}
    >>> fetcher.fetch("ftp://example.org/x"), dict(fetcher.stats)["bad_url"]
    (None, 1)
"""

from __future__ import annotations

import http.client
import logging
import re
import threading
import urllib.error
import urllib.request
from collections import Counter

from lite_world.errors import ConfigError
from lite_world.store.page import Page

__all__ = ["DEFAULT_USER_AGENT", "PageFetcher"]

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (compatible; lite-world-fetcher/0.1; +https://github.com/lite-world)"
)
_CHARSET = re.compile(r"charset=([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w.:-]+)""", re.IGNORECASE)


class PageFetcher:
    """HTTP GET + HTML → Markdown; implements :class:`~lite_world.web.provider.PageSource`.

    Args:
        timeout_s: Seconds to wait for the response.
        max_bytes: Larger bodies are dropped (``too_large``).
        user_agent: The ``User-Agent`` header.
        source: The ``source`` recorded on fetched pages (provenance).

    Attributes:
        stats: Counts per outcome: ``ok``, ``bad_url``, ``http_error``, ``network_error``,
            ``too_large``, ``not_html``, ``parse_error``, ``empty``.
    """

    def __init__(
        self,
        timeout_s: float = 20.0,
        max_bytes: int = 5_000_000,
        user_agent: str = DEFAULT_USER_AGENT,
        *,
        source: str = "fetch",
    ) -> None:
        if timeout_s <= 0 or max_bytes < 1:
            raise ConfigError(
                f"Expects timeout_s > 0 and max_bytes >= 1, actual: {timeout_s}, {max_bytes}"
            )
        self.timeout_s = float(timeout_s)
        self.max_bytes = int(max_bytes)
        self.user_agent = user_agent
        self.source = source
        self.stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, reason: str, url: str, detail: str = "") -> None:
        with self._lock:
            self.stats[reason] += 1
        if reason != "ok":
            logger.info("fetch %s: %s %s", url, reason, detail)

    def fetch(self, url: str) -> Page | None:
        """The page at ``url``, or ``None`` (reason counted in :attr:`stats`); never raises."""
        if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
            self._count("bad_url", str(url))
            return None
        req = urllib.request.Request(
            url,
            headers={
                "User-Agent": self.user_agent,
                "Accept": "text/html,text/plain;q=0.9,*/*;q=0.1",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                final_url = resp.geturl() or url
                ctype = resp.headers.get("Content-Type", "") or ""
                length = resp.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > self.max_bytes:
                    self._count("too_large", url, length)
                    return None
                body = resp.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            self._count("http_error", url, str(exc.code))
            return None
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            self._count("network_error", url, f"{type(exc).__name__}: {exc}")
            return None
        if len(body) > self.max_bytes:
            self._count("too_large", url, f">{self.max_bytes} bytes")
            return None
        mime = ctype.split(";")[0].strip().lower()
        if mime and mime not in ("text/html", "application/xhtml+xml", "text/plain"):
            self._count("not_html", url, mime)
            return None
        text = _decode(body, ctype)
        try:
            if mime == "text/plain":
                markdown, title = text.strip(), ""
            else:
                from lite_world.store.ingest.html import html_to_markdown

                markdown, title = html_to_markdown(text, final_url)
        except Exception as exc:  # trafilatura/lxml failures on odd markup
            self._count("parse_error", url, f"{type(exc).__name__}: {exc}")
            return None
        markdown = markdown.replace("\x00", "").strip()
        if not markdown:
            self._count("empty", url)
            return None
        self._count("ok", url)
        return Page.create(final_url, title or final_url, markdown, source=self.source)


def _decode(body: bytes, content_type: str) -> str:
    m = _CHARSET.search(content_type) or _META_CHARSET.search(body[:4096])
    enc = m.group(1) if m else "utf-8"
    if isinstance(enc, bytes):
        enc = enc.decode("ascii", "replace")
    try:
        return body.decode(enc, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")
