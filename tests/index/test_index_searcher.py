"""The batched Searcher: modes, exclusion with a full k, caches, validation."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lite_world.cache import LRUCache
from lite_world.errors import ConfigError
from lite_world.index.dense import DenseIndex
from lite_world.index.searcher import SearchConfig, Searcher
from lite_world.index.sparse import BM25Index

# Twelve docs that all mention "river", with decreasing term frequency: a fixed BM25 ranking.
RIVERS = [" ".join(["river"] * (13 - i) + [f"name{i}"] + ["filler"] * i) for i in range(12)]


@pytest.fixture(scope="module")
def bm25():
    return BM25Index.build(RIVERS)


def _sparse(bm25, **cfg):
    return Searcher(
        dense=None, sparse=bm25, embedder=None, mode="sparse", config=SearchConfig(**cfg)
    )


def test_sparse_ranking(bm25):
    ids, scores = _sparse(bm25).search(["river"], k=12)
    assert ids.tolist() == [list(range(12))]
    assert np.all(np.diff(scores[0]) < 0)


def test_exclude_hides_rows_and_still_returns_k(bm25):
    s = _sparse(bm25)
    ids, scores = s.search(["river", "name7 river"], k=5, exclude={0, 1, 7})
    assert ids[0].tolist() == [2, 3, 4, 5, 6]
    assert 7 not in ids[1].tolist()
    assert (ids[1] >= 0).all()
    full_ids, full_scores = s.search(["river"], k=12)
    np.testing.assert_allclose(scores[0], full_scores[0, 2:7])


def test_exclude_larger_than_the_pool(bm25):
    s = _sparse(bm25, pool=2)
    ids, _ = s.search(["river"], k=2, exclude=[0, 1, 2, 3])  # any collection
    assert ids.tolist() == [[4, 5]]


def test_exclude_everything_pads(bm25):
    ids, scores = _sparse(bm25).search(["river"], k=3, exclude=set(range(12)))
    assert ids.tolist() == [[-1, -1, -1]]
    assert scores.tolist() == [[0.0, 0.0, 0.0]]


def test_bad_queries_give_empty_rows(bm25):
    s = _sparse(bm25)
    ids, _ = s.search(["", "   ", None, 42, "river\x00name3", "\udcff river"], k=2)  # type: ignore[list-item]
    assert ids[:4].tolist() == [[-1, -1]] * 4
    assert ids[4].tolist() == [3, 0]  # NUL is a space: "river name3"
    assert ids[5].tolist() == [0, 1]
    assert s.search([], k=4)[0].shape == (0, 4)


def test_queries_are_cut_and_whitespace_normalised(bm25):
    s = _sparse(bm25, max_query_chars=10)
    s.search(["river   name3 and a lot more text"], k=2)
    s.search(["  river name3"], k=2)  # the same 10 characters after cleaning
    assert s.cache_stats()["result"]["hits"] == 1
    assert s.cache_stats()["result"]["size"] == 1


@pytest.mark.parametrize("k", [0, -1])
def test_bad_k(bm25, k):
    with pytest.raises(ConfigError, match=f"Expects k >= 1, actual: {k}"):
        _sparse(bm25).search(["river"], k=k)


def test_result_cache_hits_on_repeat(bm25):
    s = _sparse(bm25)
    first = s.search(["river", "name2"], k=3)
    second = s.search(["name2", "river"], k=3)
    np.testing.assert_array_equal(first[0][::-1], second[0])
    stats = s.cache_stats()
    assert stats["query"] == {
        "size": 0,
        "hits": 0,
        "misses": 0,
        "hit_rate": 0.0,
        "bytes": 0,
        "max_bytes": 64 << 20,
    }
    assert {k: stats["result"][k] for k in ("size", "hits", "misses", "hit_rate")} == {
        "size": 2,
        "hits": 2,
        "misses": 2,
        "hit_rate": 0.5,
    }
    # two pools of 50 int64 ids + 50 float32 scores, their keys and entry overheads
    assert 2 * (50 * 12) < stats["result"]["bytes"] < 2 * (50 * 12 + 900)
    assert s.cache_info()["result"] == {
        "bytes": stats["result"]["bytes"],
        "max_bytes": 64 << 20,
        "entries": 2,
        "max_entries": 100_000,
        "hits": 2,
        "misses": 2,
        "hit_rate": 0.5,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"mode": "semantic"},
            r"Expects search mode in \('hybrid', 'dense', 'sparse'\), actual: 'semantic'",
        ),
        ({"fusion": "max"}, r"Expects fusion in \('rrf', 'weighted'\), actual: 'max'"),
        ({"rrf_k": 0}, r"Expects rrf_k >= 1 and pool >= 1, actual: rrf_k=0, pool=50"),
        ({"pool": 0}, r"Expects rrf_k >= 1 and pool >= 1, actual: rrf_k=60, pool=0"),
        ({"alpha": 1.5}, r"Expects 0 <= alpha <= 1, actual: 1.5"),
        ({"alpha": -0.1}, r"Expects 0 <= alpha <= 1, actual: -0.1"),
    ],
)
def test_search_config_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SearchConfig(**kwargs)


def test_search_config_fields_have_help():
    from dataclasses import fields

    assert all(f.metadata.get("help") for f in fields(SearchConfig))


def test_missing_indexes_for_mode(bm25):
    with pytest.raises(
        ConfigError,
        match="Expects a dense index and an embedder for mode 'hybrid', actual: missing",
    ):
        Searcher(dense=None, sparse=bm25, embedder=None)
    with pytest.raises(
        ConfigError, match="Expects a BM25 index for mode 'sparse', actual: missing"
    ):
        Searcher(dense=None, sparse=None, embedder=None, mode="sparse")
    with pytest.raises(ConfigError, match="Expects search mode in"):
        Searcher(dense=None, sparse=bm25, embedder=None, mode="bm25")


@pytest.fixture(scope="module")
def real_parts(tiny_world, embedder):
    return DenseIndex.load(tiny_world), BM25Index.load(tiny_world), embedder


def test_hybrid_caches_query_embeddings_and_pools(real_parts):
    dense, sparse, emb = real_parts
    s = Searcher(dense, sparse, emb)
    a = s.search(["Victoria Falls waterfall"], k=3)
    b = s.search(["Victoria Falls waterfall"], k=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert {k: s.cache_stats()["query"][k] for k in ("size", "hits", "misses", "hit_rate")} == {
        "size": 1,
        "hits": 0,
        "misses": 1,
        "hit_rate": 0.0,
    }
    assert (
        384 * 4 < s.cache_stats()["query"]["bytes"] < 384 * 4 + 600
    )  # one MiniLM vector, not its whole batch
    assert s.cache_stats()["result"]["hits"] == 1
    # a larger exclusion set needs a larger pool: a new pool, but the embedding is reused
    ids, _ = s.search(["Victoria Falls waterfall"], k=3, exclude=set(range(60)))
    assert (ids >= 60).all()
    assert s.cache_stats()["query"]["hits"] == 1
    assert s.cache_stats()["result"]["misses"] == 2


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_hybrid_fusions_rank_the_exact_title_first(real_parts, fusion, tiny_titles):
    dense, sparse, emb = real_parts
    s = Searcher(dense, sparse, emb, config=SearchConfig(fusion=fusion))
    ids, scores = s.search(["Bubye River", "Publix supermarket chain"], k=5)
    assert ids[:, 0].tolist() == [tiny_titles.index("Bubye River"), tiny_titles.index("Publix")]
    assert (np.diff(scores, axis=1) <= 0).all()


def test_dense_mode_scores_are_cosines(real_parts, tiny_titles):
    dense, sparse, emb = real_parts
    s = Searcher(dense, None, emb, mode="dense")
    ids, scores = s.search(["Bubye River"], k=3)
    assert ids[0, 0] == tiny_titles.index("Bubye River")
    assert 0.0 < scores[0, 2] <= scores[0, 0] <= 1.0 + 1e-5


# -- the LRU cache behind the query and result caches ---------------------------
def test_lru_cache_eviction_and_stats():
    c: LRUCache[int] = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a becomes most recent
    c.put("c", 3)  # evicts b
    assert c.get("b") is None
    assert (c.get("c"), len(c)) == (3, 2)
    assert {k: c.stats()[k] for k in ("size", "hits", "misses", "hit_rate")} == {
        "size": 2,
        "hits": 2,
        "misses": 1,
        "hit_rate": 2 / 3,
    }
    zero: LRUCache[int] = LRUCache(0)
    zero.put("a", 1)
    assert (zero.get("a"), len(zero), zero.stats()["hit_rate"]) == (None, 0, 0.0)
    assert LRUCache(-5).maxsize == 0


def test_lru_cache_threads():
    c: LRUCache[int] = LRUCache(50)

    def work(t: int) -> None:
        for i in range(500):
            c.put((t, i % 80), i)
            c.get((t, (i * 7) % 80))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(c) == 50
    assert c.hits + c.misses == 2000


def test_lru_cache_is_bounded_in_bytes():
    """Before: only entries were bounded, so 100k big values could hold gigabytes."""
    c: LRUCache[np.ndarray] = LRUCache(max_bytes=100_000)
    vec = np.zeros(384, dtype=np.float32)  # 1536 bytes, like a MiniLM query vector
    for i in range(1000):
        c.put(f"query {i}", vec.copy())
    info = c.info()
    assert info["bytes"] <= 100_000 < info["bytes"] + 1536 + 300  # full up to less than one entry
    assert info["entries"] == len(c) < 1000
    assert c.get("query 999") is not None and c.get("query 0") is None  # the oldest went first
    assert (info["max_bytes"], info["max_entries"]) == (100_000, None)
    c.put(
        "huge", np.zeros(1_000_000, dtype=np.uint8)
    )  # bigger than the bound: not cached, nothing evicted
    assert "huge" not in c and len(c) == info["entries"]
    c.put("query 999", vec.copy())  # replacing an entry does not count it twice
    assert c.bytes == info["bytes"]
    c.clear()
    assert (len(c), c.bytes) == (0, 0)
    off: LRUCache[int] = LRUCache(max_bytes=0)
    off.put("a", 1)
    assert len(off) == 0 and not off.enabled


def test_search_config_cache_bounds_are_validated():
    with pytest.raises(
        ConfigError, match=r"Expects SearchConfig\.query_cache_bytes to be an int >= 0, actual: -1"
    ):
        SearchConfig(query_cache_bytes=-1)
    with pytest.raises(
        ConfigError,
        match=r"Expects SearchConfig\.result_cache_bytes to be an int >= 0, actual: '1'",
    ):
        SearchConfig(result_cache_bytes="1")  # type: ignore[arg-type]
