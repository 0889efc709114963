"""The live web as a world: Serper search and Jina Reader pages behind the world interface.

:class:`LiveWorld` has the two primitives the local tools are built on (batched ``search`` and
``get_page``), so an env whose world is a ``LiveWorld`` renders live results with the very same
:func:`~lite_world.tools.search.render_search` and :func:`~lite_world.tools.visit.render_visit`
code as a local world: an agent sees one format whichever side it runs on. It counts queries
and pages read for the cost estimate (:func:`live_cost_usd`).

Example:
    >>> class Fixed:
    ...     def search(self, query, num=10):
    ...         return [{"title": "T", "url": "https://a.org/t", "snippet": query, "date": None}]
    >>> w = LiveWorld(Fixed(), reader=None)
    >>> [h.url for h in w.search(["q"], k=3)[0]], w.stats()["search_queries"]
    (['https://a.org/t'], 1)
    >>> live_cost_usd({"search_queries": 1000, "page_chars": 0})
    1.0
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lite_world.cache import LRUCache
from lite_world.errors import LiteWorldError
from lite_world.store.page import Page
from lite_world.store.urls import normalize_url

__all__ = ["LiveWorld", "live_cost_usd", "SERPER_USD_PER_1K", "JINA_USD_PER_1M_TOKENS"]

logger = logging.getLogger(__name__)

SERPER_USD_PER_1K = 1.0
"""Serper's list price per 1,000 queries at its entry tier (an estimate; set your own)."""
JINA_USD_PER_1M_TOKENS = 0.02
"""Jina Reader's price per million output tokens (an estimate; about 4 characters per token)."""


def live_cost_usd(
    stats: Mapping[str, Any],
    *,
    serper_per_1k: float = SERPER_USD_PER_1K,
    jina_per_1m_tokens: float = JINA_USD_PER_1M_TOKENS,
) -> float:
    """Estimated USD for ``stats`` (``search_queries`` and ``page_chars``) at list prices."""
    tokens = stats.get("page_chars", 0) / 4
    return round(
        stats.get("search_queries", 0) / 1000 * serper_per_1k + tokens / 1e6 * jina_per_1m_tokens, 6
    )


class LiveWorld:
    """Live search (any ``search(query, num)`` provider, e.g. ``SerperClient``) + live pages
    (``JinaReader``).

    Args:
        search_provider: returns ``[{title, url, snippet, date}]`` for a query.
        reader: has ``read_page(url) -> Page | None`` (``None``: pages cannot be read).
        max_workers: queries of one call run in parallel.
        page_cache_size: pages kept per process (a re-visit costs nothing).
    """

    def __init__(
        self,
        search_provider: Any,
        reader: Any | None,
        *,
        max_workers: int = 4,
        page_cache_size: int = 1024,
    ):
        self.provider, self.reader, self.max_workers = (
            search_provider,
            reader,
            max(1, int(max_workers)),
        )
        self._pages: LRUCache[Page | None] = LRUCache(page_cache_size)
        self._lock = threading.Lock()
        self._stats = {
            "search_queries": 0,
            "search_failures": 0,
            "page_reads": 0,
            "page_failures": 0,
            "page_chars": 0,
        }

    manifest = None  # a live world has no snapshot manifest

    def _count(self, **kw: int) -> None:
        with self._lock:
            for k, v in kw.items():
                self._stats[k] += v

    def stats(self) -> dict[str, int]:
        """Queries sent, pages read, failures and characters received."""
        with self._lock:
            return dict(self._stats)

    def _one(self, query: str, k: int, exclude: set[str]) -> list[Any]:
        from lite_world.world import SearchHit

        self._count(search_queries=1)
        try:
            rows = self.provider.search(query, num=k)
        except LiteWorldError as exc:
            logger.warning("live search %r failed: %s", query, exc)
            self._count(search_failures=1)
            return []
        hits: list[Any] = []
        for r in rows:
            if exclude and normalize_url(r["url"]) in exclude:
                continue
            hits.append(
                SearchHit(
                    len(hits) + 1,
                    r["url"],
                    r.get("title") or "",
                    r.get("snippet") or "",
                    r.get("date"),
                    0.0,
                )
            )
        return hits[:k]

    def search(
        self, queries: Sequence[str], k: int = 10, *, exclude: Collection[str] = ()
    ) -> list[list[Any]]:
        """One provider request per query (in parallel); excluded URLs are dropped."""
        masked = {normalize_url(u) for u in exclude}
        if len(queries) <= 1:
            return [self._one(q, k, masked) for q in queries]
        with ThreadPoolExecutor(min(self.max_workers, len(queries))) as pool:
            return list(pool.map(lambda q: self._one(q, k, masked), queries))

    def get_page(self, url: str, *, exclude: Collection[str] = ()) -> Page | None:
        """The live page, read once per process; ``None`` when excluded or unreadable."""
        if self.reader is None or not isinstance(url, str):
            return None
        nurl = normalize_url(url)
        if exclude and nurl in {normalize_url(u) for u in exclude}:
            return None
        cached = self._pages.get(nurl)
        if cached is not None:
            return cached
        page = self.reader.read_page(url)
        self._count(
            page_reads=1,
            page_failures=int(page is None),
            page_chars=len(page.markdown) if page else 0,
        )
        if page is not None:
            self._pages.put(nurl, page)
        return page

    def close(self) -> None:
        """Nothing to release (HTTP clients hold no connections between calls)."""
