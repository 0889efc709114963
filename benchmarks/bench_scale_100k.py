"""Hybrid (BM25 + dense) cache-miss search latency at 100k pages on ONE core.

**A latency-only world.** Embedding 100k real passages with MiniLM on this 2-core machine
takes hours, so the 100k pages are real text recombined, with vectors that are not the model's:

- page ``i`` starts from demo page ``i mod n`` (7.6k real Wikipedia pages): its title and a
  seeded random half of its sentences, plus two sentences of another random demo page, in
  shuffled order. Every real term occurs ~13x as often as in the demo world, so BM25 posting
  lists have the lengths of a 100k-page Wikipedia slice, not of random tokens;
- page ``i``'s vector is its source page's real MiniLM vector plus Gaussian noise (cosine about
  0.9 to it), L2-normalised: a FAISS Flat search costs the same whatever the values, and an HNSW
  graph over clustered real vectors behaves more like a real index than over uniform noise.

Recall is therefore meaningless here and not reported. Queries are real and novel: each demo
question with a page title appended (never seen by the process, so every search misses the
query and result caches and runs MiniLM, FAISS, BM25 and the fusion). The query encoder is the
real all-MiniLM-L6-v2 through the world's default backend, one thread. The process pins
itself to one core (``--cpu``, default core 0, like ``taskset -c 0``).

Reported per index (``Flat`` and ``HNSW32``, the build's default at 100k pages): p50 / p90 /
p99 wall time of the whole ``Searcher.search`` call, its process CPU time (what an idle core
would take: on this shared machine other jobs preempt the wall clock), the parts (encode,
FAISS, BM25), and the load average. The indexes are cached under ``benchmarks/.cache/scale_100k``.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_scale_100k [--pages 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import CACHE_DIR, summarize, table, write_result

NAME = "bench_scale_100k"
_SENT = re.compile(r"(?<=[.!?])\s+")


def synth_pages(records: list[dict[str, Any]], n: int, seed: int = 0) -> list[str]:
    """``n`` page texts recombined from real pages (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sents = [[s for s in _SENT.split(r["markdown"].replace("\n", " ")) if s.strip()]
             for r in records]  # fmt: skip
    out = []
    for i in range(n):
        j = i % len(records)
        own = sents[j] or [records[j]["title"]]
        keep = [s for s in own if rng.random() < 0.5] or own[:1]
        other = sents[int(rng.integers(len(records)))]
        extra = [other[int(rng.integers(len(other)))] for _ in range(2)] if other else []
        body = keep + extra
        rng.shuffle(body)
        out.append(records[j]["title"] + "\n" + " ".join(body))
    return out


def synth_vectors(base: np.ndarray, n: int, seed: int = 0, noise: float = 0.025) -> np.ndarray:
    """Page ``i``: ``base[i mod len(base)]`` plus noise, unit norm (cosine ~0.9 to its source)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 10_000):
        idx = np.arange(start, min(n, start + 10_000)) % len(base)
        v = base[idx] + rng.normal(0.0, noise, (len(idx), base.shape[1])).astype(np.float32)
        out[start : start + len(idx)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def build_or_load(folder: Path, n: int, factory: str) -> tuple[Any, Any, float]:
    """The BM25 and FAISS indexes of the synthetic world (built once, then loaded)."""
    from lite_world.demo import ensure_demo_world
    from lite_world.index.dense import DenseIndex
    from lite_world.index.sparse import BM25Index
    from lite_world.store.lmdb_store import PageStore

    sub = f"index_{factory.lower()}"
    t0 = time.perf_counter()
    bm25_dir = folder / "index_bm25"
    if (folder / sub / "dense.json").is_file() and (bm25_dir / "bm25").is_dir():
        return (
            BM25Index.load(folder, index_dir="index_bm25"),
            DenseIndex.load(folder, index_dir=sub),
            0.0,
        )
    world = ensure_demo_world()
    with PageStore(world) as store:
        records = list(store.iter_records())
    base = np.fromfile(world / "index" / "embeddings.f32", dtype=np.float32)
    base = base.reshape(-1, 384)[: len(records)]
    if not (bm25_dir / "bm25").is_dir():
        texts = synth_pages(records, n)
        print(f"BM25 over {n} pages ({sum(map(len, texts)) / n:.0f} chars each)...", flush=True)
        BM25Index.build(texts, show_progress=True).save(folder, index_dir="index_bm25")
        del texts
    print(f"FAISS {factory} over {n} vectors...", flush=True)
    DenseIndex.build(synth_vectors(base, n), factory).save(folder, index_dir=sub)
    built = time.perf_counter() - t0
    return (
        BM25Index.load(folder, index_dir="index_bm25"),
        DenseIndex.load(folder, index_dir=sub),
        built,
    )


def novel_queries(n: int) -> list[str]:
    """Real questions made new: demo question + a demo page title (distinct, seeded)."""
    from lite_world.demo import ensure_demo_world
    from lite_world.store.lmdb_store import PageStore
    from lite_world.tasks import demo_tasks

    qs = [t.question for t in demo_tasks()]
    with PageStore(ensure_demo_world()) as store:
        titles = [r["title"] for r in store.iter_records()]
    rng = np.random.default_rng(1)
    picks = rng.permutation(len(titles))
    return [f"{qs[i % len(qs)]} {titles[picks[i]]}" for i in range(n)]


def measure(sparse: Any, dense: Any, queries: list[str], k: int) -> dict[str, Any]:
    """Cache-miss hybrid searches, one query per call, with the time of each part."""
    from lite_world.index.embedder import get_embedder
    from lite_world.index.searcher import Searcher

    encoder = get_embedder(num_threads=1)
    searcher = Searcher(dense, sparse, encoder, mode="hybrid")
    parts: dict[str, list[float]] = {"encode": [], "faiss": [], "bm25": []}

    def timed(name: str, fn: Any) -> Any:
        def call(*args: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            out = fn(*args, **kw)
            parts[name].append(time.perf_counter() - t)
            return out

        return call

    searcher.embedder = type("Timed", (), {"encode": staticmethod(timed("encode", encoder.encode)),
                                           "name": encoder.name, "dim": encoder.dim})()  # fmt: skip
    searcher.dense = type(
        "TimedDense", (), {"search": staticmethod(timed("faiss", dense.search))}
    )()
    searcher.sparse = type(
        "TimedBM25", (), {"search": staticmethod(timed("bm25", sparse.search))}
    )()
    for q in ("warm up the encoder", "warm up bm25 numba", "and faiss"):
        searcher.search([q], k)
    for v in parts.values():
        v.clear()
    total, cpu = [], []
    for q in queries:
        t, c = time.perf_counter(), time.process_time()
        searcher.search([q], k)
        total.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    hits = searcher.cache_stats()["result"]
    return {"total": summarize(total), "total_cpu": summarize(cpu),
            **{p: summarize(v) for p, v in parts.items()},
            "result_cache": hits, "encoder": getattr(encoder, "config", None) and
            encoder.config.key}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=300, help="novel queries measured per index")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--factories", default="Flat,HNSW32")
    p.add_argument("--cpu", type=int, default=0, help="pin to this core (-1: do not pin)")
    p.add_argument(
        "--encoder",
        default="default",
        help="LITE_WORLD_ENCODER_BACKEND for the query encoder ('default': the world's default)",
    )
    p.add_argument("--tag", default="", help="suffix of the result file name")
    a = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if a.encoder != "default":
        os.environ["LITE_WORLD_ENCODER_BACKEND"] = a.encoder
    if a.cpu >= 0:
        os.sched_setaffinity(0, {a.cpu})
    folder = CACHE_DIR / f"scale_{a.pages}"
    folder.mkdir(parents=True, exist_ok=True)
    queries = novel_queries(a.queries * 2)
    rows, runs = [], {}
    for i, factory in enumerate(a.factories.split(",")):
        sparse, dense, built = build_or_load(folder, a.pages, factory)
        qs = queries[i * a.queries : (i + 1) * a.queries] if i < 2 else queries[: a.queries]
        r = measure(sparse, dense, qs, a.k)
        r.update(built_s=built, loadavg=os.getloadavg(), pages=dense.ntotal,
                 bm25_backend=sparse.retriever.backend)  # fmt: skip
        runs[factory] = r
        rows.append({"index": factory, "encoder": r["encoder"],
                     **{f"{part} p50": r[part]["p50_ms"]
                        for part in ("total", "total_cpu", "encode", "faiss", "bm25")},
                     "total p90": r["total"]["p90_ms"], "total p99": r["total"]["p99_ms"],
                     "loadavg": tuple(round(x, 2) for x in r["loadavg"])})  # fmt: skip
        print(table(rows[-1:], list(rows[-1])), flush=True)
    print(table(rows, list(rows[0])))
    cpus = sorted(os.sched_getaffinity(0))
    name = NAME if a.encoder == "default" else f"{NAME}_{a.encoder.replace('/', '_')}"
    name += f"_{a.tag}" if a.tag else ""
    print(write_result(name, {"args": vars(a), "cpus": cpus, "nice": os.nice(0), "runs": runs,
                              "rows": rows,
                              "world": "latency-only: real text recombined, vectors not the "
                              "model's (see the module docstring)",
                              "goal_p50_ms": 15.0}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
