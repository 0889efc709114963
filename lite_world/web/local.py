"""An offline stand-in for the web: search and fetch over a larger local page dump.

:class:`LocalDumpProvider` reads any ingest input (JSONL/Parquet rows, a folder of HTML, a
WARC, Wikipedia paragraph JSON), keeps the pages in memory, indexes them with BM25 and answers
``search`` like :class:`~lite_world.web.serper.SerperClient` and ``fetch`` like
:class:`~lite_world.web.fetch.PageFetcher`, so corpus expansion runs without the internet.

Example:
    >>> import json, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "dump.jsonl"
    >>> rows = [{"url": "https://x.org/a", "title": "Alpha", "text": "Alpha is the first letter."},
    ...         {"url": "https://x.org/b", "title": "Beta", "text": "Beta is the second letter."}]
    >>> _ = p.write_text("\\n".join(json.dumps(r) for r in rows))
    >>> dump = LocalDumpProvider([p])
    >>> [r["url"] for r in dump.search("second letter", num=1)], dump.fetch("https://x.org/a").title
    (['https://x.org/b'], 'Alpha')
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from lite_world.errors import ConfigError, IngestError
from lite_world.store.page import Page
from lite_world.store.urls import normalize_url
from lite_world.tools.text import best_snippet

__all__ = ["LocalDumpProvider"]


class LocalDumpProvider:
    """Search + fetch over local pages (a :class:`SearchProvider` and a :class:`PageSource`).

    Args:
        inputs: Ingest inputs (see :func:`~lite_world.store.ingest.sources.iter_source`).
        min_chars: Pages with less text are left out.
        source: Provenance recorded on fetched pages (default ``local:<first input name>``).
    """

    def __init__(
        self,
        inputs: Sequence[str | os.PathLike[str]],
        *,
        min_chars: int = 0,
        source: str | None = None,
    ) -> None:
        from lite_world.index.sparse import BM25Index
        from lite_world.store.ingest.html import html_to_markdown
        from lite_world.store.ingest.sources import iter_source

        if not inputs:
            raise ConfigError("Expects at least one page dump input, actual: none")
        self.source = source or f"local:{os.path.basename(os.fspath(inputs[0]))}"
        self.pages: list[Page] = []
        self._by_url: dict[str, int] = {}
        for inp in inputs:
            for raw in iter_source(inp):
                title = raw.title
                md = raw.markdown or raw.text
                if not md and raw.html:
                    md, html_title = html_to_markdown(raw.html, raw.url)
                    title = title or html_title
                if not md or len(md) < min_chars:
                    continue
                page = Page.create(
                    raw.url, title or raw.url, md.strip(), source=self.source, date=raw.date
                )
                if page.url in self._by_url:
                    continue
                self._by_url[page.url] = len(self.pages)
                self.pages.append(page)
        if not self.pages:
            raise IngestError(
                f"Expects pages in the dump {list(map(str, inputs))}, actual: none kept"
            )
        self._bm25 = BM25Index.build(
            (f"{p.title}\n{p.markdown}" for p in self.pages), n_docs=len(self.pages)
        )
        self.calls = 0

    def __len__(self) -> int:
        return len(self.pages)

    def search(self, query: str, num: int = 10) -> list[dict[str, Any]]:
        """Up to ``num`` pages by BM25, as ``{title, url, snippet, date}``."""
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"Expects a non-empty query string, actual: {query!r}")
        self.calls += 1
        ids, _ = self._bm25.search([query], max(1, int(num)))
        out = []
        for i in ids[0].tolist():
            if i < 0:
                continue
            p = self.pages[i]
            out.append(
                {
                    "title": p.title,
                    "url": p.url,
                    "snippet": best_snippet(p.markdown, query),
                    "date": p.date,
                }
            )
        return out

    def fetch(self, url: str) -> Page | None:
        """The dump's page for ``url`` (normalised), or ``None``."""
        if not isinstance(url, str):
            return None
        i = self._by_url.get(normalize_url(url))
        return self.pages[i] if i is not None else None
