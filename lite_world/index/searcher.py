"""Batched hybrid search over a world: dense (FAISS) + sparse (BM25), fused by RRF.

Results are page row ids. ``exclude`` (source masking) hides rows and still returns ``k``
results: every query fetches a candidate pool larger than ``k``, cached per query, then
filters. Query embeddings and candidate pools are LRU-cached, since RL rollouts repeat
queries constantly.

Example:
    >>> bm25 = BM25Index.build(["paris france", "berlin germany"])
    >>> s = Searcher(dense=None, sparse=bm25, embedder=None, mode="sparse")
    >>> ids, scores = s.search(["paris"], k=2)
    >>> ids.tolist()
    [[0, -1]]
    >>> s.search(["paris"], k=2, exclude={0})[0].tolist()
    [[-1, -1]]
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from lite_world.cache import LRUCache
from lite_world.errors import ConfigError
from lite_world.index.dense import DenseIndex
from lite_world.index.embedder import Embedder
from lite_world.index.fusion import rrf, weighted
from lite_world.index.sparse import BM25Index

__all__ = ["Searcher", "SearchConfig", "SearchMode", "DEFAULT_CACHE_BYTES"]

DEFAULT_CACHE_BYTES = (
    64 << 20
)  # per cache; a hybrid query costs ~2.2 KB of vector + ~0.7 KB of pool

SearchMode = Literal["hybrid", "dense", "sparse"]
_MODES = ("hybrid", "dense", "sparse")
_FUSIONS = ("rrf", "weighted")


@dataclass(frozen=True)
class SearchConfig:
    """How a world searches."""

    mode: str = field(
        default="hybrid", metadata={"help": "'hybrid' (dense + BM25), 'dense' or 'sparse'."}
    )
    fusion: str = field(
        default="rrf", metadata={"help": "'rrf' (reciprocal rank fusion) or 'weighted'."}
    )
    rrf_k: int = field(default=60, metadata={"help": "RRF constant (the paper uses 60)."})
    alpha: float = field(default=0.5, metadata={"help": "Dense weight for weighted fusion."})
    pool: int = field(
        default=50, metadata={"help": "Candidates fetched per retriever and cached per query."}
    )
    query_cache_size: int = field(
        default=100_000, metadata={"help": "Most cached query embeddings (entries)."}
    )
    result_cache_size: int = field(
        default=100_000, metadata={"help": "Most cached candidate pools (entries)."}
    )
    query_cache_bytes: int = field(
        default=DEFAULT_CACHE_BYTES,
        metadata={"help": "Most bytes of cached query embeddings (0: no cache)."},
    )
    result_cache_bytes: int = field(
        default=DEFAULT_CACHE_BYTES,
        metadata={"help": "Most bytes of cached candidate pools (0: no cache)."},
    )
    max_query_chars: int = field(default=1000, metadata={"help": "Queries are cut to this length."})

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ConfigError(f"Expects search mode in {_MODES}, actual: {self.mode!r}")
        if self.fusion not in _FUSIONS:
            raise ConfigError(f"Expects fusion in {_FUSIONS}, actual: {self.fusion!r}")
        if self.rrf_k < 1 or self.pool < 1:
            raise ConfigError(
                f"Expects rrf_k >= 1 and pool >= 1, actual: rrf_k={self.rrf_k}, pool={self.pool}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"Expects 0 <= alpha <= 1, actual: {self.alpha}")
        for name in (
            "query_cache_size",
            "result_cache_size",
            "query_cache_bytes",
            "result_cache_bytes",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"Expects SearchConfig.{name} to be an int >= 0, actual: {value!r}"
                )


class Searcher:
    """Hybrid retrieval with caches.

    Args:
        dense: the FAISS index (``None`` for sparse-only).
        sparse: the BM25 index (``None`` for dense-only).
        embedder: encodes queries for the dense index.
        mode: overrides ``config.mode`` when given.
        config: a :class:`SearchConfig`.
    """

    def __init__(
        self,
        dense: DenseIndex | None,
        sparse: BM25Index | None,
        embedder: Embedder | None,
        mode: str | None = None,
        config: SearchConfig | None = None,
    ):
        cfg = config or SearchConfig()
        if mode is not None:
            cfg = SearchConfig(**{**cfg.__dict__, "mode": mode})
        self.config = cfg
        if cfg.mode in ("hybrid", "dense") and (dense is None or embedder is None):
            raise ConfigError(
                f"Expects a dense index and an embedder for mode {cfg.mode!r}, actual: missing"
            )
        if cfg.mode in ("hybrid", "sparse") and sparse is None:
            raise ConfigError(f"Expects a BM25 index for mode {cfg.mode!r}, actual: missing")
        self.dense, self.sparse, self.embedder = dense, sparse, embedder
        self.query_cache: LRUCache[np.ndarray] = self._cache("query")
        self.result_cache: LRUCache[tuple[np.ndarray, np.ndarray]] = self._cache("result")

    def _cache(self, name: str) -> LRUCache[Any]:
        c = self.config
        return LRUCache(
            getattr(c, f"{name}_cache_size"), max_bytes=getattr(c, f"{name}_cache_bytes")
        )

    # -- the candidate pool for each query (cached) -------------------------
    def _embed(self, queries: list[str]) -> np.ndarray:
        assert self.embedder is not None
        out: list[np.ndarray | None] = [self.query_cache.get(q) for q in queries]
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            vecs = self.embedder.encode([queries[i] for i in todo])
            for i, v in zip(todo, vecs, strict=True):
                v = v.copy()  # a row view would keep the whole batch's buffer alive in the cache
                self.query_cache.put(queries[i], v)
                out[i] = v
        return np.stack(out)  # type: ignore[arg-type]

    def pool_size(self, k: int, n_exclude: int = 0) -> int:
        """Candidates fetched per query for ``k`` results with ``n_exclude`` masked rows.

        Pools come in multiples of ``config.pool`` so that tasks with different mask sizes share
        cache entries.
        """
        step = self.config.pool
        return max(step, -(-(int(k) + int(n_exclude)) // step) * step)

    def cached(self, query: str, pool: int) -> bool:
        """Whether ``query``'s pool of size ``pool`` is cached (no encoder pass needed)."""
        return (self.config.mode, pool, self.normalize_query(query)) in self.result_cache

    def prefetch(self, queries: Sequence[str], pool: int) -> int:
        """Fill the cache for ``queries`` with ONE encoder pass and one index search.

        Returns:
            How many pools were computed.
        """
        qs = list(dict.fromkeys(q for q in map(self.normalize_query, queries) if q))
        todo = [q for q in qs if not self.cached(q, pool)]
        if todo:
            self._pools(todo, pool)
        return len(todo)

    def _pools(self, queries: list[str], pool: int) -> list[tuple[np.ndarray, np.ndarray]]:
        key_of = [(self.config.mode, pool, q) for q in queries]
        pools: list[tuple[np.ndarray, np.ndarray] | None] = [
            self.result_cache.get(k) for k in key_of
        ]
        todo = [i for i, p in enumerate(pools) if p is None]
        if todo:
            qs = [queries[i] for i in todo]
            mode = self.config.mode
            dense = sparse = None
            if mode in ("hybrid", "dense"):
                assert self.dense is not None
                dense = self.dense.search(self._embed(qs), pool)
            if mode in ("hybrid", "sparse"):
                assert self.sparse is not None
                sparse = self.sparse.search(qs, pool)
            if mode == "dense":
                fused = dense
            elif mode == "sparse":
                fused = sparse
            elif self.config.fusion == "rrf":
                fused = rrf(dense[0], sparse[0], k=pool, rrf_k=self.config.rrf_k)  # type: ignore[index]
            else:
                fused = weighted(dense, sparse, k=pool, alpha=self.config.alpha)  # type: ignore[arg-type]
            assert fused is not None
            for j, i in enumerate(todo):
                p = (fused[0][j].copy(), fused[1][j].copy())
                self.result_cache.put(key_of[i], p)
                pools[i] = p
        return pools  # type: ignore[return-value]

    # -- public -------------------------------------------------------------
    def search(
        self, queries: Sequence[str], k: int = 10, *, exclude: Collection[int] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` row ids and fused scores per query, -1 padded; ``exclude`` rows never come."""
        k = int(k)
        if k < 1:
            raise ConfigError(f"Expects k >= 1, actual: {k}")
        qs = [self.normalize_query(q) for q in queries]
        nq = len(qs)
        ids = np.full((nq, k), -1, dtype=np.int64)
        scores = np.zeros((nq, k), dtype=np.float32)
        if nq == 0:
            return ids, scores
        excl = exclude if isinstance(exclude, (set, frozenset)) else set(exclude)
        pool = self.pool_size(k, len(excl))
        live = [i for i, q in enumerate(qs) if q]
        if not live:
            return ids, scores
        pools = self._pools([qs[i] for i in live], pool)
        for i, (pids, psc) in zip(live, pools, strict=True):
            j = 0
            for doc, s in zip(pids.tolist(), psc.tolist(), strict=True):
                if doc < 0 or doc in excl:
                    continue
                ids[i, j], scores[i, j] = doc, s
                j += 1
                if j == k:
                    break
        return ids, scores

    def normalize_query(self, q: Any) -> str:
        """The form a query is searched and cached under.

        Valid UTF-8, no NUL, single spaces, cut to ``max_query_chars``.
        """
        if not isinstance(q, str):
            return ""
        q = q.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")
        return " ".join(q.split())[: self.config.max_query_chars]

    def clear_caches(self) -> None:
        """Empty the query-embedding and candidate-pool caches."""
        self.query_cache = self._cache("query")
        self.result_cache = self._cache("result")

    def cache_stats(self) -> dict[str, Any]:
        """``{"query": ..., "result": ...}`` of :meth:`LRUCache.stats`."""
        return {"query": self.query_cache.stats(), "result": self.result_cache.stats()}

    def cache_info(self) -> dict[str, Any]:
        """``{"query": ..., "result": ...}`` of :meth:`LRUCache.info` (bytes, entries, hits...)."""
        return {"query": self.query_cache.info(), "result": self.result_cache.info()}
