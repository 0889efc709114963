"""A world: one directory holding a page snapshot, its indexes and its manifest.

:class:`World` opens everything lazily (so it can be created in one process and used in
another, e.g. by ``gym.make_vec(..., vectorization_mode="async")`` workers) and offers the two
primitives the tools are built on: batched :meth:`World.search` and :meth:`World.get_page`.

Example:
    >>> w = World("~/.cache/lite-world/demo")            # doctest: +SKIP
    >>> hits = w.search(["Carl Rogers psychotherapy"], k=3)[0]   # doctest: +SKIP
    >>> hits[0].title                                     # doctest: +SKIP
    'Person-centered therapy'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lite_world.errors import ConfigError
from lite_world.cache import LRUCache
from lite_world.index.searcher import SearchConfig, Searcher
from lite_world.store.lmdb_store import PageStore
from lite_world.store.manifest import Manifest, read_manifest, verify_world
from lite_world.store.page import Page
from lite_world.store.urls import normalize_url
from lite_world.tools.text import best_snippet

__all__ = ["World", "SearchHit"]


@dataclass(frozen=True)
class SearchHit:
    """One search result, as programs see it."""

    rank: int
    url: str
    title: str
    snippet: str
    date: str | None
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class World:
    """A local web snapshot with search.

    Args:
        path: the world directory.
        embedder: embedder name/path for queries; must match the index's (default: the manifest's).
        search: a :class:`SearchConfig` (mode, fusion, caches).
        verify: check the manifest against the store when opened (cheap checks; ``lite-world info``
            runs the deep one).
        device: device for the query encoder (``None``: CUDA when available).
        num_threads: torch threads while encoding queries on CPU (default 1: stable latency when
            rollout workers share the cores; ``None`` leaves torch's setting alone).
        snippet_cache_size, mask_cache_size: entries kept in the snippet and mask caches (0: none).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        embedder: str | None = None,
        search: SearchConfig | None = None,
        verify: bool = True,
        device: str | None = None,
        num_threads: int | None = 1,
        snippet_cache_size: int = 200_000,
        mask_cache_size: int = 4096,
    ):
        self.path = Path(os.path.expanduser(str(path)))
        self.manifest: Manifest = (
            verify_world(self.path, embedder=embedder, deep=False) if verify else read_manifest(self.path)
        )
        self.search_config = search or SearchConfig()
        self._embedder_name = embedder or self.manifest.embedder
        self._device = device
        self._num_threads = num_threads
        self._lock = threading.Lock()
        self._pid = -1
        self._store: PageStore | None = None
        self._searcher: Searcher | None = None
        self._mask_cache: LRUCache[frozenset[int]] = LRUCache(mask_cache_size)
        self._snippet_cache: LRUCache[str] = LRUCache(snippet_cache_size)

    # -- lazy, per-process handles ------------------------------------------
    @property
    def store(self) -> PageStore:
        if self._store is None or self._pid != os.getpid():
            with self._lock:
                if self._store is None or self._pid != os.getpid():
                    self._store = PageStore(self.path)
                    self._searcher = None
                    self._pid = os.getpid()
        return self._store

    @property
    def searcher(self) -> Searcher:
        store = self.store  # (re)opens after a fork
        if self._searcher is None:
            with self._lock:
                if self._searcher is None:
                    self._searcher = self._open_searcher(store)
        return self._searcher

    def _open_searcher(self, store: PageStore) -> Searcher:
        from lite_world.index.dense import DenseIndex
        from lite_world.index.embedder import get_embedder
        from lite_world.index.sparse import BM25Index

        mode = self.search_config.mode
        dense = embedder = sparse = None
        if mode in ("hybrid", "dense"):
            dense = DenseIndex.load(self.path)
            embedder = get_embedder(self._embedder_name, self._device, self._num_threads)
            if embedder.dim != dense.dim:
                from lite_world.errors import EmbedderMismatchError

                raise EmbedderMismatchError(
                    f"Expects a {dense.dim}-dim embedder for this index (built with {self.manifest.embedder!r}), "
                    f"actual: {self._embedder_name!r} gives {embedder.dim}. Use --embedder {self.manifest.embedder}."
                )
        if mode in ("hybrid", "sparse"):
            sparse = BM25Index.load(self.path)
        return Searcher(dense, sparse, embedder, config=self.search_config)

    def clear_caches(self) -> None:
        """Drop the query, result, snippet and mask caches (e.g. between benchmark runs)."""
        if self._searcher is not None:
            self._searcher.clear_caches()
        self._mask_cache = LRUCache(self._mask_cache.maxsize)
        self._snippet_cache = LRUCache(self._snippet_cache.maxsize)

    def cache_stats(self) -> dict[str, dict[str, Any]]:
        """Hit/miss statistics of every cache (query embeddings, candidate pools, snippets, masks)."""
        out = dict(self._searcher.cache_stats()) if self._searcher is not None else {}
        out["snippet"] = self._snippet_cache.stats()
        out["mask"] = self._mask_cache.stats()
        return out

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = self._searcher = None

    def __len__(self) -> int:
        return self.manifest.page_count

    def __repr__(self) -> str:
        return f"World({str(self.path)!r}, pages={self.manifest.page_count}, index={self.manifest.index_factory!r})"

    # -- primitives ---------------------------------------------------------
    def get_page(self, url: str, *, exclude: Collection[str] = ()) -> Page | None:
        """The page for ``url`` unless missing or masked (``exclude`` holds URLs)."""
        if not isinstance(url, str):
            return None
        nurl = normalize_url(url)
        if exclude and nurl in self._normalized(exclude):
            return None
        return self.store.get(nurl)

    def mask_ids(self, urls: Collection[str]) -> frozenset[int]:
        """Row ids of the given URLs (unknown ones ignored); cached per URL set."""
        key = frozenset(self._normalized(urls))
        cached = self._mask_cache.get(key)
        if cached is not None:
            return cached
        ids = set()
        for u in key:
            rec = self.store.get_dict(u)
            if rec is not None:
                ids.add(int(rec["id"]))
        out = frozenset(ids)
        self._mask_cache.put(key, out)
        return out

    @staticmethod
    def _normalized(urls: Collection[str]) -> set[str]:
        return {normalize_url(u) for u in urls if isinstance(u, str)}

    def search(
        self, queries: Sequence[str], k: int = 10, *, exclude: Collection[str] = (), snippets: bool = True
    ) -> list[list[SearchHit]]:
        """Batched search; ``exclude`` URLs never appear and each query still gets up to ``k`` hits."""
        if isinstance(queries, str):
            raise ConfigError("Expects a list of queries, actual: a single str. Wrap it: search([query]).")
        ids, scores = self.searcher.search(list(queries), k, exclude=self.mask_ids(exclude) if exclude else ())
        out: list[list[SearchHit]] = []
        for q, row_ids, row_scores in zip(queries, ids, scores):
            recs = self.store.get_many_by_id(row_ids.tolist())
            hits = []
            for rank, (rec, s) in enumerate(((r, s) for r, s in zip(recs, row_scores.tolist()) if r is not None), 1):
                snip = self._snippet(rec, q) if snippets else ""
                hits.append(SearchHit(rank, rec["url"], rec["title"], snip, rec.get("date"), float(s)))
            out.append(hits)
        return out

    def _snippet(self, rec: dict[str, Any], query: str) -> str:
        key = (rec["id"], query)
        s = self._snippet_cache.get(key)
        if s is None:
            s = best_snippet(rec["markdown"], query if isinstance(query, str) else "")
            self._snippet_cache.put(key, s)
        return s
