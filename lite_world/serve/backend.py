"""The server's side of a world: batched search and page fetches, answered as ready-to-send JSON.

One micro-batch of search requests costs one encoder call (its distinct uncached queries,
sorted by length and sub-batched by ``encode_batch_size``) and one FAISS + BM25 search (per
distinct candidate-pool size, almost always one): the queries go through
:meth:`Searcher.search` together, which fills the result cache; then every request is answered
by :meth:`World.search` from that cache, so hits, snippets and masking are the in-process
world's.

Example:
    >>> b = WorldBackend("~/.cache/lite-world/demo-v1", ServeConfig())           # doctest: +SKIP
    >>> status, body = b.search_batch([SearchRequest(("Carl Rogers",), 3)])[0]     # doctest: +SKIP
    >>> status, body[:12]                                                          # doctest: +SKIP
    (200, b'{"results":[')
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lite_world.index.searcher import SearchConfig
from lite_world.serve.config import ServeConfig

__all__ = ["WorldBackend", "SearchRequest", "BrowseRequest", "BatchStats", "dumps", "error_body"]

logger = logging.getLogger(__name__)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (ASCII escapes if a string holds a lone surrogate: never raises on text).

    Example:
        >>> dumps({"q": "é"}), dumps({"q": chr(0xD800)})
        (b'{"q":"\\xc3\\xa9"}', b'{"q":"\\\\ud800"}')
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class SearchRequest:
    """One validated ``POST /search`` body."""

    queries: tuple[str, ...]
    k: int = 10
    exclude: tuple[str, ...] = ()
    snippets: bool = True


@dataclass(frozen=True)
class BrowseRequest:
    """One validated ``POST /browse`` body."""

    urls: tuple[str, ...]
    goal: str | None = None
    exclude: tuple[str, ...] = ()


@dataclass
class BatchStats:
    """What the last batches cost (read by the metrics)."""

    requests: int = 0
    queries: int = 0
    distinct: int = 0
    computed: int = 0  # distinct queries whose candidate pool was not cached
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class _SubBatchedEmbedder:
    """The world's query encoder, called with the server's sub-batch size and batch threads.

    Search workers may call it at once: the exported encoders (ONNX Runtime, OpenVINO) run
    concurrently, the torch and sentence-transformers ones serialise their calls themselves.
    """

    def __init__(self, inner: Any, batch_size: int, batch_threads: int = 1):
        from lite_world.index.encoders import Encoder

        self.inner, self.batch_size, self.name, self.dim = inner, batch_size, inner.name, inner.dim
        self.workers = batch_threads if isinstance(inner, Encoder) else 1

    def encode(
        self, texts: list[str], *, batch_size: int | None = None, show_progress: bool = False
    ) -> Any:
        kw = {"workers": self.workers} if self.workers > 1 else {}
        return self.inner.encode(
            texts, batch_size=self.batch_size, show_progress=show_progress, **kw
        )


class WorldBackend:
    """A read-only world opened for serving.

    Args:
        path: the world directory.
        config: the server settings (mode, caches, threads, device).
    """

    def __init__(self, path: str | os.PathLike[str], config: ServeConfig):
        from lite_world.world import World

        self.config = config
        if config.caches:
            qc, rc = config.query_cache_size, config.result_cache_size
        else:  # no reuse across requests; a batch still needs its own pools for one pass
            qc, rc = 0, (config.max_batch_queries if config.batching else 0)
        sc = SearchConfig(mode=config.search_mode, query_cache_size=qc, result_cache_size=rc)
        # without caches (the per-request design) nothing is reused between calls
        extra: dict[str, Any] = {}
        if not config.caches:
            extra = {"snippet_cache_size": 0, "mask_cache_size": 0}
        self.world = World(
            path, search=sc, device=config.device, num_threads=config.torch_threads, **extra
        )
        self.manifest_json = dumps(self.world.manifest.to_dict())
        self._visit: Any = None

    @property
    def searcher(self) -> Any:
        """The world's searcher, its encoder set to the server's sub-batch size."""
        s = self.world.searcher
        if s.embedder is not None and not isinstance(s.embedder, _SubBatchedEmbedder):
            s.embedder = _SubBatchedEmbedder(
                s.embedder, self.config.encode_batch_size, self.config.batch_threads
            )
        return s

    # -- lifecycle ------------------------------------------------------------
    def warmup(self) -> float:
        """Open the store, the indexes and the encoder now (seconds taken)."""
        t0 = time.perf_counter()
        searcher = self.searcher
        if searcher.embedder is not None:
            searcher.embedder.encode(["warm up"])
        if searcher.sparse is not None:
            searcher.sparse.search(["warm up"], 1)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.world.close()

    # -- search ---------------------------------------------------------------
    def _pool_size(self, req: SearchRequest) -> int:
        n_excl = len(self.world.mask_ids(req.exclude)) if req.exclude else 0
        return self.searcher.pool_size(req.k, n_excl)

    def cached(self, req: SearchRequest) -> bool:
        """Whether every query of ``req`` has its candidate pool cached (no encoder pass needed)."""
        if not self.config.caches:
            return False
        searcher, pool = self.searcher, self._pool_size(req)
        return all(searcher.cached(q, pool) for q in req.queries if searcher.normalize_query(q))

    def search_batch(
        self, reqs: Sequence[SearchRequest], stats: BatchStats | None = None
    ) -> list[tuple[int, bytes]]:
        """Answer many requests with one encoder pass and one index search: ``(status, body)``."""
        t0 = time.perf_counter()
        world, searcher = self.world, self.searcher
        groups: dict[
            int, dict[str, None]
        ] = {}  # candidate-pool size -> distinct normalised queries
        for r in reqs:
            norm = (searcher.normalize_query(q) for q in r.queries)
            groups.setdefault(self._pool_size(r), {}).update(dict.fromkeys(q for q in norm if q))
        computed = sum(not searcher.cached(q, pool) for pool, qs in groups.items() for q in qs)
        if len(reqs) > 1:
            for pool, qs in groups.items():
                searcher.prefetch(
                    list(qs), pool
                )  # one encoder call + one index search per pool size
        out: list[tuple[int, bytes]] = []
        for r in reqs:
            try:
                hits = world.search(list(r.queries), r.k, exclude=r.exclude, snippets=r.snippets)
                out.append((200, dumps({"results": [[h.to_dict() for h in row] for row in hits]})))
            except Exception as exc:  # noqa: BLE001 - one bad request must not fail its batch
                logger.exception("search failed for %r", r)
                out.append((500, error_body("search_failed", None, f"{type(exc).__name__}: {exc}")))
        if stats is not None:
            stats.requests, stats.queries = len(reqs), sum(len(r.queries) for r in reqs)
            stats.distinct = sum(len(qs) for qs in groups.values())
            stats.computed = computed
            stats.seconds = time.perf_counter() - t0
        return out

    # -- browse ---------------------------------------------------------------
    def pages(self, req: BrowseRequest) -> list[dict[str, Any] | None]:
        """The page records (``None`` when missing or masked), as :meth:`World.get_page` gives."""
        out = []
        for u in req.urls:
            p = self.world.get_page(u, exclude=req.exclude)
            out.append(p.to_dict() if p is not None else None)
        return out

    def browse(self, req: BrowseRequest) -> bytes:
        """``{"pages": [...]}`` plus, when a goal is given, the Visit tool's text for it."""
        body: dict[str, Any] = {"pages": self.pages(req)}
        if req.goal is not None:
            body["text"] = self.visit_text(req)
        return dumps(body)

    def visit_text(self, req: BrowseRequest) -> str:
        from lite_world.tools.base import CallContext

        if self._visit is None:
            from lite_world.tools.summarize import ExtractiveSummarizer
            from lite_world.tools.visit import VisitTool

            self._visit = VisitTool(
                self.world,
                ExtractiveSummarizer(max_chars=self.config.visit_max_chars),
                max_urls=self.config.max_urls,
            )
        context = CallContext(exclude=frozenset(req.exclude))
        return self._visit({"url": list(req.urls), "goal": req.goal}, context).text

    # -- stats ----------------------------------------------------------------
    def cache_stats(self) -> dict[str, dict[str, Any]]:
        return self.world.cache_stats()


def error_body(code: str, field_name: str | None, message: str) -> bytes:
    return dumps({"error": {"code": code, "field": field_name, "message": message}})
