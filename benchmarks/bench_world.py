"""World-core benchmark: build rate per stage, search / browse latency, RSS and ANN recall.

Two worlds:

(a) the bundled demo world (~7.8k Wikipedia pages, real MiniLM vectors), via
    :func:`lite_world.demo.ensure_demo_world` (set ``LITE_WORLD_CACHE`` to keep it);
(b) a synthetic world of ``--pages`` pages (default 100k) made of real corpus words, embedded by
    the fast :class:`benchmarks._synthetic.HashEmbedder` (named like MiniLM, dim 384) so the world
    opens with the *real* MiniLM query encoder: cache-miss latency is realistic, dense relevance is not.

Measured per world: search latency (``World.search([q], k=10)``, one query per call) cache-miss
(unique queries) and cache-hit (the same queries again) for hybrid / dense / sparse, the
``SearchTool`` call, a component breakdown of a hybrid miss, browse latency (``VisitTool`` with a
goal, random existing URLs), process RSS. On the synthetic world also: build rate per stage, and
Flat vs HNSW vs IVF per-query latency and recall@10 against exact search, with held-out query
vectors from the same distribution. Each phase runs in a fresh process, so RSS figures are its own.

Usage:
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_world                  # full: demo + 100k synthetic
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_world --quick          # 20k pages, fewer queries
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_world --skip-demo --pages 50000 --threads 1
    HF_HUB_OFFLINE=1 python -m benchmarks.bench_world --demo-build --skip-demo --skip-synthetic   # build stages only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    CACHE_DIR,
    Deadline,
    plot_latency,
    rss_mb,
    summarize,
    table,
    time_calls,
    write_result,
)

NAME = "bench_world"
TARGETS = {"search_miss_p50_ms": 15.0, "search_hit_p50_ms": 0.5, "browse_p50_ms": 3.0}


# -- helpers -----------------------------------------------------------------
def _in_child(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` in a fresh spawned process (clean RSS, no shared caches)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as ex:
        return ex.submit(fn, *args).result()


@contextlib.contextmanager
def stage_timer() -> Iterator[dict[str, float]]:
    """Time the stages of :func:`lite_world.build.build_world` by wrapping the functions it calls."""
    import lite_world.build as build
    from lite_world.index.dense import DenseIndex
    from lite_world.index.sparse import BM25Index

    times: dict[str, float] = {}

    def timed(key: str, fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t

        return wrapper

    saved_mod = {n: getattr(build, n) for n in ("ingest", "embed_pages", "get_embedder")}
    saved_cls = [(c, n, c.__dict__[n]) for c in (DenseIndex, BM25Index) for n in ("build", "save")]
    try:
        build.ingest = timed("ingest", saved_mod["ingest"])
        build.embed_pages = timed("embed", saved_mod["embed_pages"])
        build.get_embedder = timed("load_embedder", saved_mod["get_embedder"])
        for c, n, attr in saved_cls:
            key = ("dense_" if c is DenseIndex else "bm25_") + n
            if isinstance(attr, classmethod):
                setattr(c, n, classmethod(timed(key, attr.__func__)))
            else:
                setattr(c, n, timed(key, attr))
        yield times
    finally:
        for n, f in saved_mod.items():
            setattr(build, n, f)
        for c, n, attr in saved_cls:
            setattr(c, n, attr)


def _dir_bytes(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _sizes(world: Path) -> dict[str, float]:
    mb = 1 << 20
    return {
        "pages_lmdb_mb": round(_dir_bytes(world / "pages.lmdb") / mb, 1),
        "dense_faiss_mb": round(_dir_bytes(world / "index" / "dense.faiss") / mb, 1),
        "embeddings_mb": round(_dir_bytes(world / "index" / "embeddings.f32") / mb, 1),
        "bm25_mb": round(_dir_bytes(world / "index" / "bm25") / mb, 1),
    }


def _build_report(times: dict[str, float], n: int, total: float) -> dict[str, Any]:
    stages = {
        "ingest": times.get("ingest", 0.0),
        "embed": times.get("embed", 0.0),
        "dense_index": times.get("dense_build", 0.0) + times.get("dense_save", 0.0),
        "bm25": times.get("bm25_build", 0.0) + times.get("bm25_save", 0.0),
    }
    stages["other"] = max(0.0, total - sum(stages.values()) - times.get("load_embedder", 0.0))
    out: dict[str, Any] = {
        "pages": n,
        "total_s": round(total, 2),
        "total_pages_per_s": round(n / total, 1),
    }
    out["stages"] = {
        k: {"s": round(v, 2), "pages_per_s": round(n / v, 1) if v > 0 else None}
        for k, v in stages.items()
    }
    out["raw_times_s"] = {k: round(v, 3) for k, v in times.items()}
    return out


# -- queries -----------------------------------------------------------------
def demo_queries() -> list[str]:
    """Unique natural queries for the demo world: MuSiQue questions, their resolved sub-questions, titles."""
    from lite_world.demo import DEMO_DATA, DEMO_SOURCES

    out: dict[str, None] = {}
    items = json.loads((DEMO_DATA / "musique_train.json").read_text())
    for it in items:
        out[it["question"].strip()] = None
    for it in items:
        answers = [d.get("answer", "") for d in it.get("question_decomposition") or []]
        for d in it.get("question_decomposition") or []:
            q = d.get("question", "")
            for j, a in enumerate(answers, 1):
                q = q.replace(f"#{j}", a)
            if "#" not in q and q.strip():
                out[q.strip()] = None
    rng = np.random.default_rng(3)
    titles: list[str] = []
    for name in DEMO_SOURCES:
        titles += list(
            dict.fromkeys(
                str(p.get("title", "")).strip() for p in json.loads((DEMO_DATA / name).read_text())
            )
        )
    forms = (
        "{}",
        "what is {}",
        "{} history",
        "who founded {}",
        "{} location",
        "when was {} created",
    )
    for t in rng.permutation(np.array([t for t in titles if t], dtype=object)):
        out[forms[int(rng.integers(len(forms)))].format(t)] = None
    return list(out)


# -- phases (each in its own process) ----------------------------------------
def phase_synthetic_build(n: int, seed: int, rebuild: bool) -> dict[str, Any]:
    """Generate ``n`` synthetic pages (cached JSONL) and build the world with per-stage timers."""
    import logging

    logging.getLogger("lite_world").setLevel(logging.WARNING)
    from benchmarks._synthetic import HashEmbedder, PageGenerator, write_jsonl
    from lite_world.build import BuildConfig, build_world

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    jsonl = CACHE_DIR / f"synthetic-{n}-s{seed}.jsonl"
    world = CACHE_DIR / f"world-synthetic-{n}-s{seed}"
    report_path = world / "bench_build.json"
    if not rebuild and (world / "manifest.json").is_file() and report_path.is_file():
        rep = json.loads(report_path.read_text())
        rep["cached"] = True
        return rep
    gen_s = None
    if not jsonl.is_file():
        t = time.perf_counter()
        write_jsonl(
            jsonl,
            (
                {k: r[k] for k in ("url", "title", "text")}
                for r in PageGenerator(seed=seed).rows(
                    n, min_chars=1000, max_chars=3000, seed=seed + 1
                )
            ),
        )
        gen_s = time.perf_counter() - t
    shutil.rmtree(world, ignore_errors=True)
    emb = HashEmbedder()
    cfg = BuildConfig(min_chars=500, show_progress=False)
    with stage_timer() as times:
        t = time.perf_counter()
        manifest = build_world([jsonl], world, cfg, embedder=emb)
        total = time.perf_counter() - t
    rep = _build_report(times, manifest.page_count, total)
    rep.update(
        world=str(world),
        index_factory=manifest.index_factory,
        index_params=manifest.index_params,
        generate_s=round(gen_s, 2) if gen_s else None,
        jsonl_mb=round(jsonl.stat().st_size / (1 << 20), 1),
        sizes=_sizes(world),
        build_peak_rss_mb=rss_mb().get("peak_rss_mb"),
        cached=False,
    )
    report_path.write_text(json.dumps(rep, indent=2))
    return rep


def phase_demo_build() -> dict[str, Any]:
    """Build a fresh copy of the demo world (real MiniLM on CPU) with per-stage timers."""
    import logging

    logging.getLogger("lite_world").setLevel(logging.WARNING)
    from lite_world.build import BuildConfig, build_world
    from lite_world.demo import DEMO_DATA, DEMO_MIN_CHARS, DEMO_SOURCES

    world = CACHE_DIR / "world-demo-build"
    shutil.rmtree(world, ignore_errors=True)
    with stage_timer() as times:
        t = time.perf_counter()
        m = build_world(
            [DEMO_DATA / s for s in DEMO_SOURCES],
            world,
            BuildConfig(min_chars=DEMO_MIN_CHARS, show_progress=False),
        )
        total = time.perf_counter() - t
    rep = _build_report(times, m.page_count, total)
    rep.update(
        index_factory=m.index_factory,
        sizes=_sizes(world),
        build_peak_rss_mb=rss_mb().get("peak_rss_mb"),
    )
    shutil.rmtree(world, ignore_errors=True)
    return rep


def phase_queries(
    world_path: str, queries: list[str], threads: list[int], n: int, n_browse: int, budget_s: float
) -> dict[str, Any]:
    """Search / browse latency on one world, in a fresh process.

    ``queries`` must be unique and numerous enough: every (thread count, mode) draws its own
    slice so cache-miss figures never hit a cache.
    """
    import logging

    logging.getLogger("lite_world").setLevel(logging.WARNING)
    import torch

    from lite_world.index.fusion import rrf
    from lite_world.index.searcher import SearchConfig
    from lite_world.tools.search import SearchTool
    from lite_world.tools.text import best_snippet
    from lite_world.tools.visit import VisitTool
    from lite_world.world import World

    out: dict[str, Any] = {
        "world": world_path,
        "rss": {"start": rss_mb()},
        "latency": {},
        "samples": {},
    }
    out["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    qiter = iter(queries)

    def take(m: int) -> list[str]:
        got = [q for _, q in zip(range(m), qiter, strict=False)]
        if len(got) < m:
            raise SystemExit(f"not enough unique queries: need {m} more, have {len(got)}")
        return got

    torch.set_num_threads(threads[0])
    worlds: dict[str, World] = {}
    open_s: dict[str, float] = {}
    for mode in ("hybrid", "dense", "sparse"):
        t = time.perf_counter()
        w = World(world_path, search=SearchConfig(mode=mode))
        for q in take(3):  # first calls load indexes, the model, JIT-compile numba
            w.search([q], k=10)
        open_s[mode] = round(time.perf_counter() - t, 2)
        worlds[mode] = w
        if mode == "hybrid":
            out["rss"]["hybrid_world_open"] = rss_mb()
    out["open_and_warm_s"] = open_s
    out["pages"] = len(worlds["hybrid"])
    out["index_factory"] = worlds["hybrid"].manifest.index_factory
    out["bm25_backend"] = getattr(worlds["hybrid"].searcher.sparse.retriever, "backend", "?")
    deadline = Deadline(budget_s * 0.7)
    per_loop = budget_s * 0.1
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}

    def timed(key: str, fn: Any, arg: Any, per: int = 1) -> None:
        c, t = time.process_time(), time.perf_counter()
        fn(arg)
        wall.setdefault(key, []).append((time.perf_counter() - t) / per)
        cpu.setdefault(key, []).append((time.process_time() - c) / per)

    # Interleaved blocks of B queries: every series sees the same mix of quiet and busy moments
    # on a shared machine. A block runs each query once (miss) then again (hit).
    B = 10
    tool = SearchTool(worlds["hybrid"])
    for _ in range(max(1, n // B)):
        for i, nt in enumerate(threads):
            torch.set_num_threads(nt)
            modes = (
                ("hybrid", "dense", "sparse") if i == 0 else ("hybrid", "dense")
            )  # sparse ignores torch threads
            for mode in modes:
                w = worlds[mode]
                qs = take(B)
                for q in qs:
                    timed(f"{mode}/miss/t{nt}", lambda x, w=w: w.search([x], k=10), q)
                for q in qs:
                    timed(f"{mode}/hit/t{nt}", lambda x, w=w: w.search([x], k=10), q)
            qs = take(B)
            for q in qs:
                timed(f"tool/miss/t{nt}", tool.search, q)
            for q in qs:
                timed(f"tool/hit/t{nt}", tool.search, q)
            # batched: 10 queries in one call (the tool's maximum), cost per query
            timed(
                f"hybrid/miss-batch10-per-query/t{nt}",
                lambda b: worlds["hybrid"].search(b, k=10),
                take(B),
                per=B,
            )
        if not deadline:
            break
    for key in wall:
        out["samples"][key] = wall[key]
        out["latency"][key] = {**summarize(wall[key]), "cpu_p50_ms": summarize(cpu[key])["p50_ms"]}

    def record(key: str, secs: tuple[list[float], list[float]]) -> None:
        out["samples"][key] = secs[0]
        out["latency"][key] = {**summarize(secs[0]), "cpu_p50_ms": summarize(secs[1])["p50_ms"]}

    # component breakdown of a hybrid cache miss (threads[0])
    torch.set_num_threads(threads[0])
    w = worlds["hybrid"]
    s = w.searcher
    comp: dict[str, list[float]] = {
        k: [] for k in ("encode", "dense_ann", "bm25", "rrf", "lmdb_get10", "snippets10")
    }
    deadline = Deadline(per_loop * 2)
    for q in take(min(n, 150)):
        t0 = time.perf_counter()
        v = s.embedder.encode([q])
        t1 = time.perf_counter()
        d = s.dense.search(v, s.config.pool)
        t2 = time.perf_counter()
        sp = s.sparse.search([q], s.config.pool)
        t3 = time.perf_counter()
        ids, _ = rrf(d[0], sp[0], k=s.config.pool, rrf_k=s.config.rrf_k)
        t4 = time.perf_counter()
        recs = w.store.get_many_by_id([i for i in ids[0, :10].tolist() if i >= 0])
        t5 = time.perf_counter()
        for r in recs:
            if r is not None:
                best_snippet(r["markdown"], q)
        t6 = time.perf_counter()
        for key, a, b in zip(
            comp, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6), strict=False
        ):
            comp[key].append(b - a)
        if not deadline:
            break
    out["breakdown_hybrid_miss"] = {k: summarize(v) for k, v in comp.items()}

    # browse: VisitTool with a goal on random existing URLs
    store = w.store
    rng = np.random.default_rng(11)
    rows = rng.choice(store.next_id, size=min(n_browse, store.next_id), replace=False)
    urls = [u for u in store.urls_of(rows.tolist()) if u]
    goals = take(len(urls))
    visit = VisitTool(w)
    pairs = list(zip(urls, goals, strict=False))
    record(
        "browse/visit", time_calls(lambda p: visit.visit(p[0], p[1]), pairs, max_seconds=per_loop)
    )
    record("browse/get_page", time_calls(lambda p: w.get_page(p[0]), pairs, max_seconds=per_loop))
    found = sum(visit.visit(u, g).error is None for u, g in pairs[:20])
    out["browse_found_of_20"] = found
    out["rss"]["end"] = rss_mb()
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out["cache_stats_hybrid"] = w.searcher.cache_stats()
    for ww in worlds.values():
        ww.close()
    return out


def phase_memory(world_path: str, n_queries: int) -> dict[str, Any]:
    """RSS after each piece a hybrid world loads (in a fresh process)."""
    import logging

    logging.getLogger("lite_world").setLevel(logging.WARNING)
    steps: list[dict[str, Any]] = [{"step": "python + numpy", **rss_mb()}]
    import torch

    torch.set_num_threads(1)
    from lite_world.index.dense import DenseIndex
    from lite_world.index.embedder import get_embedder
    from lite_world.index.searcher import Searcher
    from lite_world.index.sparse import BM25Index
    from lite_world.world import World

    steps.append({"step": "import torch, faiss, lite_world", **rss_mb()})
    emb = get_embedder()
    steps.append({"step": "+ MiniLM encoder", **rss_mb()})
    dense = DenseIndex.load(world_path)
    steps.append({"step": f"+ dense index ({dense.factory})", **rss_mb()})
    sparse = BM25Index.load(world_path)
    steps.append({"step": "+ BM25 index (mmap)", **rss_mb()})
    from benchmarks._synthetic import PageGenerator

    qs = PageGenerator().queries(n_queries + 1, seed=12345)
    s = Searcher(dense, sparse, emb)
    s.search(qs[:1], 10)
    steps.append({"step": "+ first hybrid search (JIT, page-ins)", **rss_mb()})
    for q in qs[1:]:
        s.search([q], 10)
    steps.append({"step": f"+ {n_queries} more searches", **rss_mb()})
    w = World(world_path)
    _ = (
        w.store
    )  # opening the store resets the searcher: open it first, then hand over the loaded one
    w._searcher = s  # reuse the loaded pieces; only the page store and snippet cache are new
    for q in qs[1:]:
        w.search([q], 10)
    steps.append({"step": "+ World (LMDB, snippets) same queries", **rss_mb()})
    return {"steps": steps, "bm25_backend": getattr(sparse.retriever, "backend", "?")}


def phase_text_scaling(sizes_kb: list[int], reps: int) -> dict[str, Any]:
    """CPU cost of the per-result snippet and of the extractive browse summary vs page size.

    Demo pages are ~1 KB and the synthetic ones ~2 KB, but crawled web pages are often 5–50 KB
    of Markdown: the cost of these linear-time text functions decides browse latency there.
    """
    from benchmarks._synthetic import PageGenerator
    from lite_world.store.page import Page
    from lite_world.tools.summarize import ExtractiveSummarizer
    from lite_world.tools.text import best_snippet

    gen = PageGenerator()
    rng = np.random.default_rng(5)
    goals = gen.queries(reps, seed=77)
    summ = ExtractiveSummarizer()
    rows = []
    for kb in sizes_kb:
        body = gen.page(rng, int(rng.integers(len(gen.topics))), kb * 1024)
        page = Page.create(
            "https://synthetic.lite-world/scaling", "Scaling", f"# Scaling\n\n{body}"
        )
        _, snip = time_calls(lambda g, page=page: best_snippet(page.markdown, g), goals)
        _, vis = time_calls(lambda g, page=page: summ(page, g), goals)
        rows.append(
            {
                "kb": kb,
                "snippet_cpu_p50_ms": summarize(snip)["p50_ms"],
                "search_10_snippets_ms": round(10 * summarize(snip)["p50_ms"], 3),
                "browse_summary_cpu_p50_ms": summarize(vis)["p50_ms"],
            }
        )
    return {"rows": rows, "reps": reps}


def phase_ann(
    world_path: str,
    n_queries: int,
    seed: int,
    budget_s: float,
    pq: bool = False,
    real_queries: list[str] | None = None,
) -> dict[str, Any]:
    """Flat vs HNSW vs IVF on a world's vectors: per-query latency and recall@10 vs exact search.

    Query vectors are held-out synthetic pages embedded like the index (``HashEmbedder``), or,
    with ``real_queries``, those texts encoded by the real MiniLM (for the demo world).
    """
    import faiss

    from benchmarks._synthetic import HashEmbedder, PageGenerator
    from lite_world.index.dense import DenseIndex
    from lite_world.store.page import make_summary

    world = Path(world_path)
    meta = json.loads((world / "index" / "embeddings.json").read_text())
    vecs = np.array(
        np.memmap(
            world / "index" / "embeddings.f32",
            dtype=np.float32,
            mode="r",
            shape=(meta["rows"], meta["dim"]),
        )
    )
    if real_queries:
        import torch

        from lite_world.index.embedder import get_embedder

        torch.set_num_threads(1)
        qv = get_embedder().encode(real_queries[:n_queries])
        n_queries = len(qv)
    else:
        # held-out queries: new pages from the same topics, embedded like the index (title + summary)
        rows = PageGenerator(seed=seed).rows(
            n_queries, min_chars=1000, max_chars=3000, seed=seed + 99, host="heldout.example"
        )
        qv = HashEmbedder().encode([make_summary(r["title"], r["text"]) for r in rows])
    out: dict[str, Any] = {
        "n": int(vecs.shape[0]),
        "queries": n_queries,
        "omp_threads": faiss.omp_get_max_threads(),
        "indexes": {},
    }
    samples: dict[str, list[float]] = {}
    t = time.perf_counter()
    flat = DenseIndex.build(vecs, "Flat")
    flat_build = time.perf_counter() - t
    exact, _ = flat.search(qv, 10)
    world_factory = json.loads((world / "index" / "dense.json").read_text())["factory"]
    n = int(vecs.shape[0])
    nlist = (
        1024 if n >= 60_000 else max(16, int(4 * n**0.5))
    )  # ~4·sqrt(n), 1024 at 100k as in perf-baseline
    specs = [
        ("Flat", "Flat", {}),
        ("HNSW32 ef64", "HNSW32", {"efSearch": 64}),
        ("HNSW32 ef128 (default)", "HNSW32", {"efSearch": 128}),
        (f"IVF{nlist},Flat np16", f"IVF{nlist},Flat", {"nprobe": 16}),
        (f"IVF{nlist},Flat np32 (default)", f"IVF{nlist},Flat", {"nprobe": 32}),
    ]
    if (
        pq and n >= 50_000
    ):  # PQ needs >= 9,984 training points per sub-quantizer; at 1M+ the auto factory is IVF-PQ-Refine
        specs.append(
            (
                f"IVF{nlist},PQ48,Refine(SQ8) np32",
                f"IVF{nlist},PQ48,Refine(SQ8)",
                {"nprobe": 32, "k_factor": 4},
            )
        )
    built: dict[str, tuple[Any, float]] = {"Flat": (flat.index, flat_build)}
    per_loop = budget_s / (len(specs) + 1)
    for label, factory, params in specs:
        if factory not in built:
            if factory == world_factory:
                t = time.perf_counter()
                idx = DenseIndex.load(world).index
                built[factory] = (
                    idx,
                    float("nan"),
                )  # built during the world build (see build stages)
            else:
                t = time.perf_counter()
                idx = DenseIndex.build(vecs, factory).index
                built[factory] = (idx, time.perf_counter() - t)
        index, build_s = built[factory]
        di = DenseIndex(index, factory, params, use_gpu=False)
        ids, _ = di.search(qv, 10)
        recall = float(
            np.mean(
                [
                    len(set(a.tolist()) & set(b.tolist())) / 10
                    for a, b in zip(ids, exact, strict=False)
                ]
            )
        )
        secs, cpus = time_calls(
            lambda i, di=di: di.search(qv[i : i + 1], 10), range(len(qv)), max_seconds=per_loop
        )
        t = time.perf_counter()
        di.search(qv, 10)
        batch_qps = len(qv) / (time.perf_counter() - t)
        samples[label] = secs
        out["indexes"][label] = {
            **summarize(secs),
            "cpu_p50_ms": summarize(cpus)["p50_ms"],
            "recall@10": round(recall, 4),
            "build_s": None if build_s != build_s else round(build_s, 1),
            "batch_qps": round(batch_qps),
        }
    out["world_factory"] = world_factory
    out["samples"] = samples
    return out


# -- reporting ---------------------------------------------------------------
def _latency_rows(q: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, s in q["latency"].items():
        rows.append(
            {
                "what": key,
                "n": s.get("n"),
                "p50 ms": s.get("p50_ms"),
                "p90 ms": s.get("p90_ms"),
                "p99 ms": s.get("p99_ms"),
                "cpu p50 ms": s.get("cpu_p50_ms"),
            }
        )
    return rows


def _print_queries(title: str, q: dict[str, Any]) -> None:
    print(
        f"\n== {title}: {q['pages']} pages, index {q['index_factory']}, bm25 backend {q['bm25_backend']} =="
    )
    print(table(_latency_rows(q), ["what", "n", "p50 ms", "p90 ms", "p99 ms", "cpu p50 ms"]))
    b = q["breakdown_hybrid_miss"]
    print(
        "hybrid miss breakdown p50 ms: "
        + ", ".join(f"{k} {v.get('p50_ms', float('nan')):.3g}" for k, v in b.items())
    )
    print(
        f"RSS MiB: {q['rss']}  open+warm s: {q['open_and_warm_s']}  loadavg {q['loadavg_start']} -> {q['loadavg_end']}"
    )


def _print_build(title: str, b: dict[str, Any]) -> None:
    rows = [{"stage": k, "s": v["s"], "pages/s": v["pages_per_s"]} for k, v in b["stages"].items()]
    rows.append({"stage": "TOTAL", "s": b["total_s"], "pages/s": b["total_pages_per_s"]})
    cached = " (cached from an earlier run)" if b.get("cached") else ""
    print(f"\n== {title}: build {b['pages']} pages{cached}, index {b.get('index_factory')} ==")
    print(table(rows, ["stage", "s", "pages/s"]))
    if b.get("sizes"):
        print(f"sizes MiB: {b['sizes']}  build peak RSS MiB: {b.get('build_peak_rss_mb')}")


def _print_ann(a: dict[str, Any], what: str) -> None:
    print(
        f"\n== ANN at {a['n']} vectors ({what}), batch-1 search, {a['queries']} queries; world uses {a['world_factory']} =="
    )
    rows = [
        {
            "index": k,
            "build s": v["build_s"],
            "p50 ms": v["p50_ms"],
            "p99 ms": v["p99_ms"],
            "cpu p50 ms": v["cpu_p50_ms"],
            "batch q/s": v["batch_qps"],
            "recall@10": v["recall@10"],
        }
        for k, v in a["indexes"].items()
    ]
    print(
        table(
            rows, ["index", "build s", "p50 ms", "p99 ms", "cpu p50 ms", "batch q/s", "recall@10"]
        )
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_world", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--pages", type=int, default=100_000, help="synthetic world size")
    ap.add_argument("--queries", type=int, default=200, help="queries per latency series")
    ap.add_argument("--browse", type=int, default=300, help="browse calls")
    ap.add_argument(
        "--ann-queries", type=int, default=1000, help="held-out query vectors for recall@10"
    )
    ap.add_argument(
        "--threads",
        type=str,
        default="1,2",
        help="torch threads for query encoding, comma-separated",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--budget",
        type=float,
        default=240.0,
        help="seconds of measuring per world (loops stop early)",
    )
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument(
        "--demo-build",
        action="store_true",
        help="time a fresh demo-world build (real MiniLM on CPU, ~5-10 min) into results/bench_world_demo_build.json",
    )
    ap.add_argument(
        "--rebuild", action="store_true", help="rebuild the synthetic world even if cached"
    )
    ap.add_argument(
        "--ann-pq",
        action="store_true",
        help="also build IVF-PQ-Refine (the >2M default; minutes to train)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="20k pages, 60 queries, 1 thread, 300 ANN queries"
    )
    args = ap.parse_args(argv)
    name = NAME + ("_quick" if args.quick else "")  # quick runs never overwrite the full results
    if args.quick:
        args.pages, args.queries, args.browse, args.ann_queries = (
            min(args.pages, 20_000),
            60,
            100,
            300,
        )
        args.threads, args.budget = "1", min(args.budget, 90.0)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    res: dict[str, Any] = {"config": vars(args), "targets": TARGETS}
    need = (
        sum((5 if i == 0 else 4) * args.queries + 10 for i in range(len(threads))) * 11 // 10
        + 150
        + args.browse
        + 20
    )
    panels: dict[str, dict[str, list[float]]] = {}

    if args.demo_build:
        rep = _in_child(phase_demo_build)
        _print_build("demo world (fresh build, real MiniLM)", rep)
        write_result(name + "_demo_build", {"demo_build": rep})
        if args.skip_demo and args.skip_synthetic:
            return {"demo_build": rep}

    if not args.skip_demo:
        from lite_world.demo import ensure_demo_world

        t = time.perf_counter()
        demo = ensure_demo_world(show_progress=False)
        res["demo_open_s"] = round(time.perf_counter() - t, 1)
        manifest = json.loads((demo / "manifest.json").read_text())
        res["demo_manifest"] = {
            k: manifest.get(k) for k in ("page_count", "index_factory", "build_seconds")
        }
        qs = demo_queries()
        if len(qs) < need + args.ann_queries:
            raise SystemExit(
                f"demo has {len(qs)} unique queries, the settings need {need + args.ann_queries}: lower --queries"
            )
        q = _in_child(phase_queries, str(demo), qs, threads, args.queries, args.browse, args.budget)
        res["demo"] = q
        _print_queries("demo world", q)
        panels[f"demo world ({q['pages']} pages): search & browse"] = q.pop("samples")
        a = _in_child(
            phase_ann,
            str(demo),
            args.ann_queries,
            args.seed,
            args.budget / 4,
            False,
            qs[-args.ann_queries :],
        )
        a.pop("samples")
        res["demo_ann"] = a
        _print_ann(a, "real MiniLM vectors of the demo pages, MiniLM-encoded demo queries")

    if not args.skip_synthetic:
        from benchmarks._synthetic import PageGenerator

        b = _in_child(phase_synthetic_build, args.pages, args.seed, args.rebuild)
        res["synthetic_build"] = b
        _print_build("synthetic world", b)
        qs = PageGenerator(seed=args.seed).queries(need, seed=args.seed + 7)
        q = _in_child(
            phase_queries, b["world"], qs, threads, args.queries, args.browse, args.budget
        )
        res["synthetic"] = q
        _print_queries("synthetic world", q)
        panels[f"synthetic world ({q['pages']} pages): search & browse"] = q.pop("samples")
        m = _in_child(phase_memory, b["world"], min(args.queries, 100))
        res["synthetic_memory"] = m
        print(
            f"\n== RSS of a hybrid world at {b['pages']} pages (MiB; BM25 backend {m['bm25_backend']}) =="
        )
        print(table(m["steps"], ["step", "rss_mb", "anon_mb", "file_mb", "peak_rss_mb"]))
        a = _in_child(
            phase_ann, b["world"], args.ann_queries, args.seed, args.budget / 2, args.ann_pq
        )
        res["ann"] = a
        _print_ann(a, "HashEmbedder vectors, held-out synthetic pages as queries")
        panels[f"dense index alone, {a['n']} vectors (batch 1)"] = a.pop("samples")

    ts = phase_text_scaling([1, 2, 4, 8, 16, 32, 64], 30 if args.quick else 100)
    res["text_scaling"] = ts
    print("\n== per-result snippet and browse summary, CPU ms vs page size (Markdown KB) ==")
    print(
        table(
            ts["rows"],
            ["kb", "snippet_cpu_p50_ms", "search_10_snippets_ms", "browse_summary_cpu_p50_ms"],
        )
    )

    path = write_result(name, res)
    png = plot_latency(
        name, panels, title="lite-world core latency (2 shared CPU cores; medians are noisy)"
    )
    print(f"\nwrote {path} and {png}")
    return res


if __name__ == "__main__":
    main()
