"""What corpus expansion needs from the outside world: a search provider and a page source.

A :class:`SearchProvider` answers a query with web-style results (``title``, ``url``,
``snippet``, ``date``); a :class:`PageSource` turns a URL into a
:class:`~lite_world.store.page.Page` (or ``None``). :class:`~lite_world.web.serper.SerperClient`
is a provider, :class:`~lite_world.web.fetch.PageFetcher` a page source, and
:class:`~lite_world.web.local.LocalDumpProvider` is both (offline, from a local page dump).

Example:
    >>> class Fixed:
    ...     def search(self, query, num=10):
    ...         return [{"title": "T", "url": "https://x.org/t", "snippet": query, "date": None}]
    >>> isinstance(Fixed(), SearchProvider)
    True
    >>> Fixed().search("q")[0]["snippet"]
    'q'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from lite_world.store.page import Page

__all__ = ["SearchProvider", "PageSource", "SEARCH_RESULT_KEYS"]

SEARCH_RESULT_KEYS = ("title", "url", "snippet", "date")
"""The keys of every search result dict (``date`` is ``None`` when unknown)."""


@runtime_checkable
class SearchProvider(Protocol):
    """Web search: ``search(query, num)`` returns up to ``num`` result dicts, best first."""

    def search(self, query: str, num: int = 10) -> list[dict[str, Any]]: ...


@runtime_checkable
class PageSource(Protocol):
    """Page download: ``fetch(url)`` returns the page, or ``None`` when it cannot be had."""

    def fetch(self, url: str) -> Page | None: ...
