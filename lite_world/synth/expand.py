"""Step 4, corpus expansion: pull pages related to each kept question into the world.

For every task the question (and its key entities) is sent to a
:class:`~lite_world.web.provider.SearchProvider` (Serper, or the offline
:class:`~lite_world.web.local.LocalDumpProvider`); each new result URL is fetched through a
:class:`~lite_world.web.provider.PageSource` (the provider itself when it can fetch, else a
:class:`~lite_world.web.fetch.PageFetcher`). Pages already in the world, seen twice, shorter
than ``min_chars`` or unfetchable are counted and skipped. The new pages are written to a
JSONL file with their provenance (task, query, provider, rank) and added to the world with
:func:`~lite_world.build.build_world`, which embeds only the new rows and re-indexes; the
world's manifest lists the file among its sources and every new page's ``source`` names it.

Expansion is a build step: the world stays closed at training time.

Example:
    >>> expansion_queries({"question": "Which river flows through Albany?"})
    ['Which river flows through Albany?', 'Albany']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.errors import LiteWorldError
from lite_world.store.page import content_hash
from lite_world.store.urls import normalize_url
from lite_world.synth.audit import key_entities
from lite_world.synth.records import StepReport, write_jsonl

__all__ = ["expand_world", "collect_pages", "expansion_queries"]

logger = logging.getLogger(__name__)


def expansion_queries(task: Mapping[str, Any], max_entities: int = 1) -> list[str]:
    """The question, then up to ``max_entities`` key entities of it."""
    q = str(task.get("question", "")).strip()
    return [q, *[e for e in key_entities(q, max_entities) if e != q]]


def collect_pages(
    tasks: Sequence[Mapping[str, Any]],
    provider: Any,
    *,
    page_source: Any | None = None,
    known_urls: Any = (),
    num: int = 5,
    max_entities: int = 1,
    min_chars: int = 500,
    provider_name: str | None = None,
    show_progress: bool = True,
    report: StepReport | None = None,
) -> tuple[list[dict[str, Any]], StepReport]:
    """New page rows ``{url, title, markdown, date, provenance}`` for ``tasks`` (none written).

    ``known_urls`` supports ``in`` (a set, or a world's page store) and holds pages to skip.
    """
    report = report or StepReport("expand")
    report.n_in += len(tasks)
    report.extra.setdefault("unit_in", "tasks")
    source = (
        page_source
        if page_source is not None
        else (provider if hasattr(provider, "fetch") else None)
    )
    if source is None:
        from lite_world.web.fetch import PageFetcher

        source = PageFetcher()
    pname = provider_name or type(provider).__name__
    seen_urls: set[str] = set()
    seen_hashes: set[str] = set()
    rows: list[dict[str, Any]] = []
    stats = report.extra.setdefault("results", {"returned": 0, "fetched": 0})
    for t in tqdm(tasks, desc="expand", unit="task", disable=not show_progress):
        for q in expansion_queries(t, max_entities):
            try:
                results = provider.search(q, num=num)
            except LiteWorldError as exc:
                logger.warning("search failed for %r: %s", q, exc)
                report.drop("search_error")
                continue
            for rank, r in enumerate(results, 1):
                stats["returned"] += 1
                url = r.get("url") if isinstance(r, dict) else None
                if not isinstance(url, str):
                    report.drop("bad_result")
                    continue
                nurl = normalize_url(url)
                if nurl in seen_urls:
                    report.drop("seen_this_run")
                    continue
                seen_urls.add(nurl)
                if nurl in known_urls:
                    report.drop("in_world")
                    continue
                page = source.fetch(url)
                if page is None:
                    report.drop("fetch_failed")
                    continue
                stats["fetched"] += 1
                if len(page.markdown) < min_chars:
                    report.drop("too_short")
                    continue
                h = content_hash(page.markdown)
                if h in seen_hashes:
                    report.drop("duplicate_content")
                    continue
                seen_hashes.add(h)
                rows.append(
                    {
                        "url": page.url,
                        "title": page.title,
                        "markdown": page.markdown,
                        "date": page.date or r.get("date"),
                        "provenance": {
                            "task_id": t.get("id"),
                            "query": q,
                            "provider": pname,
                            "rank": rank,
                            "result_url": url,
                            "fetched_from": getattr(page, "source", ""),
                        },
                    }
                )
                report.keep()
    return rows, report


def expand_world(
    tasks: Sequence[Mapping[str, Any]],
    world: str | os.PathLike[str],
    provider: Any,
    out: str | os.PathLike[str],
    *,
    page_source: Any | None = None,
    num: int = 5,
    max_entities: int = 1,
    min_chars: int = 500,
    build: bool = True,
    show_progress: bool = True,
) -> tuple[list[dict[str, Any]], StepReport]:
    """Collect new pages for ``tasks``, write them to ``out`` (JSONL with provenance) and, with
    ``build``, add them to the world at ``world`` in place (new rows embedded, indexes rebuilt).

    Returns the page rows and the report (``extra["world"]`` holds the build's ingest counts and
    the page count before and after).
    """
    from lite_world.build import BuildConfig, build_world
    from lite_world.store.lmdb_store import PageStore
    from lite_world.store.manifest import read_manifest

    wpath = Path(world)
    manifest = read_manifest(wpath)
    with PageStore(wpath) as store:
        rows, report = collect_pages(
            tasks,
            provider,
            page_source=page_source,
            known_urls=store,
            num=num,
            max_entities=max_entities,
            min_chars=min_chars,
            show_progress=show_progress,
        )
    write_jsonl(out, rows)
    info: dict[str, Any] = {"pages_before": manifest.page_count, "pages_file": str(out)}
    if build and rows:
        cfg = BuildConfig(
            min_chars=min_chars, embedder=manifest.embedder, show_progress=show_progress
        )
        new = build_world([out], wpath, cfg)
        info.update(pages_after=new.page_count, last_ingest=new.build_config.get("last_ingest"))
    else:
        info["pages_after"] = manifest.page_count
    report.extra["world"] = info
    return rows, report
