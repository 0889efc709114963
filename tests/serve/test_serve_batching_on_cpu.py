"""Micro-batching: concurrent searches share one encoder pass and one index search; same answers."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

from lite_world.serve.backend import BatchStats, SearchRequest, WorldBackend
from lite_world.serve.batcher import MicroBatcher
from lite_world.serve.config import ServeConfig

pytestmark = pytest.mark.timeout(120)

QUERIES = [
    "Journal of Psychotherapy Integration",
    "Victoria Falls",
    "Anglican Communion",
    "Avery County",
    "Stanley Hall",
    "American Psychological Association",
    "Zambezi river",
    "Church of England",
]


def test_batcher_gathers_concurrent_items():
    seen: list[int] = []

    def process(xs):
        seen.append(len(xs))
        return [x + 1 for x in xs]

    async def main():
        b = MicroBatcher(process, max_size=4, max_wait_s=0.05)
        out = await asyncio.gather(*(b.submit(i) for i in range(10)))
        await b.close()
        return out

    assert asyncio.run(main()) == list(range(1, 11))
    assert seen == [4, 4, 2]


def test_batcher_unbatched_and_errors():
    seen: list[int] = []

    def process(xs):
        seen.append(len(xs))
        if "bad" in xs:
            raise ValueError("boom")
        return xs

    async def main():
        b = MicroBatcher(process, max_items=1, max_wait_s=0.05)
        ok = await asyncio.gather(*(b.submit(s) for s in "abc"))
        with pytest.raises(ValueError, match="boom"):
            await b.submit("bad")
        await b.close()
        return ok

    assert asyncio.run(main()) == ["a", "b", "c"] and seen == [1, 1, 1, 1]


class CountingEmbedder:
    def __init__(self, inner):
        self.inner, self.calls, self.name, self.dim = inner, [], inner.name, inner.dim

    def encode(self, texts, **kw):
        self.calls.append(len(texts))
        return self.inner.encode(texts, **kw)


def test_one_batch_is_one_encoder_pass_and_equals_world(tiny_world, world):
    backend = WorldBackend(str(tiny_world), ServeConfig(torch_threads=None))
    counter = CountingEmbedder(backend.world.searcher.embedder)
    backend.world.searcher.embedder = counter
    excl = (world.search(QUERIES[:1], 1)[0][0].url,)
    reqs = [
        SearchRequest(tuple(QUERIES[i : i + 2]), 3 + i % 2, excl if i % 3 == 0 else ())
        for i in range(0, 8, 2)
    ]
    reqs.append(SearchRequest((QUERIES[0],), 5))  # a repeat within the batch
    stats = BatchStats()
    out = backend.search_batch(reqs, stats)
    assert counter.calls == [8]  # every distinct query encoded in one forward pass
    assert (stats.requests, stats.queries, stats.distinct, stats.computed) == (5, 9, 8, 8)
    import json

    for r, (status, body) in zip(reqs, out, strict=True):
        assert status == 200
        assert json.loads(body)["results"] == [
            [h.to_dict() for h in row]
            for row in world.search(list(r.queries), r.k, exclude=r.exclude)
        ]
    backend.search_batch(reqs, stats)  # all cached now: no encoding
    assert counter.calls == [8] and stats.computed == 0
    backend.close()


def _metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, name
    return float(m.group(1))


@pytest.mark.parametrize("search_workers", [1, 2])
def test_metrics_show_batches_under_concurrent_load(tiny_world, world, search_workers):
    """Concurrent clients get the in-process answers, also with two batches in flight at once."""
    from lite_world.serve import RemoteWorld, ServeConfig, ServerThread

    cfg = ServeConfig(port=0, torch_threads=None, max_wait_ms=20.0, search_workers=search_workers)
    with ServerThread(str(tiny_world), cfg) as srv:
        remote = RemoteWorld(srv.url, pool_size=32)
        errors: list[BaseException] = []
        results: dict[int, object] = {}
        barrier = threading.Barrier(24)

        def client(i: int) -> None:
            try:
                barrier.wait()
                q = [f"{QUERIES[i % 8]} {i}"]
                results[i] = (remote.search(q, 3), q)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        for got, q in results.values():
            assert got == world.search(q, 3)
        text = _get_metrics(srv.url)
        batches = _metric(text, "lite_world_search_batch_queries_count")
        assert _metric(text, "lite_world_search_queries_total") == 24
        assert batches < 24 and _metric(text, "lite_world_search_batch_queries_max") > 1
        assert _metric(text, 'lite_world_search_pool_lookups_total{result="miss"}') == 24


def _get_metrics(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url + "/metrics") as r:
        return r.read().decode()
