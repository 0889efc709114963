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

from lite_world.cache import LRUCache
from lite_world.errors import ConfigError, EmbedderMismatchError
from lite_world.index.searcher import DEFAULT_CACHE_BYTES, SearchConfig, Searcher
from lite_world.store.lmdb_store import PageStore
from lite_world.store.manifest import Manifest, read_manifest
from lite_world.store.page import Page
from lite_world.store.urls import normalize_url
from lite_world.tools.text import best_snippet
from lite_world.verify import check_world

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
        verify: check the world when opened: every index file's size and header against the
            manifest, the embedding dimension, the store's size and page count (reads a few bytes
            per file; ``lite-world info`` hashes every file). Pages that a running or interrupted
            extend appended beyond the manifest are not served until the build finishes.
        device: device for the query encoder (``None``: CUDA when available).
        num_threads: torch threads while encoding queries on CPU (default 1: stable latency when
            rollout workers share the cores; ``None`` leaves torch's setting alone).
        snippet_cache_size, mask_cache_size: most entries kept in the snippet and mask caches
            (0: none).
        snippet_cache_bytes, mask_cache_bytes: most approximate bytes kept in each (0: none). The
            query and result caches are bounded by ``search`` (:class:`SearchConfig`).

    Raises:
        WorldNotFoundError, WorldCorruptedError, EmbedderMismatchError: from the open checks;
        searching can also raise these and :class:`~lite_world.errors.ModelNotFoundError`.
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
        snippet_cache_bytes: int = DEFAULT_CACHE_BYTES,
        mask_cache_bytes: int = DEFAULT_CACHE_BYTES,
    ):
        self.path = Path(os.path.expanduser(str(path)))
        self.manifest: Manifest = (
            check_world(self.path, level="open", embedder=embedder).manifest
            if verify
            else read_manifest(self.path)
        )
        self.search_config = search or SearchConfig()
        self._embedder_name = embedder or self.manifest.embedder
        self._device = device
        self._num_threads = num_threads
        self._lock = threading.Lock()
        self._pid = -1
        self._store: PageStore | None = None
        self._searcher: Searcher | None = None
        self._mask_cache: LRUCache[frozenset[int]] = LRUCache(
            mask_cache_size, max_bytes=mask_cache_bytes
        )
        self._snippet_cache: LRUCache[str] = LRUCache(
            snippet_cache_size, max_bytes=snippet_cache_bytes
        )

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
        index_dir = self.manifest.index_dir
        dense = embedder = sparse = None
        if mode in ("hybrid", "dense"):
            dense = DenseIndex.load(self.path, index_dir=index_dir)
            embedder = get_embedder(
                self._embedder_name,
                self._device,
                self._num_threads,
                config=self.manifest.embedder_config,  # prefixes, pooling: as at build time
            )
            if embedder.dim != dense.dim:
                raise self._dim_mismatch(embedder.dim, dense.dim)
        if mode in ("hybrid", "sparse"):
            sparse = BM25Index.load(self.path, index_dir=index_dir)
        return Searcher(dense, sparse, embedder, config=self.search_config)

    def _dim_mismatch(self, got: int, want: int) -> EmbedderMismatchError:
        built_with = self.manifest.embedder
        if (
            self._embedder_name == built_with
        ):  # the world's own embedder: suggesting it again would not help
            return EmbedderMismatchError(
                f"Expects the world's embedder {built_with!r} to give {want}-dim vectors like its "
                "index, actual: "
                f"{got}-dim. The model under that name or path is not the one the world was built "
                "with: restore "
                "that model, or rebuild the world with this one (lite-world build ... --embedder "
                "NAME_OR_PATH)."
            )
        return EmbedderMismatchError(
            f"Expects a {want}-dim embedder for this index (built with {built_with!r}), actual: "
            f"{self._embedder_name!r} gives {got}. Use --embedder {built_with} (or leave it unset)."
        )

    def clear_caches(self) -> None:
        """Drop the query, result, snippet and mask caches (e.g. between benchmark runs)."""
        if self._searcher is not None:
            self._searcher.clear_caches()
        self._mask_cache.clear()
        self._snippet_cache.clear()

    def cache_stats(self) -> dict[str, dict[str, Any]]:
        """Hit/miss statistics of every cache (query embeddings, candidate pools, snippets, masks).

        Each value has ``size`` (entries), ``hits``, ``misses``, ``hit_rate``, ``bytes`` and
        ``max_bytes``; the query and result caches appear once the searcher is open.
        """
        out = dict(self._searcher.cache_stats()) if self._searcher is not None else {}
        out["snippet"] = self._snippet_cache.stats()
        out["mask"] = self._mask_cache.stats()
        return out

    def cache_info(self) -> dict[str, dict[str, Any]]:
        """Memory and use of every cache: ``bytes``, ``max_bytes``, ``entries``, ``max_entries``,
        ``hits``, ``misses``, ``hit_rate`` per cache (``query``, ``result``, ``snippet``, ``mask``).

        Bytes are approximate (:func:`lite_world.cache.approx_size`); the query and result caches
        appear once the searcher is open.
        """
        out = dict(self._searcher.cache_info()) if self._searcher is not None else {}
        out["snippet"] = self._snippet_cache.info()
        out["mask"] = self._mask_cache.info()
        return out

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store = self._searcher = None

    def __len__(self) -> int:
        return self.manifest.page_count

    def __repr__(self) -> str:
        m = self.manifest
        return f"World({str(self.path)!r}, pages={m.page_count}, index={m.index_factory!r})"

    # -- primitives ---------------------------------------------------------
    def get_page(self, url: str, *, exclude: Collection[str] = ()) -> Page | None:
        """The page for ``url`` unless missing or masked (``exclude`` holds URLs)."""
        if not isinstance(url, str):
            return None
        nurl = normalize_url(url)
        if exclude and nurl in self._normalized(exclude):
            return None
        rec = self.store.get_dict(nurl)
        if rec is None or rec["id"] >= self.manifest.page_count:  # appended by an unfinished extend
            return None
        return Page.from_dict(rec)

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
        self,
        queries: Sequence[str],
        k: int = 10,
        *,
        exclude: Collection[str] = (),
        snippets: bool = True,
    ) -> list[list[SearchHit]]:
        """Batched search; ``exclude`` URLs never appear and each query still gets ``k`` hits."""
        if isinstance(queries, str):
            raise ConfigError(
                "Expects a list of queries, actual: a single str. Wrap it: search([query])."
            )
        ids, scores = self.searcher.search(
            list(queries), k, exclude=self.mask_ids(exclude) if exclude else ()
        )
        out: list[list[SearchHit]] = []
        for q, row_ids, row_scores in zip(queries, ids, scores, strict=True):
            recs = self.store.get_many_by_id(row_ids.tolist())
            hits = []
            for rank, (rec, s) in enumerate(
                ((r, s) for r, s in zip(recs, row_scores.tolist(), strict=True) if r is not None), 1
            ):
                snip = self._snippet(rec, q) if snippets else ""
                hits.append(
                    SearchHit(rank, rec["url"], rec["title"], snip, rec.get("date"), float(s))
                )
            out.append(hits)
        return out

    def _snippet(self, rec: dict[str, Any], query: str) -> str:
        key = (rec["id"], query)
        s = self._snippet_cache.get(key)
        if s is None:
            s = best_snippet(rec["markdown"], query if isinstance(query, str) else "")
            self._snippet_cache.put(key, s)
        return s
