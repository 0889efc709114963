"""Benchmark worlds: a frozen world built from a benchmark's own evidence, for reproducible offline
runs.

:func:`build_eval_world` builds a world with :func:`~lite_world.build.build_world`:

- **BrowseComp-Plus**: straight from its fixed document corpus (``corpus=``: rows with ``docid``,
  ``text`` and optionally ``url`` / ``title``); documents without a URL get
  ``https://browsecomp-plus.local/doc/<docid>``;
- **sets that list evidence URLs** (Frames' Wikipedia links, FanOutQA's evidence pages, Seal's
  URLs, WebWalkerQA's pages): each URL once, from a local dump (``dump=``: JSONL / Parquet / JSON
  rows with ``url`` and ``markdown`` / ``text`` / ``html``) or through a page fetcher
  (:class:`~lite_world.web.fetch.PageFetcher` or anything with ``fetch(url) -> Page | None``);
- plus distractor pages (``distractors=``: any input ``lite-world build`` reads).

It writes ``eval_world.json`` next to the world's manifest: the benchmark, the URLs asked for,
which came from where (provenance) and which are missing, and per item whether its evidence is
complete, so a report can say which items cannot be answered from the world.

Example:
    >>> from lite_world.web.fetch import PageFetcher
    >>> info = build_eval_world("frames", "frames.tsv", "worlds/frames",
    ...                         fetcher=PageFetcher())      # doctest: +SKIP
    >>> info["items"]["complete"]                           # doctest: +SKIP
    824
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lite_world.errors import ConfigError, TaskError
from lite_world.eval.loaders import load_benchmark
from lite_world.eval.rows import read_rows, require_columns
from lite_world.eval.runner import EVAL_WORLD_FILE
from lite_world.store.urls import normalize_url

__all__ = ["build_eval_world", "read_dump", "BCP_URL"]

logger = logging.getLogger(__name__)

BCP_URL = "https://browsecomp-plus.local/doc/{docid}"
"""URL given to BrowseComp-Plus documents that have none."""


def read_dump(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """A local page dump as ``normalised URL -> row`` (``url``, ``title``, ``markdown|text|html``,
    ``date``)."""
    paths = sorted(Path(path).rglob("*.jsonl")) if Path(path).is_dir() else [Path(path)]
    out: dict[str, dict[str, Any]] = {}
    for p in paths:
        rows = read_rows(p)
        require_columns(rows, ("url",), bench="page dump", path=p)
        for r in rows:
            if any(r.get(k) for k in ("markdown", "text", "html")):
                out[normalize_url(str(r["url"]))] = {
                    k: r.get(k)
                    for k in ("url", "title", "markdown", "text", "html", "date")
                    if r.get(k) is not None
                }
    return out


def _corpus_rows(corpus: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows = read_rows(corpus)
    require_columns(rows, ("docid", "text"), bench="browsecomp-plus corpus", path=corpus)
    pages, docid_urls = [], {}
    for r in rows:
        docid = str(r["docid"])
        url = str(r.get("url") or "") or BCP_URL.format(docid=docid)
        text = str(r["text"])
        title = str(r.get("title") or "") or text.strip().split("\n", 1)[0][:120]
        docid_urls[docid] = url
        pages.append({"url": url, "title": title, "text": text})
    return pages, docid_urls


def _fetch_all(
    urls: Sequence[str],
    fetcher: Any,
    dump: dict[str, dict[str, Any]] | None,
    workers: int,
    show_progress: bool,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows for the pages found and ``url -> provenance`` (``dump``, ``fetch`` or ``missing``)."""

    def one(url: str) -> tuple[str, dict[str, Any] | None, str]:
        if dump is not None:
            row = dump.get(normalize_url(url))
            if row is not None:
                return url, {**row, "url": url}, "dump"
        if fetcher is not None:
            page = fetcher.fetch(url)
            if page is not None:
                return (
                    url,
                    {"url": url, "title": page.title, "markdown": page.markdown, "date": page.date},
                    "fetch",
                )
        return url, None, "missing"

    rows, prov = [], {}
    bar = tqdm(total=len(urls), desc="evidence pages", unit="page", disable=not show_progress)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for url, row, how in pool.map(one, urls):
            prov[url] = how
            if row is not None:
                rows.append(row)
            bar.update(1)
    bar.close()
    return rows, prov


def build_eval_world(
    bench: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    corpus: str | os.PathLike[str] | None = None,
    fetcher: Any = None,
    dump: str | os.PathLike[str] | None = None,
    distractors: Sequence[str | os.PathLike[str]] = (),
    min_chars: int = 200,
    embedder: Any = None,
    workers: int = 8,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Build the world of benchmark ``bench`` from its file ``data`` into ``out``.

    Returns:
        The content of ``eval_world.json`` (also written into ``out``).
    """
    from lite_world.build import BuildConfig, build_world

    t0 = time.perf_counter()
    loaded = load_benchmark(bench, data)
    tasks = loaded.tasks
    work = Path(tempfile.mkdtemp(prefix="lite-world-evalworld-"))
    info: dict[str, Any] = {
        "bench": loaded.bench,
        "data": Path(data).name,
        "items_total": len(tasks),
    }
    try:
        if loaded.bench == "browsecomp-plus":
            if corpus is None:
                raise ConfigError(
                    "Expects corpus=PATH (the BrowseComp-Plus document corpus) for "
                    "browsecomp-plus, "
                    "actual: None. Pass --corpus PATH."
                )
            rows, docid_urls = _corpus_rows(corpus)
            info.update(docid_urls=docid_urls, provenance={"corpus": Path(corpus).name})
            present = set(docid_urls)
            per_item = {
                t.id: [d for d in t.meta.get("relevant_docids", []) if d not in present]
                for t in tasks
            }
        else:
            urls = list(dict.fromkeys(u for t in tasks for u in t.meta.get("evidence_urls", [])))
            if not urls:
                raise TaskError(
                    f"Expects evidence URLs in the {loaded.bench} items to build a world from, "
                    "actual: none. "
                    "Evaluate it with --tools live, or in a world you built yourself (--world)."
                )
            if fetcher is None and dump is None:
                raise ConfigError(
                    "Expects a page source: dump=PATH (a local page dump) and/or "
                    "fetcher=PageFetcher(), "
                    "actual: neither."
                )
            rows, prov = _fetch_all(
                urls, fetcher, read_dump(dump) if dump else None, workers, show_progress
            )
            missing = {u for u, how in prov.items() if how == "missing"}
            info.update(
                urls_requested=len(urls),
                urls_found=len(urls) - len(missing),
                missing_urls=sorted(missing),
                provenance={u: how for u, how in prov.items()},
            )
            per_item = {
                t.id: [u for u in t.meta.get("evidence_urls", []) if u in missing] for t in tasks
            }
        pages = work / "evidence.jsonl"
        pages.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        cfg = BuildConfig(min_chars=min_chars, show_progress=show_progress)
        manifest = build_world(
            [pages, *distractors], out, cfg, **({"embedder": embedder} if embedder else {})
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    short = [t for t, miss in per_item.items() if miss]
    info.update(
        pages=manifest.page_count,
        distractors=[Path(d).name for d in distractors],
        min_chars=min_chars,
        items={"complete": len(tasks) - len(short), "missing_evidence": len(short)},
        items_missing_evidence={t: per_item[t] for t in short},
        built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        build_seconds=round(time.perf_counter() - t0, 2),
    )
    (Path(out) / EVAL_WORLD_FILE).write_text(
        json.dumps(info, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    logger.info(
        "eval world %s: %d pages, %d items missing evidence", out, manifest.page_count, len(short)
    )
    return info
